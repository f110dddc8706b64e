"""The book's settings, chapters and execution records; no torch: `_ext/` reads them.

``make execute`` stores a record of each chapter's run in its metadata (``vaebook``);
its outputs stay *fresh* until a code cell changes.
"""

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
KEY = "vaebook"
COLAB = "https://colab.research.google.com"


def config(path: Path = ROOT / "_config.yml") -> dict:
    """The book's ``_config.yml``."""
    return yaml.safe_load(Path(path).read_text())


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks, in order."""
    return sorted((Path(root) / "chapters").glob("[0-9][0-9]_*.ipynb"))


def colab_url(name: str, conf: dict | None = None) -> str:
    """Chapter ``name``'s Colab address, as jupyter-book's launch buttons make it."""
    conf = conf or config()
    repository, url = conf["repository"], conf["repository"]["url"].rstrip("/")
    if not url.startswith("https://github.com/"):
        raise ValueError(f"repository.url must be a GitHub URL, not {url!r}")
    base = conf.get("launch_buttons", {}).get("colab_url", COLAB)
    repo = url.removeprefix("https://github.com/").removesuffix(".git")
    folder = f"{repository.get('path_to_book', '').strip('/')}/chapters".lstrip("/")
    branch = repository.get("branch", "main")
    return f"{base.rstrip('/')}/github/{repo}/blob/{branch}/{folder}/{name}.ipynb"


def _digest(parts: Iterable[bytes]) -> str:
    joined = b"".join(part + b"\n\x00\n" for part in parts)
    return "sha256:" + hashlib.sha256(joined).hexdigest()[:16]


def code_hash(notebook: dict[str, Any]) -> str:
    """A hash of a notebook's code cells, in order; outputs and prose don't count."""
    code = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    return _digest("".join(source).encode() for source in code)


def helpers_hash(folder: Path = ROOT / "helpers") -> str:
    """A hash of every ``.py`` file in ``helpers/`` (names and contents)."""
    files = sorted(Path(folder).glob("*.py"))
    return _digest(p.name.encode() + b"\x00" + p.read_bytes() for p in files)


def record_of(notebook: dict[str, Any]) -> dict[str, Any] | None:
    """The execution record in a notebook's metadata, or None."""
    return notebook.get("metadata", {}).get(KEY)


def status(notebook: dict[str, Any]) -> str:
    """``"fresh"``, ``"stale"`` (code changed), ``"short-run"`` or ``"missing"``."""
    record = record_of(notebook)
    if record is None:
        return "missing"
    if record.get("mode") != "full":
        return "short-run"  # must never be committed
    return "fresh" if record.get("code_hash") == code_hash(notebook) else "stale"


def cpu_cost(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record's cost on a CPU: seconds, device, threads, speed index."""
    cost = record.get("costs", {}).get("cpu")
    if cost is None:
        return None
    return cost | {"speed_index": cost.get("speed_index", {}).get("seconds")}


def cost_sentence(record: dict[str, Any] | None) -> str:
    """What a chapter costs to run, in words, from its stored record."""
    if record is None:
        return "not measured yet (this chapter has not been executed in full mode)"
    cpu, gpu = cpu_cost(record), record.get("costs", {}).get("cuda")
    parts = ["on a CPU: not measured", "on a GPU: not measured"]
    if cpu:
        index, threads = cpu["speed_index"], cpu.get("cpu_threads")
        machine = cpu["device"] + (f", speed index {index:.1f} s" if index else "")
        where = f"on a {threads}-core CPU" if threads else "on a CPU"
        parts[0] = f"{_about(cpu['seconds'])} from an empty cache {where} ({machine})"
    if gpu:
        parts[1] = f"{_about(gpu['seconds'])} on a GPU ({gpu['device']})"
    return "; ".join(parts)


def _about(seconds: float) -> str:
    if seconds >= 90:
        return f"about {round(seconds / 60)} minutes"
    return "about a minute" if seconds >= 30 else "under a minute"
