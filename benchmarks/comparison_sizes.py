"""Seconds per training step and per importance-sampled image of every comparison
variant, at the comparison's width and a narrower one, in one process.

Sizes the comparison of chapters 8-10 so that 3 seeds of every variant fit a chapter's
90 minutes on the 2-core machine. Run on an otherwise idle machine:

    .venv/bin/python benchmarks/comparison_sizes.py > benchmarks/results/<dir>/sizes.txt
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import torch

from helpers import comparison
from helpers.evaluation import importance_log_likelihood


def iwae_loss(model, batch, progress, k=5):
    """The IWAE bound of chapter 10 (copied here for timing only)."""
    x = batch[0]
    q = model.encoder(x)
    z = q.rsample((k,))
    log_w = model.decoder(z).log_prob(x) + model.prior().log_prob(z) - q.log_prob(z)
    bound = (torch.logsumexp(log_w, dim=0) - math.log(k)).mean()
    return {"loss": -bound}


def step_seconds(model, objective, x, steps=30, warmup=5, batch=256) -> float:
    """Median-free mean seconds of one Adam step on batches of ``batch`` images."""
    adam = torch.optim.Adam(model.parameters(), 1e-3)
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        xb = torch.bernoulli(x[(i * batch) % 4096 :][:batch])
        loss = objective(model, (xb,), 0.5)["loss"]
        adam.zero_grad()
        loss.backward()
        adam.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    torch.manual_seed(0)
    x = torch.rand(4352, 784)
    variants = dict(comparison.VARIANTS)
    for k in (5, 10):
        variants[f"IWAE k={k}"] = comparison.Variant(
            None, "Gaussian", "Gaussian", functools.partial(iwae_loss, k=k)
        )
    for hidden in [(512, 512), (256, 256)]:
        settings = dataclasses.replace(comparison.FULL, hidden=hidden)
        total = 0.0
        print(f"hidden {hidden}")
        for name, variant in variants.items():
            model = comparison.build(variant, settings)
            params = sum(p.numel() for p in model.parameters())
            seconds = step_seconds(model, variant.objective, x)
            epoch = seconds * math.ceil(50_000 / 256)
            total += epoch
            with torch.no_grad():
                start = time.perf_counter()
                importance_log_likelihood(model, torch.bernoulli(x[:200]), 100)
                per_million = (time.perf_counter() - start) / 20_000 * 1e6
            print(
                f"  {name:28s} {params / 1e6:5.2f} M params  "
                f"{seconds * 1e3:6.1f} ms/step  {epoch:5.1f} s/epoch  "
                f"{per_million:5.1f} s per 1M importance samples",
                flush=True,
            )
        print(f"  all variants, 30 epochs: {total * 30 / 60:.1f} min")


if __name__ == "__main__":
    main()
