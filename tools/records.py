"""Execution records: where and when a chapter's stored outputs were computed.

``make execute`` runs a chapter in full mode from an empty cache and stores a record in
the notebook's metadata under ``vaebook``: date, device, versions, seconds, a speed
index of the machine, the cache it started from, and a hash of the code cells. The
outputs are *fresh* while the code cells hash the same: a prose edit changes nothing,
a code edit makes them stale. Standard library only, so the book's Sphinx extensions
read records without importing torch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

KEY = "vaebook"
HELPERS_DIR = Path(__file__).resolve().parents[1] / "helpers"


def _digest(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part + b"\n\x00\n")
    return "sha256:" + digest.hexdigest()[:16]


def code_hash(notebook: dict[str, Any]) -> str:
    """A hash of a notebook's code cells, in order; outputs and prose don't count.

    Example:
        >>> cell = {"cell_type": "code", "source": "x = 1"}
        >>> prose = {"cell_type": "markdown", "source": "Some text"}
        >>> code_hash({"cells": [cell]}) == code_hash({"cells": [prose, cell]})
        True
    """
    sources = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    return _digest(["".join(s).encode() for s in sources])


def helpers_hash(folder: Path = HELPERS_DIR) -> str:
    """A hash of every ``.py`` file in ``helpers/`` (names and contents).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.py").write_text("x = 1")
        >>> before = helpers_hash(folder)
        >>> _ = (folder / "a.py").write_text("x = 2")
        >>> helpers_hash(folder) == before
        False
    """
    files = sorted(folder.glob("*.py"))
    return _digest([p.name.encode() + b"\x00" + p.read_bytes() for p in files])


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook as plain JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def record_of(notebook: dict[str, Any]) -> dict[str, Any] | None:
    """The execution record in a notebook's metadata, or None."""
    return notebook.get("metadata", {}).get(KEY)


def status(notebook: dict[str, Any]) -> str:
    """``"fresh"``, ``"stale"`` (code changed), ``"short-run"`` or ``"missing"``.

    Example:
        >>> nb = {"cells": [{"cell_type": "code", "source": "x = 1"}], "metadata": {}}
        >>> status(nb)
        'missing'
        >>> nb["metadata"]["vaebook"] = {"mode": "full", "code_hash": code_hash(nb)}
        >>> status(nb)
        'fresh'
        >>> nb["cells"][0]["source"] = "x = 2"
        >>> status(nb)
        'stale'
    """
    record = record_of(notebook)
    if record is None:
        return "missing"
    if record.get("mode") != "full":
        return "short-run"  # must never be committed
    return "fresh" if record.get("code_hash") == code_hash(notebook) else "stale"


def has_outputs(notebook: dict[str, Any]) -> bool:
    """True if any code cell holds an output or an execution count."""
    return any(
        cell.get("outputs") or cell.get("execution_count") is not None
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    )


def cpu_cost(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record's cost on a CPU: seconds, device, threads, cache, speed index."""
    cost = record.get("costs", {}).get("cpu")
    if cost is None and record.get("device_type", "cpu") == "cpu":
        cost = record
    if cost is None:
        return None
    return {
        **cost,
        "cache": record.get("cache", "warm"),  # older records: cache unknown
        "speed_index": record.get("speed_index", {}).get("seconds"),
    }


def cost_sentence(record: dict[str, Any] | None) -> str:
    """What a chapter costs to run, in words, from its stored record.

    Example:
        >>> rec = {"seconds": 754.0, "device_type": "cpu", "cpu_threads": 2,
        ...        "device": "Intel Xeon", "cache": "cold",
        ...        "speed_index": {"seconds": 1.9}}
        >>> cost_sentence(rec).split("; ")
        ['about 13 minutes from an empty cache on a 2-core CPU (Intel Xeon, speed
        index 1.9 s)', 'on a GPU: not measured']
    """
    if record is None:
        return "not measured yet (this chapter has not been executed in full mode)"
    parts = []
    cpu = cpu_cost(record)
    if cpu:
        cache = "from an empty cache" if cpu["cache"] == "cold" else "with a warm cache"
        index = cpu["speed_index"]
        machine = cpu["device"] + (f", speed index {index:.1f} s" if index else "")
        threads = cpu.get("cpu_threads")
        where = f"a {threads}-core CPU" if threads else "a CPU"
        parts.append(f"{_about(cpu['seconds'])} {cache} on {where} ({machine})")
    else:
        parts.append("on a CPU: not measured")
    gpu = record.get("costs", {}).get("cuda")
    if gpu:
        parts.append(f"{_about(gpu['seconds'])} on a GPU ({gpu['device']})")
    else:
        parts.append("on a GPU: not measured")
    return "; ".join(parts)


def _about(seconds: float) -> str:
    minutes = seconds / 60.0
    if minutes < 1.5:
        return "about a minute" if minutes >= 0.5 else "under a minute"
    return f"about {round(minutes)} minutes"
