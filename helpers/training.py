"""``fit``: the one training loop of the book, with a NaN guard and a checkpoint cache."""

from __future__ import annotations

import copy
import functools
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from helpers.cache import cache_path, load_checkpoint, save_checkpoint
from helpers.data import Binarization, batches
from helpers.objectives import elbo_loss
from helpers.runtime import is_quick, seed_from_env

Objective = Callable[[nn.Module, tuple[Tensor, ...], float], dict[str, Tensor]]
History = list[dict[str, float]]
COMPILE_ENV = "VAEBOOK_COMPILE"


class NonFiniteLossError(FloatingPointError):
    """A logged training quantity became NaN or infinite."""


def compile_from_env() -> bool:
    """True when ``VAEBOOK_COMPILE`` asks :func:`fit` to compile objectives by default."""
    return os.environ.get(COMPILE_ENV, "0").strip().lower() not in {
        "",
        "0",
        "false",
        "no",
    }


def compiled(objective: Objective) -> Objective:
    """``torch.compile(objective)``, or ``objective`` itself (with a warning) where compiling fails.

    A failure shows at the first call (no compiler, an unsupported Python or torch build), so that call
    is retried eagerly and every later call goes straight to the eager objective.
    """
    try:
        fast = torch.compile(objective)
    except Exception as err:  # e.g. torch.compile unsupported on this Python
        warnings.warn(
            f"torch.compile is unavailable ({type(err).__name__}: {err}); training eagerly.",
            stacklevel=2,
        )
        return objective
    failed = False

    @functools.wraps(objective)
    def run(
        model: nn.Module, batch: tuple[Tensor, ...], progress: float
    ) -> dict[str, Tensor]:
        nonlocal failed
        if not failed:
            try:
                return fast(model, batch, progress)
            except Exception as err:
                failed = True
                warnings.warn(
                    f"torch.compile failed ({type(err).__name__}: {err}); training eagerly.",
                    stacklevel=2,
                )
        return objective(model, batch, progress)

    return run


def describe(objective: Callable[..., Any]) -> str:
    """A stable text for an objective (``functools.partial`` keywords included), for cache keys."""
    if isinstance(objective, functools.partial):
        return f"{describe(objective.func)}({sorted(objective.keywords.items())})"
    return f"{getattr(objective, '__module__', '')}.{getattr(objective, '__qualname__', repr(objective))}"


def _raise_non_finite(
    names: list[str], first_bad: Tensor, epoch: int, steps_per_epoch: int
) -> None:
    bad = {
        name: int(step) for name, step in zip(names, first_bad.tolist()) if step >= 0
    }
    if bad:
        step = min(bad.values())
        terms = ", ".join(name for name, s in bad.items() if s == step)
        raise NonFiniteLossError(
            f"Training diverged in epoch {epoch + 1}, step {step % steps_per_epoch + 1} of the epoch "
            f"(step {step + 1} overall): {terms} became NaN or infinite. Lower the learning rate, "
            "check the data for NaN, or bound the scales the model outputs."
        )


@torch.no_grad()
def _validate(
    model: nn.Module, objective: Objective, valid: tuple[Tensor, ...], batch_size: int
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    totals: dict[str, Tensor] = {}
    n = len(valid[0])
    for batch in batches(*valid, batch_size=batch_size, shuffle=False):
        for key, value in objective(model, batch, 1.0).items():
            totals[key] = totals.get(key, 0.0) + value.detach() * len(batch[0])
    model.train(was_training)
    return {f"valid_{k}": float(v) / n for k, v in totals.items() if k != "loss"}


def fit(
    model: nn.Module,
    data: Tensor | tuple[Tensor, ...],
    *,
    epochs: int,
    objective: Objective = elbo_loss,
    batch_size: int = 128,
    lr: float = 1e-3,
    lr_decay: float = 1.0,
    binarization: Binarization = "dynamic",
    valid: Tensor | tuple[Tensor, ...] | None = None,
    patience: int | None = None,
    cache: str | None = None,
    config: dict[str, Any] | None = None,
    check_every: int = 200,
    compile: bool | None = None,
) -> History:
    """Train ``model`` with Adam on mini-batches of ``data`` and return the per-epoch history.

    - ``objective(model, batch, progress)`` returns ``"loss"`` and any other scalars to log.
    - ``valid`` (already binarized) is scored each epoch; with ``patience`` training stops when the
      validation ELBO has not improved for that many epochs, and the best weights are kept.
    - ``lr_decay`` multiplies the learning rate after each epoch.
    - ``cache="name"`` stores the trained weights under ``_cache/`` keyed by a hash of everything
      that defines the run (``config`` adds what the arguments cannot show, e.g. a ``beta``).
    - ``compile=True`` (default: ``VAEBOOK_COMPILE=1``) runs the objective through ``torch.compile``,
      falling back to eager with a warning where that fails; an objective whose arithmetic depends on
      ``progress`` (KL warm-up) recompiles as it changes, so compile those that do not.
    - Adam is fused (one kernel per step) on CUDA and on the CPU.
    """
    data = (data,) if isinstance(data, Tensor) else tuple(data)
    valid = (valid,) if isinstance(valid, Tensor) else valid
    device = data[0].device
    if next(model.parameters()).device != device:
        raise ValueError(
            f"model is on {next(model.parameters()).device} but the data is on {device}; call model.to(device)."
        )
    key = {
        "name": cache, "model": repr(model), "objective": describe(objective), "epochs": epochs,
        "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay, "binarization": binarization,
        "n_train": len(data[0]), "n_valid": None if valid is None else len(valid[0]), "patience": patience,
        "quick": is_quick(), "seed": seed_from_env(), **(config or {}),
    }  # fmt: skip
    path = cache_path(cache, key) if cache else None
    if (
        path is not None
        and (payload := load_checkpoint(path, map_location=device)) is not None
    ):
        try:
            model.load_state_dict(payload["model"])
            print(f"{cache}: loaded trained weights from {path.name}")
            return payload["history"]
        except RuntimeError as err:
            warnings.warn(
                f"Checkpoint {path} does not fit the model ({err}); retraining.",
                stacklevel=2,
            )

    # Fused Adam: one kernel per step, not a loop over parameters (a step several times faster on 2 CPU cores).
    optimizer = torch.optim.Adam(
        model.parameters(), lr=lr, fused=device.type in ("cpu", "cuda") or None
    )
    step_objective = (
        compiled(objective)
        if (compile_from_env() if compile is None else compile)
        else objective
    )
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)
    steps_per_epoch = math.ceil(len(data[0]) / batch_size)
    total_steps = epochs * steps_per_epoch
    history: History = []
    best, best_state, since_best = -math.inf, None, 0
    names: list[str] | None = None
    step = 0
    bar = tqdm(range(epochs), desc=cache or "training", unit="epoch")
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        totals = first_bad = None
        for batch in batches(*data, batch_size=batch_size, binarization=binarization):
            logs = step_objective(model, batch, step / total_steps)
            optimizer.zero_grad(set_to_none=True)
            logs["loss"].backward()
            optimizer.step()
            if names is None:
                names = list(logs)
            values = torch.stack([logs[name].detach().float() for name in names])
            if totals is None:
                totals = torch.zeros_like(values)
                first_bad = torch.full_like(values, -1, dtype=torch.long)
            totals += values * len(batch[0])
            first_bad = torch.where(
                (first_bad < 0) & ~torch.isfinite(values), step, first_bad
            )
            step += 1
            if step % check_every == 0:
                _raise_non_finite(names, first_bad, epoch, steps_per_epoch)
        _raise_non_finite(names, first_bad, epoch, steps_per_epoch)
        record = {
            "epoch": epoch + 1,
            **{n: v / len(data[0]) for n, v in zip(names, totals.tolist())},
        }
        record["lr"] = optimizer.param_groups[0]["lr"]
        scheduler.step()
        if valid is not None:
            record.update(_validate(model, objective, valid, max(batch_size, 1000)))
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        bar.set_postfix(
            loss=f"{record['loss']:.2f}",
            **({"valid_elbo": f"{record['valid_elbo']:.2f}"} if valid else {}),
        )
        if valid is not None:
            if record["valid_elbo"] > best:
                best, best_state, since_best = (
                    record["valid_elbo"],
                    copy.deepcopy(model.state_dict()),
                    0,
                )
            else:
                since_best += 1
                if patience is not None and since_best >= patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    if path is not None:
        save_checkpoint(
            path, {"model": model.state_dict(), "history": history, "config": repr(key)}
        )
    return history
