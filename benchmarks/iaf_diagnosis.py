"""Why is the book's IAF posterior no better than a diagonal Gaussian? A paired run.

The comparison's sizes (hidden 512-512, latent 16, batch 256, Adam 1e-3 decaying by
0.975 per epoch, dynamic binarization) for ``--epochs`` epochs, then K importance
samples on the first ``--test-images`` fixed-binarized test images, each variant paired
against the plain VAE on the same images. Variants:

- ``plain``: the diagonal Gaussian posterior;
- ``iaf``: the IAF posterior as the chapters build it (zuko's default initialisation of
  each MADE);
- ``iaf-identity``: the same with each MADE's output layer at zero, so that the flow
  starts as the identity (``IAFEncoder(identity_init=True)``);
- ``iaf-identity-1``: one autoregressive layer instead of two.

For each: the last epoch's training ELBO, the best validation ELBO, seconds per epoch,
test ELBO and NLL, the paired NLL difference from ``plain`` with its standard error, and
the flow's mean log-determinant on the test images (how far the trained flow is from the
identity).

Usage: ``python benchmarks/iaf_diagnosis.py --json benchmarks/results/iaf-
DATE/results.json`` (about 4 minutes per variant at 30 epochs on a quiet 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from helpers.comparison import FULL, Settings, Variant, load_data, train
from helpers.evaluation import mean_and_se, score
from helpers.models import VAE, bernoulli_vae, standard_normal_prior
from helpers.posteriors import iaf_vae

VARIANT_NAMES = ("plain", "iaf", "iaf-identity", "iaf-identity-1")


def build(name: str, settings: Settings) -> VAE:
    """The untrained model called ``name`` at the comparison's sizes ``settings``."""
    z, hidden = settings.z, settings.hidden
    prior = standard_normal_prior(z)
    if name == "plain":
        return bernoulli_vae(784, z, hidden, prior)
    layers = 1 if name.endswith("-1") else settings.iaf_layers
    return iaf_vae(
        784, z, hidden, prior, context=settings.context, transforms=layers,
        flow_hidden=settings.flow_hidden, identity_init="identity" in name,
    )  # fmt: skip


@torch.no_grad()
def mean_log_det(model: VAE, x: torch.Tensor) -> float:
    """Mean log |det J| of the posterior flow, one sample per image (0: identity)."""
    q = model.encoder(x)
    if not hasattr(q, "base"):
        return 0.0
    _, ladj = q.transform.inv.call_and_ladj(q.base.sample())
    return ladj.mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings = replace(
        FULL, epochs=args.epochs, k_is=args.k, test_images=args.test_images
    )
    data = load_data(device, settings)
    results, reference = {}, None
    for name in args.variants:
        torch.manual_seed(0)
        model = build(name, settings).to(device)
        variant = Variant(f"iafdiag_{name}_{args.epochs}", "Gaussian", "Gaussian")
        config = {"model": name, **settings.sizes(), "seed": 0}
        start = time.perf_counter()
        history = train(model, variant, data, settings, config=config)
        minutes = (time.perf_counter() - start) / 60
        model.eval()
        scores = score(
            model, data.x_test, args.k, cache=f"iafdiag_{name}_{args.epochs}"
        )
        row = {
            "train_elbo_last": history[-1]["elbo"],
            "valid_elbo_best": max(h["valid_elbo"] for h in history),
            "s_per_epoch": sum(h["seconds"] for h in history) / len(history),
            "train_minutes_this_call": minutes,
            **scores.row(["test ELBO", "NLL", "NLL s.e."]),
            "mean_log_det": mean_log_det(model, data.x_test[:1000]),
        }
        if reference is None:
            reference = scores
        paired = reference.log_px - scores.log_px
        row["dNLL"], row["dNLL_se"] = mean_and_se(paired)
        results[name] = row
        print(name, json.dumps(row), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"epochs": args.epochs, "k": args.k, "test_images": args.test_images}
        args.json.write_text(
            json.dumps({"settings": meta, "results": results}, indent=1)
        )


if __name__ == "__main__":
    main()
