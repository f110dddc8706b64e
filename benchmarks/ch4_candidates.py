"""Chapter 4's plain VAE at other sizes: which reaches the 88-nat target?

Trains one configuration exactly as chapter 4 does (dynamic binarization, batch 128,
Adam 1e-3 decaying to 1e-4 over the run, the best validation ELBO kept, patience scaled
with the epochs), then scores the fixed-binarized test set (seed 2) at K importance
samples, and the first 1000 training and validation images (one fixed binarization, seed
5) to show the generalization gap; prints one JSON line. Usage: ``python
benchmarks/ch4_candidates.py --hidden 200 200 --z 50 --epochs 1000``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from helpers.data import fixed_binarization, load_mnist
from helpers.evaluation import active_units, score
from helpers.models import bernoulli_vae
from helpers.training import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--z", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument(
        "--all-training", action="store_true",
        help="train on all 60 000 training images (as Burda et al.), no early stopping",
    )  # fmt: skip
    args = parser.parse_args()
    x_train, _ = load_mnist("train", "cpu")
    x_valid, _ = load_mnist("valid", "cpu")
    x_test = fixed_binarization(load_mnist("test", "cpu")[0], seed=2)
    data, valid = x_train, x_valid
    if args.all_training:
        data, valid = torch.cat([x_train, x_valid]), None
    torch.manual_seed(0)
    model = bernoulli_vae(z_features=args.z, hidden=tuple(args.hidden))
    start = time.perf_counter()
    history = fit(
        model, data, epochs=args.epochs, batch_size=128, lr=1e-3,
        lr_decay=0.1 ** (1 / args.epochs), binarization="dynamic", valid=valid,
        patience=max(40, args.epochs // 10) if valid is not None else None,
        cache=f"ch4cand_{args.z}_{args.hidden}_{args.all_training}",
        config={"model": "bernoulli_vae", "z": args.z, "hidden": args.hidden,
                "seed": 0},
    )  # fmt: skip
    minutes = (time.perf_counter() - start) / 60
    model.eval()
    row = {
        "hidden": args.hidden,
        "z": args.z,
        "epochs": len(history),
        "train_minutes": minutes,
    }
    row["train_elbo_last"] = history[-1]["elbo"]
    if valid is not None:
        row["best_epoch"] = max(history, key=lambda h: h["valid_elbo"])["epoch"]
        row["valid_elbo_best"] = max(h["valid_elbo"] for h in history)
    start = time.perf_counter()
    test = score(model, x_test, args.k).row()
    row["is_minutes"] = (time.perf_counter() - start) / 60
    row |= {f"test {k}": v for k, v in test.items()}
    for split in ("train", "valid"):
        x = fixed_binarization(load_mnist(split, "cpu")[0][:1000], seed=5)
        row[f"{split}1000 NLL"] = score(model, x, args.k).row()["NLL"]
    row["active units"] = active_units(model, x_test)[0]
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
