"""Execution records: where and when a chapter's stored outputs were computed.

A build concern, so it lives in ``tools/`` and imports nothing but the standard
library: the book's Sphinx extensions read it without importing torch.

``make execute`` runs a chapter in full mode and writes a record into the notebook's
metadata under the key ``vaebook``: the date, the device, the versions, the wall-clock
seconds, the mode, a hash of the notebook's code cells and a hash of ``helpers/``. The
outputs are *fresh* while the code cells hash the same: a prose edit changes nothing, a
code edit makes them stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

KEY = "vaebook"
HELPERS_DIR = Path(__file__).resolve().parents[1] / "helpers"


def code_hash(notebook: dict[str, Any]) -> str:
    """A hash of a notebook's code cells, in order; outputs and prose don't count.

    Example:
        >>> cell = {"cell_type": "code", "source": "x = 1"}
        >>> prose = {"cell_type": "markdown", "source": "Some text"}
        >>> code_hash({"cells": [cell]}) == code_hash({"cells": [prose, cell]})
        True
    """
    digest = hashlib.sha256()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            digest.update(text.encode() + b"\n\x00\n")
    return "sha256:" + digest.hexdigest()[:16]


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
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    return "sha256:" + digest.hexdigest()[:16]


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook as plain JSON (no nbformat needed, so this works on Colab too)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def record_of(notebook: dict[str, Any]) -> dict[str, Any] | None:
    """The execution record stored in a notebook's metadata, or None if it has none.

    Example:
        >>> record_of({"metadata": {"vaebook": {"mode": "full"}}})
        {'mode': 'full'}
        >>> record_of({"metadata": {}}) is None
        True
    """
    return notebook.get("metadata", {}).get(KEY)


def status(notebook: dict[str, Any]) -> str:
    """``"fresh"``, ``"stale"`` (code changed), ``"short-run"`` or ``"missing"``.

    ``"short-run"``: the stored outputs come from the short schedule, which must
    never be committed.

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
        return "short-run"
    return "fresh" if record.get("code_hash") == code_hash(notebook) else "stale"


def has_outputs(notebook: dict[str, Any]) -> bool:
    """True if any code cell holds an output or an execution count."""
    return any(
        cell.get("outputs") or cell.get("execution_count") is not None
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    )


def minutes(record: dict[str, Any]) -> float:
    """The record's wall-clock time in minutes.

    Example:
        >>> minutes({"seconds": 90.0})
        1.5
    """
    return float(record["seconds"]) / 60.0


def cost_sentence(record: dict[str, Any] | None) -> str:
    """What a chapter costs to run, in words, from its stored record.

    Example:
        >>> rec = {"seconds": 754.0, "device_type": "cpu", "cpu_threads": 2,
        ...        "device": "Intel Xeon", "date": "2026-12-02T05:00:00+00:00"}
        >>> cost_sentence(rec)
        'about 13 minutes on a 2-core CPU (Intel Xeon); on a GPU: not measured'
    """
    if record is None:
        return "not measured yet (this chapter has not been executed in full mode)"
    costs = dict(record.get("costs", {}))
    kind = record.get("device_type", "cpu")
    costs.setdefault(kind, {"seconds": record["seconds"], "device": record["device"]})
    if "cpu_threads" in record and kind == "cpu":
        costs[kind].setdefault("cpu_threads", record["cpu_threads"])
    parts = []
    cpu = costs.get("cpu")
    if cpu:
        threads = cpu.get("cpu_threads")
        where = f"a {threads}-core CPU" if threads else "a CPU"
        parts.append(f"{_about(cpu['seconds'])} on {where} ({cpu['device']})")
    else:
        parts.append("on a CPU: not measured")
    gpu = costs.get("cuda")
    if gpu:
        parts.append(f"{_about(gpu['seconds'])} on a GPU ({gpu['device']})")
    else:
        parts.append("on a GPU: not measured")
    return "; ".join(parts)


def _about(seconds: float) -> str:
    minutes_ = seconds / 60.0
    if minutes_ < 1.5:
        return "about a minute" if minutes_ >= 0.5 else "under a minute"
    return f"about {round(minutes_)} minutes"
