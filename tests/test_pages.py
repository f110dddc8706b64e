"""What a reader sees of each chapter: lessons in view, plumbing out of sight.

The page shows a code cell's input unless the cell is tagged ``remove-input``
(bookkeeping: glue calls, table assembly) or ``hide-input`` (folded: figure code,
the setup cell). These tests read the notebooks, so they hold for the stored
outputs as committed; the browser check (tools/check_html.py) measures the widths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_freshness import PENDING_REEXECUTION

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
MAX_VISIBLE_LINES = 30  # "one idea per visible cell"
FOR_MAINTAINERS = ("benchmarks/results", "issue #", "(issue ", "loaded trained weights")


def code_cells(path: Path) -> list[dict]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def source(cell: dict) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def shown(cell: dict) -> bool:
    """True if the page shows the cell's input unfolded."""
    tags = cell.get("metadata", {}).get("tags", [])
    return "remove-input" not in tags and "hide-input" not in tags


def output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append("".join(output["text"]))
        for mime in ("text/plain", "text/html"):
            parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_visible_cells_are_short(path: Path) -> None:
    long = [
        (i, len(source(cell).splitlines()))
        for i, cell in enumerate(code_cells(path))
        if shown(cell) and len(source(cell).splitlines()) > MAX_VISIBLE_LINES
    ]
    assert not long, (
        f"{path.name}: visible code cells over {MAX_VISIBLE_LINES} lines (code cell "
        f"index, lines): {long}; split computation, checks and figures, fold figure "
        "code (hide-input) and remove bookkeeping (remove-input)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_source_dumps(path: Path) -> None:
    dumps = [
        i for i, cell in enumerate(code_cells(path)) if "getsource" in source(cell)
    ]
    assert not dumps, (
        f"{path.name}: code cells {dumps} print source with inspect.getsource; write "
        "the idea out in the chapter and check it against the helpers' version"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_for_maintainers_on_the_page(path: Path) -> None:
    # Stored outputs of a chapter pending re-execution are replaced when it runs.
    pending = path.name[:2] in PENDING_REEXECUTION
    found = []
    for i, cell in enumerate(code_cells(path)):
        text = (source(cell) if shown(cell) else "") + (
            "" if pending else output_text(cell)
        )
        found += [(i, phrase) for phrase in FOR_MAINTAINERS if phrase in text]
    assert not found, (
        f"{path.name}: maintainers' details on the page (code cell, phrase): {found}"
    )
