"""Keep what nbval executed, so the strict book build renders it without running it.

With ``VAEBOOK_EXECUTED_DIR`` set, every notebook that nbval runs is written there
with its outputs (the ``make test`` book check builds from those copies with
execution off), and the seconds each notebook's cells took go to ``timings.json``
in the folder above it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

_notebooks: dict[Path, nbformat.NotebookNode] = {}
_seconds: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    start = time.perf_counter()
    yield
    name = Path(str(item.fspath)).name
    _seconds[name] = _seconds.get(name, 0.0) + time.perf_counter() - start
    outputs = getattr(item, "test_outputs", None)
    cell = getattr(item, "cell", None)
    if (
        outputs is None
        or cell is None
        or not os.environ.get("VAEBOOK_EXECUTED_DIR")
    ):
        return
    cell.outputs = [nbformat.from_dict(out) for out in outputs]
    for count, out in enumerate(cell.outputs):
        if out.get("output_type") == "execute_result":
            out["execution_count"] = count + 1
    _notebooks[Path(str(item.parent.fspath))] = item.parent.nb


def pytest_sessionfinish(session: pytest.Session) -> None:
    folder = os.environ.get("VAEBOOK_EXECUTED_DIR")
    if not folder:
        return
    for path, notebook in _notebooks.items():
        target = Path(folder) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
    if _seconds:
        timings = Path(folder).parent / "timings.json"
        timings.write_text(
            json.dumps(
                {"notebook_seconds": dict(sorted(_seconds.items()))},
                indent=2,
            )
            + "\n"
        )
