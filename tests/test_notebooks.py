"""Notebook conventions: no outputs, the shared setup cell first, every chapter in the table of contents."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))

SETUP_CELL = f"""
# Setup, the same in every chapter: on Colab install what it lacks (never torch),
# then seed everything, pick the device and print the mode.
import subprocess
import ast
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "zuko"], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "git+{REPOSITORY}"],
        check=True,
    )
try:
    import helpers
except ModuleNotFoundError as err:
    raise ModuleNotFoundError(
        "This book's `helpers` package is not installed. From the book's root run `pip install -e .` "
        "(or `make test`, which sets up .venv), then restart the kernel."
    ) from err

device = helpers.setup()
QUICK = helpers.is_quick()
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
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear outputs before committing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_shared_setup(path):
    assert first_code_cell(path) == SETUP_CELL, (
        f"{path.name}: the first code cell must be the shared setup cell"
    )


def test_setup_cell_never_installs_torch():
    install_lines = [line for line in SETUP_CELL.splitlines() if "pip" in line]
    assert install_lines and not any("torch" in line for line in install_lines)


def test_setup_cell_says_how_to_install_helpers(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "helpers", None
    )  # as if `pip install -e .` had not been run
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e \."):
        exec(SETUP_CELL, {})


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
        tree = ast.parse(cell.source)
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
        namespace["glue"]("test_value", 1.0, display=False)
