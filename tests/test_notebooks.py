"""Notebook conventions: the shared setup cell first, every chapter in the table of
contents, nothing imported from the book's build tools."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

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

# On Colab the cell installs zuko at the tested version and the helpers at the book's
# release tag (the Colab copies of `make colab` pin the exact commit instead), once
# per runtime: running the cell again, or after a restart, skips the install.
SETUP_CELL = f"""
# Setup, the same in every chapter: on Colab, install what it lacks (never torch);
# then pick the schedule and the device, and seed everything.
SHORT_RUN = False  # True: the short schedule (about a minute; rough numbers)

import importlib.util
import os
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("helpers") is None:
    BOOK = "git+{REPOSITORY}@v{VERSION}"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "zuko=={ZUKO}"]
        + [os.environ.get("VAEBOOK_INSTALL_SOURCE", BOOK)],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        print(pip.stdout + pip.stderr)
        raise RuntimeError("pip could not install the book's packages (output above)")
try:
    import helpers
except ModuleNotFoundError as err:
    raise ModuleNotFoundError(
        "This book's `helpers` package is not installed. From the book's root run "
        "`pip install -e .` (or `make test`, which sets up .venv), then restart "
        "the kernel."
    ) from err

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
        namespace["glue"]("test_value", 1.0)


def test_setup_cell_pins_the_tested_zuko():
    assert importlib.metadata.version("zuko") == ZUKO, (
        "requirements.txt pins the zuko that the setup cell installs on Colab: "
        "keep it the version the book is tested with"
    )


def run_setup_cell_on_fake_colab(monkeypatch, returncode: int) -> list[list[str]]:
    """Execute the setup cell with ``google.colab`` imported and pip faked."""
    calls: list[list[str]] = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, returncode, "ERROR: no such tag\n", "")

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(  # as if the helpers were not installed yet
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "helpers" else real_find_spec(name, *a),
    )
    monkeypatch.setenv("VAEBOOK_QUICK", "1")
    exec(SETUP_CELL, {})
    return calls


def test_setup_cell_installs_the_release_on_colab(monkeypatch):
    monkeypatch.delenv("VAEBOOK_INSTALL_SOURCE", raising=False)
    (args,) = run_setup_cell_on_fake_colab(monkeypatch, returncode=0)
    assert args[-3:] == ["--no-deps", f"zuko=={ZUKO}", f"git+{REPOSITORY}@v{VERSION}"]
    monkeypatch.setenv("VAEBOOK_INSTALL_SOURCE", "/a/checkout")
    (args,) = run_setup_cell_on_fake_colab(monkeypatch, returncode=0)
    assert args[-1] == "/a/checkout"


def test_setup_cell_shows_pip_output_when_an_install_fails(monkeypatch, capsys):
    with pytest.raises(RuntimeError, match="pip could not install"):
        run_setup_cell_on_fake_colab(monkeypatch, returncode=1)
    assert "ERROR: no such tag" in capsys.readouterr().out
