"""Execute chapters and store their outputs, with a record of where and when they ran.

    python tools/execute.py             # every chapter whose outputs are missing/stale
    python tools/execute.py 04 05       # these chapters, if missing or stale
    python tools/execute.py --force 04  # this chapter, even if fresh
    python tools/execute.py --quick --output-dir _build/quick/chapters  # a quick copy
    python tools/execute.py --list      # each chapter's status (`make stale`)

Full mode writes back into ``chapters/*.ipynb`` (``make execute``); quick mode never
does: it needs ``--output-dir``. Each notebook is written as soon as it has run,
atomically, so an interrupted run loses only the chapter in progress. The stored
outputs are cleaned: no stderr streams (progress bars, warnings), no widgets. The
record goes to the notebook's metadata under ``vaebook`` (see ``tools/records.py``).
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
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
sys.path.insert(0, str(ROOT / "tools"))

import records as provenance  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def select(names: list[str]) -> list[Path]:
    """The chapters named by number prefix (``04``) or stem; all of them if none."""
    notebooks = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return notebooks
    chosen = []
    for name in names:
        found = [
            p for p in notebooks if p.stem == name or p.stem.startswith(f"{name}_")
        ]
        if not found:
            raise SystemExit(f"execute: no chapter matches {name!r} in {CHAPTERS}")
        chosen += found
    return chosen


def clean_outputs(notebook: nbformat.NotebookNode) -> None:
    """Drop what is not stored: stderr (progress bars, warnings) and widgets."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                continue
            if "data" in out:
                out.data.pop(WIDGET_MIME, None)
                if not out.data:
                    continue
            kept.append(out)
        cell.outputs = kept
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)


def device_facts() -> dict[str, Any]:
    """The device the kernel will pick (CUDA if present), named."""
    import torch

    from helpers.runtime import cpu_name

    if torch.cuda.is_available():
        return {"device_type": "cuda", "device": torch.cuda.get_device_name(0)}
    return {
        "device_type": "cpu",
        "device": cpu_name(),
        "cpu_threads": torch.get_num_threads(),
    }


def versions() -> dict[str, str]:
    import torch
    import zuko

    return {
        "torch": torch.__version__,
        "zuko": zuko.__version__,
        "python": platform.python_version(),
    }


def speed_index(repeats: int = 3) -> dict[str, Any]:
    """Seconds of a fixed training workload on this machine (median of ``repeats``).

    100 Adam steps of a 784-512-512-784 MLP on a batch of 256, in float32: the
    arithmetic of the book's MNIST models, so that minutes measured on different
    machines can be compared (divide by the index).
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.rand(256, 784, generator=generator).to(device)
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
    return {
        "workload": "100 Adam steps, MLP 784-512-512-784, batch 256, float32",
        "seconds": round(sorted(times)[len(times) // 2], 3),
    }


def make_record(
    notebook: nbformat.NotebookNode,
    seconds: float,
    quick: bool,
    old: dict | None,
    cache: str = "cold",
    speed: dict | None = None,
) -> dict[str, Any]:
    """The ``vaebook`` record of one run (costs carried over for unchanged code)."""
    facts = device_facts()
    code = provenance.code_hash(notebook)
    costs = dict(old.get("costs", {})) if old and old.get("code_hash") == code else {}
    if not quick:
        costs[facts["device_type"]] = {
            "seconds": round(seconds, 1),
            "device": facts["device"],
            "cache": cache,
            **({"cpu_threads": facts["cpu_threads"]} if "cpu_threads" in facts else {}),
        }
    return {
        "mode": "quick" if quick else "full",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **facts,
        **versions(),
        "seconds": round(seconds, 1),
        "code_hash": code,
        "helpers_hash": provenance.helpers_hash(),
        "cache": cache,
        **({"speed_index": speed} if speed else {}),
        "costs": costs,
    }


def execute(
    path: Path, quick: bool, target: Path, timeout: int | None, warm: bool = False
) -> float:
    """Run a notebook top to bottom in ``chapters/``, write it to ``target``.

    Unless ``warm``, the kernel's checkpoint cache is a new empty folder, so the
    recorded seconds are what a reader who runs this chapter alone pays (cold).
    Returns the wall-clock seconds it took.
    """
    notebook = nbformat.read(path, as_version=4)
    old = provenance.record_of(notebook)
    os.environ["VAEBOOK_QUICK"] = "1" if quick else "0"
    if warm:
        os.environ.pop("VAEBOOK_CACHE", None)
    else:
        os.environ["VAEBOOK_CACHE"] = tempfile.mkdtemp(prefix=f"cold-{path.stem[:2]}-")
    speed = None if quick else speed_index()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(CHAPTERS)}},
        record_timing=False,
    )
    started = time.perf_counter()
    cells = [c for c in notebook.cells if c.cell_type == "code"]

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if cell.cell_type == "code":
            done = next((i for i, c in enumerate(cells, 1) if c is cell), cell_index)
            elapsed = time.perf_counter() - started
            print(
                f"  {path.stem}: cell {done}/{len(cells)} at {elapsed:7.1f} s",
                flush=True,
            )

    client.on_cell_executed = on_cell_executed
    client.execute()
    seconds = time.perf_counter() - started
    clean_outputs(notebook)
    cache = "warm" if warm else "cold"
    record = make_record(notebook, seconds, quick, old, cache, speed)
    notebook.metadata[provenance.KEY] = record
    if not warm:
        shutil.rmtree(os.environ.pop("VAEBOOK_CACHE"), ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".ipynb.partial")
    nbformat.write(notebook, partial)
    os.replace(partial, target)
    return seconds


def list_status(paths: list[Path]) -> None:
    """Print each chapter's status, and whether helpers/ changed since it ran."""
    today = provenance.helpers_hash()
    for path in paths:
        nb = provenance.read_notebook(path)
        state, record = provenance.status(nb), provenance.record_of(nb)
        line = f"{path.stem:32s} {state:8s}"
        if record:
            line += f" {record['date'][:10]} {record['device']}"
            line += f", {provenance.minutes(record):.1f} min"
            if record.get("helpers_hash") != today:
                line += "  [helpers/ changed since]"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="number prefixes (04) or stems")
    parser.add_argument("--force", action="store_true", help="run even if fresh")
    parser.add_argument("--quick", action="store_true", help="quick mode (a copy)")
    parser.add_argument("--output-dir", type=Path, help="write copies here instead")
    parser.add_argument("--timeout", type=int, default=None, help="per-cell seconds")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="reuse _cache/ (a development run: its record says cache: warm)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print statuses, run nothing"
    )
    args = parser.parse_args(argv)
    paths = select(args.chapters)
    if args.list:
        list_status(paths)
        return 0
    if args.quick and args.output_dir is None:
        parser.error(
            "--quick needs --output-dir: quick outputs never go into chapters/"
        )
    failed = []
    for path in paths:
        fresh = provenance.status(provenance.read_notebook(path)) == "fresh"
        if fresh and not (args.force or args.quick or args.output_dir):
            print(f"{path.stem}: fresh, skipped (--force to run it again)")
            continue
        target = (args.output_dir or CHAPTERS) / path.name
        mode = "quick" if args.quick else "full"
        print(f"{path.stem}: executing in {mode} mode -> {target}", flush=True)
        try:
            seconds = execute(path, args.quick, target, args.timeout, args.warm)
        except CellExecutionError as err:
            print(f"{path.stem}: FAILED, nothing written\n{err}", flush=True)
            failed.append(path.stem)
            continue
        print(f"{path.stem}: done in {seconds / 60:.1f} min", flush=True)
    if failed:
        print("execute: failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
