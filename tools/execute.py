"""Execute chapters and store their outputs, with a record of where and when they ran.

    python tools/execute.py             # every chapter whose outputs are missing/stale
    python tools/execute.py 04 05       # these chapters, if missing or stale
    python tools/execute.py --force 04  # this chapter, even if fresh
    python tools/execute.py --quick --output-dir _build/quick/chapters  # short runs
    python tools/execute.py --list      # each chapter's status (`make stale`)
    python tools/execute.py --check     # fail unless every chapter is fresh

A full run writes back into ``chapters/*.ipynb`` (``make execute``), from an empty
checkpoint cache (``--warm`` reuses ``_cache/``); a short run never does: it needs
``--output-dir``. Each notebook is written as soon as it has run, so an interrupted
run loses only the chapter in progress. Stored outputs carry no stderr (progress
bars, warnings) and no widgets; the record (``tools/records.py``) goes to the
notebook's metadata.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

import records

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def select(names: list[str]) -> list[Path]:
    """The chapters named by number prefix (``04``) or stem; all of them if none."""
    notebooks = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    wanted = set(names)
    chosen = [p for p in notebooks if not names or {p.name[:2], p.stem} & wanted]
    if names and len(chosen) < len(set(names)):
        raise SystemExit(f"execute: not every one of {names} names a chapter")
    return chosen


def clean_outputs(notebook: nbformat.NotebookNode) -> None:
    """Drop what is not stored: stderr (progress bars, warnings) and widgets."""
    for cell in (c for c in notebook.cells if c.cell_type == "code"):
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                continue
            out.get("data", {}).pop(WIDGET_MIME, None)
            if "data" not in out or out.data:
                kept.append(out)
        cell.outputs = kept
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)


def machine() -> dict[str, Any]:
    """The device the kernel will pick (CUDA if present), and the versions."""
    import torch
    import zuko

    from helpers.runtime import cpu_name

    facts: dict[str, Any] = {"device_type": "cpu", "device": cpu_name()}
    facts["cpu_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        facts = {"device_type": "cuda", "device": torch.cuda.get_device_name(0)}
    versions = {"torch": torch.__version__, "zuko": zuko.__version__}
    return facts | versions | {"python": platform.python_version()}


def speed_index(repeats: int = 3) -> dict[str, Any]:
    """Seconds of a fixed training workload on this machine (median of ``repeats``).

    100 Adam steps of a 784-512-512-784 MLP on a batch of 256, in float32: the
    arithmetic of the book's MNIST models, so that minutes measured on different
    machines can be compared (divide by the index).
    """
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.rand(256, 784, generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    for _ in range(repeats):
        net = torch.nn.Sequential(
            torch.nn.Linear(784, 512),
            torch.nn.ReLU(),
            torch.nn.Linear(512, 512),
            torch.nn.ReLU(),
            torch.nn.Linear(512, 784),
        ).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in range(100):
            loss = (net(x) - x).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        loss.item()  # waits for a GPU to finish
        times.append(time.perf_counter() - start)
    workload = "100 Adam steps, MLP 784-512-512-784, batch 256, float32"
    return {"workload": workload, "seconds": round(sorted(times)[repeats // 2], 3)}


def make_record(
    notebook: nbformat.NotebookNode,
    seconds: float,
    quick: bool,
    old: dict | None,
    cache: str = "cold",
    speed: dict | None = None,
) -> dict[str, Any]:
    """The ``vaebook`` record of one run (costs carried over for unchanged code)."""
    facts, code = machine(), records.code_hash(notebook)
    costs = dict(old.get("costs", {})) if old and old.get("code_hash") == code else {}
    if not quick:
        threads = {k: v for k, v in facts.items() if k == "cpu_threads"}
        costs[facts["device_type"]] = {
            "seconds": round(seconds, 1),
            "device": facts["device"],
            "cache": cache,
            **threads,
            **({"speed_index": speed} if speed else {}),
        }
    return {
        "mode": "quick" if quick else "full",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **facts,
        "seconds": round(seconds, 1),
        "code_hash": code,
        "helpers_hash": records.helpers_hash(),
        "cache": cache,
        **({"speed_index": speed} if speed else {}),
        "costs": costs,
    }


def execute(
    path: Path, quick: bool, target: Path, timeout: int | None, warm: bool = False
) -> float:
    """Run a notebook top to bottom in ``chapters/``, write it to ``target``.

    Unless ``warm``, the kernel's checkpoint cache is a new empty folder, so the
    recorded seconds are what a reader who runs this chapter alone pays. Returns the
    wall-clock seconds the notebook took.
    """
    notebook = nbformat.read(path, as_version=4)
    old = records.record_of(notebook)
    os.environ["VAEBOOK_QUICK"] = "1" if quick else "0"
    cache_dir = None if warm else tempfile.mkdtemp(prefix=f"cold-{path.name[:2]}-")
    os.environ.pop("VAEBOOK_CACHE", None)
    if cache_dir:
        os.environ["VAEBOOK_CACHE"] = cache_dir
    speed = None if quick else speed_index()
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(CHAPTERS)}},
    )
    started = time.perf_counter()

    def progress(cell: Any, cell_index: int, execute_reply: Any) -> None:
        number = next((i for i, c in enumerate(cells, 1) if c is cell), cell_index)
        at = time.perf_counter() - started
        print(f"  {path.stem}: cell {number}/{len(cells)} at {at:7.1f} s", flush=True)

    client.on_cell_executed = progress
    try:
        client.execute()
    finally:
        if cache_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)
    seconds = time.perf_counter() - started
    clean_outputs(notebook)
    cache = "warm" if warm else "cold"
    notebook.metadata[records.KEY] = make_record(
        notebook, seconds, quick, old, cache, speed
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".ipynb.partial")
    nbformat.write(notebook, partial)
    os.replace(partial, target)
    return seconds


def list_status(paths: list[Path]) -> int:
    """Print each chapter's status; the number of chapters that are not fresh."""
    not_fresh = 0
    for path in paths:
        nb = records.read_notebook(path)
        state, record = records.status(nb), records.record_of(nb)
        not_fresh += state != "fresh"
        line = f"{path.stem:32s} {state:9s}"
        if record:
            line += f" {record['date'][:10]} {record['device']}"
            line += f", {record['seconds'] / 60:.1f} min ({record.get('cache', '?')})"
        print(line)
    return not_fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="number prefixes (04) or stems")
    parser.add_argument("--force", action="store_true", help="run even if fresh")
    parser.add_argument("--quick", action="store_true", help="short runs (copies)")
    parser.add_argument("--output-dir", type=Path, help="write copies here instead")
    parser.add_argument("--timeout", type=int, default=None, help="per-cell seconds")
    parser.add_argument("--warm", action="store_true", help="reuse _cache/")
    parser.add_argument("--list", action="store_true", help="print statuses")
    parser.add_argument("--check", action="store_true", help="fail unless all fresh")
    args = parser.parse_args(argv)
    paths = select(args.chapters)
    if args.list or args.check:
        not_fresh = list_status(paths)
        return 1 if args.check and not_fresh else 0
    if args.quick and args.output_dir is None:
        parser.error("--quick needs --output-dir: short runs never go into chapters/")
    failed = []
    for path in paths:
        fresh = records.status(records.read_notebook(path)) == "fresh"
        if fresh and not (args.force or args.quick or args.output_dir):
            print(f"{path.stem}: fresh, skipped (--force to run it again)")
            continue
        target = (args.output_dir or CHAPTERS) / path.name
        mode = "short" if args.quick else "full"
        print(f"{path.stem}: executing a {mode} run -> {target}", flush=True)
        try:
            seconds = execute(path, args.quick, target, args.timeout, args.warm)
        except Exception as err:  # nbclient's CellExecutionError, a dead kernel...
            print(f"{path.stem}: FAILED, nothing written\n{err}", flush=True)
            failed.append(path.stem)
            continue
        print(f"{path.stem}: done in {seconds / 60:.1f} min", flush=True)
    if failed:
        print("execute: failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
