"""Notebook conventions: the shared setup cell first, every chapter in the table of
contents, nothing imported from the book's build tools."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))

VERSION = re.search(
    r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M
).group(1)
ZUKO = next(
    line.split("==")[1].split("#")[0].strip()
    for line in (ROOT / "requirements.txt").read_text().splitlines()
    if line.startswith("zuko==")
)

# The first code cell of every chapter: at most ten lines of at most 75 characters
# (the text column). When `helpers` cannot be imported (on Colab), it installs zuko
# at the tested version and the helpers at the book's release tag (the Colab copies
# of `make colab` pin the exact commit, and `make colab-check` a wheel of the
# checkout, by rewriting the BOOK line), never torch; pip shows its own errors, and
# the import that follows then fails. Running the cell again skips the install.
SETUP_CELL = f"""
# Setup, the same in every chapter (off Colab: `pip install -e .` first)
SHORT_RUN = False  # True: a short run (about a minute; rough numbers)
BOOK = "git+{REPOSITORY}@v{VERSION}"
try:
    import helpers
except ModuleNotFoundError:  # on Colab: zuko and the helpers, never torch
    %pip install -q --no-deps zuko=={ZUKO} {{BOOK}}
    import helpers
run = helpers.setup(short_run=SHORT_RUN)
""".strip()


def first_code_cell(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def test_every_chapter_is_in_the_toc_and_exists():
    listed = {f for f in toc_files() if f.startswith("chapters/")}
    assert listed == {f"chapters/{p.stem}" for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_shared_setup(path):
    assert first_code_cell(path) == SETUP_CELL, (
        f"{path.name}: the first code cell must be the shared setup cell:\n{SETUP_CELL}"
    )


def test_setup_cell_is_short_and_never_installs_torch():
    lines = SETUP_CELL.splitlines()
    install_lines = [line for line in lines if "%pip" in line]
    assert len(lines) <= 10 and max(map(len, lines)) <= 75
    assert len(install_lines) == 1
    assert "--no-deps" in install_lines[0] and "torch" not in install_lines[0]


def test_setup_cell_says_how_to_install_helpers_off_colab():
    assert "`pip install -e .`" in SETUP_CELL.splitlines()[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_folded_in_the_html(path):
    notebook = nbformat.read(path, as_version=4)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert "hide-input" in setup.metadata.get("tags", []), (
        f"{path.name}: tag the setup cell 'hide-input'"
    )


def import_statements(path: Path) -> str:
    """Every top-level import of the notebook's code cells, in order, as one module."""
    lines = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
        lines += [
            ast.unparse(node)
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]
    return "\n".join(lines)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_imports_need_no_book_build_tools(path, monkeypatch):
    # As on Colab: myst-nb, jupyter-book and nbval cannot be imported.
    for name in ("myst_nb", "jupyter_book", "nbval"):
        monkeypatch.setitem(sys.modules, name, None)
    namespace: dict = {}
    exec(compile(import_statements(path), path.name, "exec"), namespace)
    if "glue" in namespace:
        namespace["glue"]("test_value", 1.0)


def test_setup_cell_pins_the_tested_zuko():
    assert importlib.metadata.version("zuko") == ZUKO, (
        "requirements.txt pins the zuko that the setup cell installs on Colab: "
        "keep it the version the book is tested with"
    )


def run_setup_cell_without_helpers(monkeypatch, installs: bool):
    """Run the setup cell in IPython as on a fresh Colab runtime, pip faked.

    Returns the lines the cell passed to ``%pip`` and the result of the run. The fake
    pip "installs" the helpers when ``installs``, else leaves them missing.
    """
    from IPython.core.interactiveshell import InteractiveShell

    import helpers

    lines: list[str] = []

    def pip(line: str) -> None:
        lines.append(line)
        print("ERROR: no such tag" if not installs else "installed")
        if installs:
            sys.modules["helpers"] = helpers

    monkeypatch.setitem(sys.modules, "helpers", None)  # not installed yet
    monkeypatch.setenv("VAEBOOK_QUICK", "1")
    shell = InteractiveShell.instance()
    try:
        shell.register_magic_function(pip, "line", "pip")
        result = shell.run_cell(SETUP_CELL)
        run = shell.user_ns.get("run")
    finally:
        InteractiveShell.clear_instance()
    return lines, result, run


def test_setup_cell_installs_the_release_on_colab(monkeypatch):
    (line,), result, run = run_setup_cell_without_helpers(monkeypatch, installs=True)
    assert line.split() == [
        "install", "-q", "--no-deps", f"zuko=={ZUKO}", f"git+{REPOSITORY}@v{VERSION}"
    ]  # fmt: skip
    assert result.success and run.short


def test_a_failed_install_shows_pip_and_stops_at_the_import(monkeypatch, capsys):
    _, result, run = run_setup_cell_without_helpers(monkeypatch, installs=False)
    assert isinstance(result.error_in_exec, ModuleNotFoundError) and run is None
    assert "ERROR: no such tag" in capsys.readouterr().out
