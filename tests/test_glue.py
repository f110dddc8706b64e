"""``helpers.glue``: myst-nb's glue when it is there, a plain display when it is not."""

from __future__ import annotations

import sys

from helpers import glue, notebook


def test_glue_without_myst_nb_shows_only_on_request(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab
    glue("hidden", "text")
    glue("shown", 3.5, display=True)
    assert capsys.readouterr().out == "3.5\n"


def test_glue_calls_myst_nb_inside_a_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(notebook, "_in_ipython", lambda: True)
    monkeypatch.setattr(
        notebook, "_myst_glue", lambda: lambda *args, **kw: calls.append((args, kw))
    )
    glue("answer", 42)
    glue("shown", 1.5, display=True)
    assert calls == [
        (("answer", 42), {"display": False}),
        (("shown", 1.5), {"display": True}),
    ]


def test_glue_without_myst_nb_inside_a_kernel_displays_on_request(monkeypatch):
    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    monkeypatch.setattr(notebook, "_in_ipython", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    glue("answer", 42, display=True)
    glue("quiet", 0)
    assert shown == [42]
