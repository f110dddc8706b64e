"""Run chapters as Colab would: a bare environment, the setup cell's own installs.

``make colab-check`` runs it in a virtual environment of what Colab ships that the book
uses: the full schedule must be refused on its CPU, then chapter 1 runs with
``SHORT_RUN = True`` and chapter 4 in a fresh "runtime" (or the chapters named).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbclient
import nbformat
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "_build" / "colab-check"
PIP = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
FAKE_COLAB = """# colab-check: as on Colab, google.colab is imported first
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")"""
WHERE_HELPERS = """# colab-check: the helpers came from the setup cell's install
import helpers
assert "site-packages" in helpers.__file__, helpers.__file__
assert run.short, 'SHORT_RUN = True did not pick a short run'"""
SWITCH = "SHORT_RUN = False"
KERNEL = {"cwd": str(WORK), "kernel_name": "python3"}  # this Python's own kernel


def fresh_runtime() -> None:
    """Uninstall what a setup cell installed, and check that nothing else is here."""
    uninstall = [*PIP, "uninstall", "-y", "vaebook-helpers", "zuko"]
    subprocess.run(uninstall, capture_output=True, check=False)
    names = ("myst_nb", "jupyter_book", "nbval", "zuko", "helpers")
    if found := [name for name in names if importlib.util.find_spec(name)]:
        raise SystemExit(f"colab-check: not a Colab-like environment, found {found}")


def colab_run(path: Path, short_run: bool) -> nbformat.NotebookNode:
    """The notebook behind a fake-Colab cell, its switch set as a reader would, its
    setup cell installing the helpers from this checkout (as pip on Colab does)."""
    notebook = nbformat.read(path, as_version=4)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    if SWITCH not in setup.source:
        raise SystemExit(f"colab-check: {path.name}'s setup cell has no {SWITCH}")
    book = next(line for line in setup.source.splitlines() if line.startswith("BOOK"))
    setup.source = setup.source.replace(book, f'BOOK = "{ROOT}"')
    if short_run:
        setup.source = setup.source.replace(SWITCH, "SHORT_RUN = True", 1)
        notebook.cells.append(nbformat.v4.new_code_cell(WHERE_HELPERS))
    else:  # the fake-Colab cell and the setup cell are enough
        notebook.cells = [setup]
    notebook.cells.insert(0, nbformat.v4.new_code_cell(FAKE_COLAB))
    return notebook


def main() -> None:
    chapters = sys.argv[1:] or ["01", "04"]
    fresh_runtime()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.environ.pop("VAEBOOK_QUICK", None)  # the notebook's SHORT_RUN line decides
    paths = [next((ROOT / "chapters").glob(f"{c}_*.ipynb")) for c in chapters]
    try:  # the full schedule on a CPU runtime stops in the setup cell, with directions
        nbclient.execute(colab_run(paths[0], False), timeout=300, **KERNEL)
        raise SystemExit("colab-check: the full schedule started on a CPU runtime")
    except CellExecutionError as error:
        if "Runtime → Change runtime type" not in str(error):
            raise
    for index, path in enumerate(paths):
        if index > 0:  # the first runs where it was refused, as a reader's would
            fresh_runtime()
        start, notebook = time.perf_counter(), colab_run(path, True)
        try:
            nbclient.execute(notebook, timeout=900, **KERNEL)
        finally:  # kept for reading when a cell fails
            nbformat.write(notebook, WORK / path.name)
        seconds = time.perf_counter() - start
        print(f"colab-check: {path.name} ran as on Colab in {seconds:.0f} s")
    print("colab-check: passed")


if __name__ == "__main__":
    main()
