"""Execute chapters in full mode, each from an empty checkpoint cache, and store their
outputs with a record of where and when they ran and what they cost (``make execute``).
"""

import argparse
import datetime as dt
import json
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

import book


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
    """Seconds of a fixed workload, the arithmetic of the book's MNIST models (median
    of ``repeats``), so that minutes measured on different machines compare."""
    import torch
    from torch import nn

    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.rand(256, 784, generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    for _ in range(repeats):
        layers = [nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU()]
        net = nn.Sequential(*layers, nn.Linear(512, 784)).to(device)
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


def execute(path: Path, timeout: int | None = None) -> float:
    """Run the notebook at ``path`` from an empty checkpoint cache (the seconds a reader
    who runs it alone pays); store its outputs and record in it; return its seconds."""
    notebook = nbformat.read(path, as_version=4)
    # the hashes of what runs, taken before it runs (an edit meanwhile is not it)
    old, code = book.record_of(notebook), book.code_hash(notebook)
    helpers, run = book.helpers_hash(), {"cache": "cold", "speed_index": speed_index()}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3")
    client.resources = {"metadata": {"path": str(path.parent)}}
    started, cells = time.perf_counter(), len(notebook.cells)

    def progress(cell_index: int, **_: Any) -> None:
        at, cell = time.perf_counter() - started, cell_index + 1
        print(f"  {path.stem}: cell {cell}/{cells} at {at:7.1f} s", flush=True)

    client.on_cell_executed = progress
    with tempfile.TemporaryDirectory(prefix=f"cold-{path.name[:2]}-") as cache:
        os.environ.update(VAEBOOK_QUICK="0", VAEBOOK_CACHE=cache)
        try:
            client.execute()
        except Exception:  # keep what was trained: a debugging run resumes from it
            kept = book.ROOT / "_build" / f"failed-cache-{path.name[:2]}"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(cache, kept)
            print(f"{path.stem}: its trained models are kept: VAEBOOK_CACHE={kept}")
            raise
    run["seconds"] = round(time.perf_counter() - started, 1)
    for cell in (c for c in notebook.cells if c.cell_type == "code"):
        # stored without stderr (progress bars, warnings) or execution times
        cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
        cell.metadata.pop("execution", None)
    facts = machine()
    same = old and old.get("code_hash") == code
    costs = dict(old.get("costs", {})) if same else {}  # the other devices' costs
    device = {k: facts[k] for k in ("device", "cpu_threads") if k in facts}
    costs[facts["device_type"]] = run | device
    date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    notebook.metadata[book.KEY] = {"mode": "full", "date": date, **facts, **run}
    notebook.metadata[book.KEY] |= {"code_hash": code, "helpers_hash": helpers}
    notebook.metadata[book.KEY]["costs"] = costs
    partial = path.with_suffix(".ipynb.partial")
    nbformat.write(notebook, partial)
    os.replace(partial, path)
    return run["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="number prefixes (04) or stems")
    parser.add_argument("--force", action="store_true", help="run even if fresh")
    parser.add_argument("--list", action="store_true", help="print statuses")
    parser.add_argument("--check", action="store_true", help="fail unless all fresh")
    args = parser.parse_args(argv)
    wanted = set(args.chapters)
    paths = [p for p in book.chapters() if not wanted or {p.name[:2], p.stem} & wanted]
    if len(paths) < len(wanted):
        parser.error(f"not every one of {args.chapters} names a chapter")
    notebooks = {path: json.loads(path.read_bytes()) for path in paths}
    states = {path: book.status(notebook) for path, notebook in notebooks.items()}
    if args.list or args.check:
        helpers = book.helpers_hash()
        for path, state in states.items():
            record = book.record_of(notebooks[path])
            line = f"{path.stem:32s} {state:9s}"
            if record:
                line += f" {record['date'][:10]} {record['device']}, "
                line += f"{record['seconds'] / 60:.1f} min ({record.get('cache', '?')})"
                if record.get("helpers_hash") != helpers:
                    line += "  [helpers/ changed since]"
            print(line)
        return int(args.check and any(state != "fresh" for state in states.values()))
    failed = []
    for path, state in states.items():
        if state == "fresh" and not args.force:
            print(f"{path.stem}: fresh, skipped (--force to run it again)")
            continue
        print(f"{path.stem}: executing a full run", flush=True)
        try:
            seconds = execute(path)
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
