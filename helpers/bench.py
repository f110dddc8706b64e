"""Training throughput: the conventional tutorial pipeline against the book's, on one model and one device.

    python -m helpers.bench [--epochs 8] [--subset N] [--compile] [--eval-k K --eval-images N] [--json FILE]

Both runs train zuko's VAE tutorial model (encoder and decoder 1024-1024, latent 16, a MAF prior with 3
transforms of hidden (256, 256); batch 256, Adam at 1e-3, the one-sample ELBO on dynamically binarized
MNIST) from the same initial weights for ``--epochs`` epochs:

- ``conventional``: a torchvision dataset with a per-image ``ToTensor``, a ``DataLoader``, ``.to(device)``
  for every batch and ``loss.item()`` after every step, as tutorials write it;
- ``book``: :func:`helpers.training.fit` on MNIST held on the device (``randperm`` slices, binarized there,
  no host synchronisation per step, fused Adam), optionally with ``torch.compile`` (``--compile``).

It prints seconds per epoch (the median over the epochs after the first, which pays for warm-up), the ratio,
peak memory and the device, and with ``--eval-k`` also times the importance-sampled log-likelihood of
:func:`helpers.evaluation.importance_log_likelihood`. The benchmark reports; it never passes or fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from helpers.data import load_mnist
from helpers.evaluation import importance_log_likelihood
from helpers.models import VAE, GaussianEncoder, bernoulli_vae, maf_prior
from helpers.objectives import elbo_loss
from helpers.runtime import configure_backends, cpu_name, pick_device, seed_everything
from helpers.training import fit

BATCH_SIZE = 256
LEARNING_RATE = 1e-3
N_MNIST_TRAIN = 60_000


def tutorial_model() -> VAE:
    """zuko's VAE tutorial model: Gaussian encoder and Bernoulli decoder of 1024-1024, latent 16, MAF prior."""
    hidden = (1024, 1024)
    return bernoulli_vae(
        GaussianEncoder(784, 16, hidden), 16, hidden, prior=maf_prior(16, 3, (256, 256))
    )


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock reading means what it says."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with the number of threads torch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()} (CPU, {torch.get_num_threads()} threads)"


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float | None:
    """Peak memory allocated by torch on a CUDA device since the last reset (None elsewhere)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return None


def conventional_loader(subset: int | None) -> torch.utils.data.DataLoader:
    """The tutorial way: a torchvision dataset that converts each image with ``ToTensor`` as it is read."""
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    from helpers.data import _torchvision_mnist, data_root

    _torchvision_mnist(
        train=True
    )  # the same clear error as the book's path when MNIST is missing
    dataset = MNIST(data_root(), train=True, transform=ToTensor())
    if subset is not None:
        dataset = torch.utils.data.Subset(dataset, range(subset))
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)


def train_conventional(
    model: nn.Module, epochs: int, subset: int | None, device: torch.device
) -> list[float]:
    """Train with a DataLoader, a host-to-device copy per batch and ``.item()`` per step; seconds per epoch."""
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
    """Train with :func:`helpers.training.fit` on device-resident MNIST; seconds per epoch from its history."""
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


def summarize(seconds: list[float]) -> float:
    """Seconds per epoch: the median over the epochs after the first (all of them if there is one)."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def measure(run: Callable[[], list[float]], device: torch.device) -> dict[str, Any]:
    """Run one pipeline from a fresh seed; its epoch times, their summary and its peak memory."""
    reset_peak_memory(device)
    seconds = run()
    return {
        "epoch_seconds": seconds,
        "seconds_per_epoch": summarize(seconds),
        "peak_gib": peak_memory_gib(device),
    }


def time_evaluation(
    model: nn.Module, x: Tensor, k: int, device: torch.device
) -> dict[str, Any]:
    """Seconds and peak memory for the importance-sampled log-likelihood of every row of ``x`` with K = ``k``."""
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
    """Everything the command line prints, as a dictionary (also what ``--json`` writes)."""
    device = pick_device()
    configure_backends(
        device
    )  # process-wide, so both pipelines run with them: the ratio measures the pipelines
    seed_everything(seed)
    initial = tutorial_model().state_dict()

    def fresh_model() -> nn.Module:
        seed_everything(seed)
        model = tutorial_model()
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
        "device": device_name(device),
        "torch": torch.__version__,
        "model": "zuko tutorial VAE: 1024-1024, latent 16, MAF prior (3 transforms, 256-256), batch 256, Adam 1e-3",
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


def format_memory(gib: float | None) -> str:
    """A peak-memory figure as text (torch measures it on CUDA only)."""
    return "n/a (CPU)" if gib is None else f"{gib:.2f} GiB"


def report(result: dict[str, Any]) -> str:
    """The human-readable summary of :func:`run_benchmark`'s result."""
    lines = [
        f"{result['date']} | {result['device']} | torch {result['torch']}",
        f"{result['model']}; {result['epochs']} epochs of {result['images_per_epoch']} images",
    ]
    for name, run in result["runs"].items():
        lines.append(
            f"  {name:<14} {run['seconds_per_epoch']:8.3f} s/epoch   peak memory {format_memory(run['peak_gib'])}"
        )
    lines.append(
        f"  ratio (conventional / fastest book pipeline): {result['ratio']:.2f}"
    )
    if "evaluation" in result:
        ev = result["evaluation"]
        lines.append(
            f"  IS log-likelihood, K={ev['k']}, {ev['images']} images: {ev['seconds']:.2f} s, "
            f"peak memory {format_memory(ev['peak_gib'])}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--epochs", type=int, default=8, help="epochs per pipeline (default 8)"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=None,
        help="train on the first N images (default: all 60000)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time the book's pipeline with torch.compile",
    )
    parser.add_argument(
        "--eval-k",
        type=int,
        default=None,
        help="also time importance sampling with K samples",
    )
    parser.add_argument(
        "--eval-images",
        type=int,
        default=10_000,
        help="test images for --eval-k (default 10000)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the result as JSON to this file",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or (args.subset is not None and args.subset < 1):
        parser.error("--epochs and --subset must be positive")
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
