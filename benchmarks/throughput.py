"""Throughput of the book's hot paths, to size full-mode schedules and spot regressions.

    python benchmarks/throughput.py [--steps 200] [--k 5000] [--images 200]

Measures, on the default device: one training epoch of chapter 4's VAE (512-512, latent 32,
batch 128, dynamic binarization) extrapolated from ``--steps`` steps, and the importance-sampled
log-likelihood (``--k`` samples) extrapolated to the 10 000 test images.
"""

from __future__ import annotations

import argparse
import time

import torch

from helpers.data import batches, load_mnist
from helpers.evaluation import importance_log_likelihood
from helpers.models import gaussian_vae
from helpers.objectives import elbo_loss
from helpers.runtime import pick_device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_training(x: torch.Tensor, steps: int, device: torch.device) -> float:
    """Seconds per training step (forward, backward, Adam) at batch 128."""
    model = gaussian_vae(z_features=32, hidden=(512, 512)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch_iter = iter(())
    for i in range(steps + 10):
        if i == 10:  # warm-up done
            synchronize(device)
            start = time.perf_counter()
        try:
            batch = next(batch_iter)
        except StopIteration:
            batch_iter = batches(x, batch_size=128, binarization="dynamic")
            batch = next(batch_iter)
        loss = elbo_loss(model, batch, 0.0)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def time_likelihood(x: torch.Tensor, k: int, device: torch.device) -> float:
    """Seconds per test image for the importance-sampled log-likelihood with k samples."""
    model = gaussian_vae(z_features=32, hidden=(512, 512)).to(device)
    importance_log_likelihood(model, x[:8], n_samples=64)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    importance_log_likelihood(model, x, n_samples=k)
    synchronize(device)
    return (time.perf_counter() - start) / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    device = pick_device()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    x_train, _ = load_mnist("train", device, limit=None)
    x_test, _ = load_mnist("test", device, limit=args.images)
    x_test = torch.bernoulli(x_test)
    step = time_training(x_train, args.steps, device)
    per_image = time_likelihood(x_test, args.k, device)
    steps_per_epoch = -(-len(x_train) // 128)
    print(f"device: {name}, torch {torch.__version__}")
    print(f"training step (batch 128):           {step * 1e3:8.2f} ms")
    print(f"training epoch ({len(x_train)} images):    {step * steps_per_epoch:8.2f} s")
    print(f"IS log-likelihood, K={args.k}:        {per_image * 1e3:8.2f} ms per image")
    print(f"IS log-likelihood, 10 000 test images: {per_image * 10_000:8.1f} s")


if __name__ == "__main__":
    main()
