"""Run chapters as Colab would: a bare environment, the setup cell's own installs.

Run with the Python of a fresh virtual environment that holds only what Colab
ships and the book uses (``make colab-check`` makes it): torch, torchvision, numpy,
matplotlib, seaborn, tqdm, pandas, ipykernel, and nbclient to drive the kernel; no
jupyter-book, myst-nb or nbval, and neither zuko nor the book's helpers.

Each notebook is copied to ``_build/colab-check/`` with a first cell that fakes
Colab (it imports a ``google.colab`` module) and its ``SHORT_RUN`` line switched
on, as a reader would. The setup cell then installs zuko and the helpers itself,
from a copy of this checkout (``VAEBOOK_INSTALL_SOURCE``) instead of the
repository. First the full schedule is tried and must be refused (the machine has
no GPU); then chapter 1 runs top to bottom in that same "runtime" (as a reader who
flips the switch would), and chapter 4 in a fresh one (what the earlier setup cell
installed is uninstalled first).

    python tools/colab_check.py [--chapters 01 04]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "_build" / "colab-check"
BUILD_TOOLS = ("myst_nb", "jupyter_book", "nbval")
FAKE_COLAB = (
    "# colab-check: as on Colab, google.colab is imported before the first cell\n"
    "import sys, types\n"
    'sys.modules["google.colab"] = types.ModuleType("google.colab")'
)
WHERE_HELPERS = (
    "# colab-check: the helpers came from the setup cell's install, not the checkout\n"
    "import helpers\n"
    'assert "site-packages" in helpers.__file__, helpers.__file__\n'
    'assert helpers.is_quick(), "SHORT_RUN = True did not pick the short schedule"'
)
SWITCH_OFF = "SHORT_RUN = False"
SWITCH_ON = "SHORT_RUN = True"


def fresh_runtime() -> None:
    """Uninstall what an earlier setup cell installed: Colab notebooks start bare."""
    pip = [
        sys.executable,
        "-m",
        "pip",
        "uninstall",
        "-y",
        "-q",
        "vaebook-helpers",
        "zuko",
    ]
    subprocess.run(pip, capture_output=True, check=False)


def check_environment() -> None:
    """Fail unless this Python is Colab-like: no build tools, no zuko, no helpers."""
    present = [
        name
        for name in (*BUILD_TOOLS, "zuko", "helpers")
        if importlib.util.find_spec(name) is not None
    ]
    if present:
        raise SystemExit(f"colab-check: not a Colab-like environment, found {present}")


def install_source() -> Path:
    """A wheel of this checkout's helpers, built once, for the setup cells to install.

    (On Colab pip builds it from the repository; building it here once keeps the
    checkout clean and the check short.)
    """
    source = WORK / "source"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "helpers", source / "helpers", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", source)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "-q", "-w", str(WORK / "dist"), str(source)], check=True)
    return next((WORK / "dist").glob("*.whl"))


def colab_copy(path: Path, short_run: bool) -> nbformat.NotebookNode:
    """The notebook with the fake-Colab cell first and its switch set."""
    notebook = nbformat.read(path, as_version=4)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    if SWITCH_OFF not in setup.source:
        raise SystemExit(f"colab-check: {path.name}'s setup cell has no {SWITCH_OFF}")
    if short_run:
        setup.source = setup.source.replace(SWITCH_OFF, SWITCH_ON, 1)
        notebook.cells.append(nbformat.v4.new_code_cell(WHERE_HELPERS))
    notebook.cells.insert(0, nbformat.v4.new_code_cell(FAKE_COLAB))
    return notebook


def execute(notebook: nbformat.NotebookNode, timeout: int = 900) -> None:
    """Execute in a kernel of this Python, in ``WORK``."""
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(WORK)}},
    )
    client.execute()


def check_refusal(path: Path) -> None:
    """The full schedule on a CPU runtime stops in the setup cell with directions."""
    notebook = colab_copy(path, short_run=False)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    notebook.cells = code[:2]  # the fake-Colab cell and the setup cell
    try:
        execute(notebook, timeout=300)
    except CellExecutionError as error:
        if "Runtime → Change runtime type" not in str(error):
            raise
        return
    raise SystemExit("colab-check: the full schedule started on a CPU runtime")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="+", default=["01", "04"])
    args = parser.parse_args()
    fresh_runtime()
    check_environment()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.environ["VAEBOOK_INSTALL_SOURCE"] = str(install_source())
    os.environ.pop("VAEBOOK_QUICK", None)  # the notebook's SHORT_RUN line decides
    paths = [
        next((ROOT / "chapters").glob(f"{chapter}_*.ipynb"))
        for chapter in args.chapters
    ]
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    check_refusal(paths[0])
    seconds["refusal of the full schedule"] = time.perf_counter() - start
    for index, path in enumerate(paths):
        if index > 0:  # the first chapter runs where it was refused, as a reader would
            fresh_runtime()
        start = time.perf_counter()
        notebook = colab_copy(path, short_run=True)
        try:
            execute(notebook)
        finally:
            nbformat.write(notebook, WORK / path.name)
        seconds[path.name] = time.perf_counter() - start
        print(f"colab-check: {path.name} ran as on Colab in {seconds[path.name]:.0f} s")
    pip = [sys.executable, "-m", "pip", "list", "--format=freeze"]
    freeze = subprocess.run(pip, capture_output=True, text=True).stdout
    (WORK / "timings.json").write_text(json.dumps(seconds, indent=2) + "\n")
    (WORK / "pip-freeze.txt").write_text(freeze)
    print(f"colab-check: passed ({sum(seconds.values()):.0f} s of notebooks)")


if __name__ == "__main__":
    main()
