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
    source = tmp_path / "99_failing.ipynb"
    nbformat.write(notebook, source)
    target = tmp_path / "out" / "99_failing.ipynb"
    with pytest.raises(Exception, match="a full-mode check"):
        execute.execute(source, True, target, timeout=120, warm=False)
    assert not target.exists()
    kept = tmp_path / "_build" / "failed-cache-99" / "model.pt"
    assert kept.read_text() == "w"
