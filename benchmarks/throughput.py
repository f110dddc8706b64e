"""Training throughput: the conventional tutorial pipeline against the book's.

    python benchmarks/throughput.py [--epochs 8] [--subset N] [--compile]
                                    [--eval-k K --eval-images N] [--json FILE]

Both runs train zuko's VAE tutorial model (:func:`helpers.comparison.tutorial_vae`:
encoder and decoder 1024-1024, latent 16, a MAF prior with 3 transforms of hidden
(256, 256); batch 256, Adam at 1e-3, the one-sample ELBO on dynamically binarized
MNIST) from the same initial weights for ``--epochs`` epochs:

- ``conventional``: a torchvision dataset with a per-image ``ToTensor``, a
  ``DataLoader``, ``.to(device)`` for every batch and ``loss.item()`` after every step,
  as tutorials write it;
- ``book``: :func:`helpers.training.fit` on MNIST held on the device (``randperm``
  slices, binarized there, no host synchronisation per step, fused Adam), optionally
  with ``torch.compile`` (``--compile``).

It prints seconds per epoch (the median over the epochs after the first, which pays for
warm-up), the ratio, peak memory and the device, and with ``--eval-k`` also times the
importance-sampled log-likelihood of
:func:`helpers.evaluation.importance_log_likelihood`. It reports; it never fails on a
time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from helpers.comparison import tutorial_vae
from helpers.data import data_root, load_mnist, read_mnist
from helpers.evaluation import importance_log_likelihood
from helpers.objectives import elbo_loss
from helpers.runtime import configure_backends, pick_device, seed_everything
from helpers.timing import (
    device_name,
    format_memory,
    peak_memory_gib,
    reset_peak_memory,
    seconds_per_epoch,
    synchronize,
)
from helpers.training import fit

BATCH_SIZE = 256
LEARNING_RATE = 1e-3
N_MNIST_TRAIN = 60_000
MODEL = (
    "zuko tutorial VAE: 1024-1024, latent 16, MAF prior (3 transforms, 256-256), "
    "batch 256, Adam 1e-3"
)


def conventional_loader(subset: int | None) -> torch.utils.data.DataLoader:
    """The tutorial way: a dataset that converts each image with ``ToTensor``."""
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    read_mnist(train=True)  # the book's clear error when MNIST is missing
    dataset = MNIST(data_root(), train=True, transform=ToTensor())
    if subset is not None:
        dataset = torch.utils.data.Subset(dataset, range(subset))
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)


def train_conventional(
    model: nn.Module, epochs: int, subset: int | None, device: torch.device
) -> list[float]:
    """A DataLoader, a copy to the device per batch, ``.item()`` per step: s/epoch."""
    loader = conventional_loader(subset)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        running = 0.0
        for images, _labels in loader:
            x = torch.bernoulli(images.to(device).flatten(1))
            loss = elbo_loss(model, (x,), 0.0)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def train_book(
    model: nn.Module,
    epochs: int,
    subset: int | None,
    device: torch.device,
    compile: bool,
) -> list[float]:
    """:func:`helpers.training.fit` on device-resident MNIST: seconds per epoch."""
    x, _ = load_mnist("train+valid", device, limit=subset or N_MNIST_TRAIN)
    history = fit(
        model,
        x,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        lr=LEARNING_RATE,
        compile=compile,
    )
    return [record["seconds"] for record in history]


def measure(run: Callable[[], list[float]], device: torch.device) -> dict[str, Any]:
    """Run one pipeline; its epoch times, their summary and its peak memory."""
    reset_peak_memory(device)
    seconds = run()
    return {
        "epoch_seconds": seconds,
        "seconds_per_epoch": seconds_per_epoch(seconds),
        "peak_gib": peak_memory_gib(device),
    }


def time_evaluation(
    model: nn.Module, x: Tensor, k: int, device: torch.device
) -> dict[str, Any]:
    """Seconds and peak memory of the IS log-likelihood of every row of ``x``, K=k."""
    importance_log_likelihood(model, x[:2], n_samples=8)  # warm-up
    synchronize(device)
    reset_peak_memory(device)
    start = time.perf_counter()
    log_px = importance_log_likelihood(model, x, n_samples=k)
    synchronize(device)
    seconds = time.perf_counter() - start
    if not torch.isfinite(log_px).all():
        raise FloatingPointError("the importance-sampled log-likelihood is not finite")
    return {
        "k": k,
        "images": len(x),
        "seconds": seconds,
        "peak_gib": peak_memory_gib(device),
    }


def run_benchmark(
    epochs: int,
    subset: int | None,
    compile: bool,
    eval_k: int | None,
    eval_images: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything the command line prints, as a dictionary (what ``--json`` writes)."""
    device = pick_device()
    # process-wide, so both pipelines run with them: the ratio measures the pipelines
    configure_backends(device)
    seed_everything(seed)
    initial = tutorial_vae().state_dict()

    def fresh_model() -> nn.Module:
        seed_everything(seed)
        model = tutorial_vae()
        model.load_state_dict(initial)
        return model.to(device)

    runs = {
        "conventional": measure(
            lambda: train_conventional(fresh_model(), epochs, subset, device), device
        )
    }
    book_model = fresh_model()
    runs["book"] = measure(
        lambda: train_book(book_model, epochs, subset, device, compile=False), device
    )
    if compile:
        runs["book_compiled"] = measure(
            lambda: train_book(fresh_model(), epochs, subset, device, True), device
        )
    fastest = min(
        runs[name]["seconds_per_epoch"] for name in runs if name != "conventional"
    )
    result: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "device": device_name(device, cpu_model=True),
        "torch": torch.__version__,
        "model": MODEL,
        "epochs": epochs,
        "images_per_epoch": subset or N_MNIST_TRAIN,
        "runs": runs,
        "ratio": runs["conventional"]["seconds_per_epoch"] / fastest,
        "max_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    if eval_k is not None:
        x_test, _ = load_mnist("test", device, limit=eval_images)
        result["evaluation"] = time_evaluation(
            book_model, torch.bernoulli(x_test), eval_k, device
        )
    return result


def report(result: dict[str, Any]) -> str:
    """The human-readable summary of :func:`run_benchmark`'s result."""
    lines = [
        f"{result['date']} | {result['device']} | torch {result['torch']}",
        f"{result['model']}; {result['epochs']} epochs of "
        f"{result['images_per_epoch']} images",
    ]
    for name, run in result["runs"].items():
        lines.append(
            f"  {name:<14} {run['seconds_per_epoch']:8.3f} s/epoch   "
            f"peak memory {format_memory(run['peak_gib'])}"
        )
    lines.append(
        f"  ratio (conventional / fastest book pipeline): {result['ratio']:.2f}"
    )
    if "evaluation" in result:
        ev = result["evaluation"]
        lines.append(
            f"  IS log-likelihood, K={ev['k']}, {ev['images']} images: "
            f"{ev['seconds']:.2f} s, peak memory {format_memory(ev['peak_gib'])}"
        )
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options, checked."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/throughput.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--epochs", type=int, default=8, help="epochs per pipeline (default 8)")
    add("--subset", type=int, default=None, help="first N images (default: 60000)")
    add("--compile", action="store_true", help="also time fit with torch.compile")
    add("--eval-k", type=int, default=None, help="also time IS with K samples")
    add("--eval-images", type=int, default=10_000, help="test images for --eval-k")
    add("--json", type=Path, default=None, help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.epochs < 1 or (args.subset is not None and args.subset < 1):
        parser.error("--epochs and --subset must be positive")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark from the command line; print and (``--json``) save it."""
    args = parse_arguments(argv)
    result = run_benchmark(
        args.epochs, args.subset, args.compile, args.eval_k, args.eval_images
    )
    print(report(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
