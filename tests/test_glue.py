"""``helpers.glue``: myst-nb's glue when it is there, a plain display when it is not."""

from __future__ import annotations

import sys

from helpers import glue, notebook


def test_glue_without_myst_nb_records_and_shows(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab
    glue("shown", 3.5)
    glue("hidden", "text", display=False)
    assert notebook.GLUED["shown"] == 3.5 and notebook.GLUED["hidden"] == "text"
    assert capsys.readouterr().out == "3.5\n"


def test_glue_calls_myst_nb_inside_a_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(notebook, "_in_ipython", lambda: True)
    monkeypatch.setattr(
        notebook, "_myst_glue", lambda: lambda *args, **kw: calls.append((args, kw))
    )
    glue("answer", 42, display=False)
    assert calls == [(("answer", 42), {"display": False})]


def test_glue_without_myst_nb_inside_a_kernel_displays(monkeypatch):
    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    monkeypatch.setattr(notebook, "_in_ipython", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    glue("answer", 42)
    glue("quiet", 0, display=False)
    assert shown == [42]
