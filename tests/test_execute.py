"""tools/execute.py: a failed chapter writes nothing and keeps what it trained."""

from __future__ import annotations

import nbformat
import pytest

import book
import execute


def test_a_failed_run_keeps_its_cache_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "ROOT", tmp_path)
    (tmp_path / "chapters").mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(  # a model "trained" into the cold cache
            "import os, pathlib\n"
            "pathlib.Path(os.environ['VAEBOOK_CACHE'], 'model.pt').write_text('w')"
        ),
        nbformat.v4.new_code_cell("raise AssertionError('a full-mode check')"),
    ]
    monkeypatch.setattr(execute, "speed_index", lambda: {"seconds": 1.0})
    path = tmp_path / "chapters" / "99_failing.ipynb"
    nbformat.write(notebook, path)
    written = path.read_text()
    with pytest.raises(Exception, match="a full-mode check"):
        execute.execute(path, timeout=120)
    assert path.read_text() == written and len(list(path.parent.iterdir())) == 1
    kept = tmp_path / "_build" / "failed-cache-99" / "model.pt"
    assert kept.read_text() == "w"


def test_a_run_stores_its_outputs_and_a_cold_record(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "ROOT", tmp_path)
    monkeypatch.setattr(execute, "speed_index", lambda: {"seconds": 1.0})
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import os\nprint(6 * 7)")]
    path = tmp_path / "99_small.ipynb"
    nbformat.write(notebook, path)
    execute.execute(path, timeout=120)
    stored = nbformat.read(path, as_version=4)
    assert stored.cells[0].outputs[0]["text"] == "42\n"
    record = book.record_of(stored)
    assert record["mode"] == "full" and record["cache"] == "cold"
    assert record["code_hash"] == book.code_hash(stored)
    assert record["costs"][record["device_type"]]["speed_index"] == {"seconds": 1.0}
    assert book.status(stored) == "fresh"
