"""``fit``: the one training loop of the book, in parts that each do one job.

- :func:`train_epoch` runs one epoch of Adam steps, with a NaN guard
  (:class:`RunningLogs`) that never waits for the device between steps;
- :func:`validate` scores held-out data with the objective;
- :class:`EarlyStopping` keeps the best weights by a validation metric and says when
  to stop;
- :func:`training_key`, :func:`load_trained` and :func:`save_trained` cache trained
  weights under ``_cache/``, keyed on a configuration the caller names;
- :func:`prepare_data` binarizes the validation images once;
- :func:`show_progress` writes one progress line per epoch;
- :func:`fit` puts them together, with the learning rate decayed after each epoch.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from helpers.cache import cache_path, load_cached, save_atomically
from helpers.data import Binarization, batches, held_out_binarization
from helpers.objectives import elbo_loss
from helpers.runtime import env_flag

Objective = Callable[[nn.Module, tuple[Tensor, ...], float], dict[str, Tensor]]
History = list[dict[str, float]]
COMPILE_ENV = "VAEBOOK_COMPILE"


class NonFiniteLossError(FloatingPointError):
    """A logged training quantity became NaN or infinite (see :class:`RunningLogs`)."""


def compile_from_env() -> bool:
    """True when ``VAEBOOK_COMPILE`` asks :func:`fit` to compile objectives."""
    return env_flag(COMPILE_ENV)


def compiled(objective: Objective) -> Objective:
    """``torch.compile(objective)``, or ``objective`` (and a warning) where that fails.

    A failure shows at the first call (no compiler, an unsupported Python or torch
    build), so that call is retried eagerly and every later call goes straight to the
    eager objective.
    """
    try:
        fast = torch.compile(objective)
    except Exception as err:  # e.g. torch.compile unsupported on this Python
        warnings.warn(
            f"torch.compile is unavailable ({type(err).__name__}: {err}); "
            "training eagerly.",
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
                    f"torch.compile failed ({type(err).__name__}: {err}); "
                    "training eagerly.",
                    stacklevel=2,
                )
        return objective(model, batch, progress)

    return run


class RunningLogs:
    """Sums of an epoch's logged scalars, kept on the device, and where each went bad.

    Adding a step never waits for the device; :meth:`check` (every few hundred steps
    and at the end of an epoch) raises :class:`NonFiniteLossError` naming the first
    step at which a quantity became NaN or infinite.

    Example:
        >>> logs = RunningLogs()
        >>> logs.add({"loss": torch.tensor(2.0)}, n=4, step=0)
        >>> logs.add({"loss": torch.tensor(4.0)}, n=4, step=1)
        >>> logs.means()
        {'loss': 3.0}
        >>> logs.add({"loss": torch.tensor(float("nan"))}, n=4, step=2)
        >>> logs.check(epoch=0, steps_per_epoch=3)
        Traceback (most recent call last):
        ...
        helpers.training.NonFiniteLossError: Training diverged in epoch 1, step 3 ...
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.totals: Tensor | None = None
        self.first_bad: Tensor | None = None
        self.count = 0

    def add(self, logs: dict[str, Tensor], n: int, step: int) -> None:
        """Add one step's logs, each a batch mean over ``n`` examples."""
        if self.totals is None:
            self.names = list(logs)
        values = torch.stack([logs[name].detach().float() for name in self.names])
        if self.totals is None or self.first_bad is None:
            self.totals = torch.zeros_like(values)
            self.first_bad = torch.full_like(values, -1, dtype=torch.long)
        self.totals += values * n
        self.count += n
        bad = (self.first_bad < 0) & ~torch.isfinite(values)
        self.first_bad = torch.where(bad, step, self.first_bad)

    def check(self, epoch: int, steps_per_epoch: int) -> None:
        """Raise :class:`NonFiniteLossError` if a quantity has gone NaN or infinite."""
        if self.first_bad is None:
            return
        steps = self.first_bad.tolist()
        bad = {name: s for name, s in zip(self.names, steps) if s >= 0}
        if bad:
            step = min(bad.values())
            terms = ", ".join(name for name, s in bad.items() if s == step)
            raise NonFiniteLossError(
                f"Training diverged in epoch {epoch + 1}, step "
                f"{step % steps_per_epoch + 1} of the epoch (step {step + 1} overall): "
                f"{terms} became NaN or infinite. Lower the learning rate, check the "
                "data for NaN, or bound the scales the model outputs."
            )

    def means(self) -> dict[str, float]:
        """The epoch's mean of every logged quantity."""
        if self.totals is None:
            return {}
        return {n: v / self.count for n, v in zip(self.names, self.totals.tolist())}


def train_epoch(
    model: nn.Module,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    data: tuple[Tensor, ...],
    epoch: int,
    epochs: int,
    batch_size: int = 128,
    binarization: Binarization = "dynamic",
    check_every: int = 200,
) -> dict[str, float]:
    """One epoch (number ``epoch`` of ``epochs``) of steps; the mean of each log.

    ``objective(model, batch, progress)`` gets ``progress`` from 0 to 1 over all the
    epochs, for schedules such as KL warm-up.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> vae = bernoulli_vae(6, 2, (8,))
        >>> adam = torch.optim.Adam(vae.parameters())
        >>> logs = train_epoch(vae, elbo_loss, adam, (torch.rand(8, 6),), 0, 1, 4)
        >>> sorted(logs)
        ['elbo', 'kl', 'loss', 'recon']
    """
    model.train()
    steps_per_epoch = math.ceil(len(data[0]) / batch_size)
    total_steps = epochs * steps_per_epoch
    logs = RunningLogs()
    each = batches(*data, batch_size=batch_size, binarization=binarization)
    for step, batch in enumerate(each, start=epoch * steps_per_epoch):
        out = objective(model, batch, step / total_steps)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        logs.add(out, len(batch[0]), step)
        if (step + 1) % check_every == 0:
            logs.check(epoch, steps_per_epoch)
    logs.check(epoch, steps_per_epoch)
    return logs.means()


@torch.no_grad()
def validate(
    model: nn.Module,
    objective: Objective,
    valid: tuple[Tensor, ...],
    batch_size: int = 1000,
) -> dict[str, float]:
    """Mean of every logged quantity but the loss on ``valid``, named ``valid_<name>``.

    The objective runs with ``progress=1`` (the end of any schedule), the model in
    evaluation mode (and back to its previous mode after).

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> sorted(validate(bernoulli_vae(6, 2, (8,)), elbo_loss, (torch.ones(5, 6),)))
        ['valid_elbo', 'valid_kl', 'valid_recon']
    """
    was_training = model.training
    model.eval()
    totals: dict[str, Tensor] = {}
    n = len(valid[0])
    for batch in batches(*valid, batch_size=batch_size, shuffle=False):
        for key, value in objective(model, batch, 1.0).items():
            totals[key] = totals.get(key, 0.0) + value.detach() * len(batch[0])
    model.train(was_training)
    return {f"valid_{k}": float(v) / n for k, v in totals.items() if k != "loss"}


class EarlyStopping:
    """Keep the weights of the best epoch by ``valid_<metric>`` (higher is better).

    :meth:`update` returns True when ``patience`` epochs have passed without
    improvement (never, with ``patience=None``); :meth:`restore` loads the best weights.

    Example:
        >>> model, stopping = nn.Linear(1, 1), EarlyStopping("elbo", patience=2)
        >>> values = (-3.0, -2.0, -2.5, -2.1)
        >>> [stopping.update({"valid_elbo": v}, model) for v in values]
        [False, False, False, True]
        >>> stopping.best
        -2.0
    """

    def __init__(self, metric: str = "elbo", patience: int | None = None) -> None:
        self.key, self.patience = f"valid_{metric}", patience
        self.best, self.since_best = -math.inf, 0
        self.state: dict[str, Tensor] | None = None

    def update(self, record: dict[str, float], model: nn.Module) -> bool:
        """Note an epoch's record; True when training should stop."""
        if self.key not in record:
            raise KeyError(
                f"The validation metric {self.key!r} is not among the logged "
                f"quantities {sorted(record)}: the objective must log "
                f"{self.key.removeprefix('valid_')!r}, or pass fit(metric=...)."
            )
        if record[self.key] > self.best:
            self.best, self.since_best = record[self.key], 0
            self.state = copy.deepcopy(model.state_dict())
            return False
        self.since_best += 1
        return self.patience is not None and self.since_best >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's weights into ``model`` (if any epoch was validated)."""
        if self.state is not None:
            model.load_state_dict(self.state)


def training_key(
    name: str, config: dict[str, Any], schedule: dict[str, Any]
) -> dict[str, Any]:
    """What defines a training run's weights, as the dictionary the cache hashes.

    ``config`` is what the caller names (the model's kind and sizes, the objective
    and its settings, the seed the weights start from); ``schedule`` is
    :func:`fit`'s own arguments and the sizes of the data.

    Example:
        >>> key = training_key("ch4_vae", {"z": 32, "seed": 0}, {"epochs": 400})
        >>> key
        {'name': 'ch4_vae', 'config': {'z': 32, 'seed': 0}, 'schedule': {'epochs': 400}}
        >>> cache_path("ch4_vae", key).name
        'ch4_vae-....pt'
    """
    return {"name": name, "config": config, "schedule": schedule}


def load_trained(model: nn.Module, path: Path, label: str) -> History | None:
    """Load cached weights into ``model`` and return their history; None if none fit.

    Example:
        >>> load_trained(nn.Linear(1, 1), Path("/nonexistent.pt"), "demo") is None
        True
    """
    device = next(model.parameters()).device
    payload = load_cached(path, map_location=device, keys=("model", "history"))
    if payload is None:
        return None
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as err:
        warnings.warn(
            f"Checkpoint {path} does not fit the model ({err}); retraining.",
            stacklevel=2,
        )
        return None
    return payload["history"]


def save_trained(
    path: Path, model: nn.Module, history: History, key: dict[str, Any]
) -> None:
    """Cache ``model``'s weights with their history and training key at ``path``.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo.pt"
        >>> save_trained(path, nn.Linear(1, 1), [{"epoch": 1}], {"name": "demo"})
        >>> load_trained(nn.Linear(1, 1), path, "demo")
        [{'epoch': 1}]
    """
    payload = {
        "model": model.state_dict(),
        "history": history,
        "key": json.dumps(key, sort_keys=True, default=str),  # for a reader of the file
    }
    save_atomically(path, payload)


def show_progress(bar: tqdm, record: dict[str, float], metric: str = "elbo") -> None:
    """Show an epoch's training loss (and validation metric) beside its progress bar.

    Example:
        >>> bar = tqdm(range(1), disable=True)
        >>> show_progress(bar, {"loss": 91.5, "valid_elbo": -93.25})
        >>> bar.postfix
        'loss=91.50, valid_elbo=-93.25'
    """
    shown = {"loss": record["loss"]}
    if f"valid_{metric}" in record:
        shown[f"valid_{metric}"] = record[f"valid_{metric}"]
    bar.set_postfix({k: f"{v:.2f}" for k, v in shown.items()})


def prepare_data(
    model: nn.Module,
    data: Tensor | tuple[Tensor, ...],
    valid: Tensor | tuple[Tensor, ...] | None,
    binarization: Binarization,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...] | None]:
    """Training and validation data as tuples, the validation images binarized once.

    Raises a clear error when the model and the data are on different devices.

    Example:
        >>> data, valid = prepare_data(nn.Linear(1, 1), torch.ones(3, 1),
        ...                            torch.full((2, 1), 0.4), "threshold")
        >>> len(data), valid[0].tolist()
        (1, [[0.0], [0.0]])
    """
    data = (data,) if isinstance(data, Tensor) else tuple(data)
    if valid is not None:
        valid = (valid,) if isinstance(valid, Tensor) else tuple(valid)
        valid = (held_out_binarization(valid[0], binarization), *valid[1:])
    device = next(model.parameters()).device
    if device != data[0].device:
        raise ValueError(
            f"model is on {device} but the data is on {data[0].device}; "
            "call model.to(device)."
        )
    return data, valid


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
    metric: str = "elbo",
    patience: int | None = None,
    cache: str | None = None,
    config: dict[str, Any] | None = None,
    check_every: int = 200,
    compile: bool | None = None,
    after_epoch: Callable[[nn.Module, int], dict[str, float]] | None = None,
) -> History:
    """Train ``model`` with Adam on mini-batches of ``data``; the per-epoch history.

    - ``objective(model, batch, progress)`` returns ``"loss"`` and other scalars to log.
    - ``valid`` (grey levels or binary; binarized here once, seeded, to match
      ``binarization``) is scored each epoch, and the weights of the epoch with the
      best ``valid_<metric>`` are kept; with ``patience`` training stops when that has
      not improved for that many epochs.
    - ``lr_decay`` multiplies the learning rate after each epoch.
    - ``cache="name"`` stores the trained weights under ``_cache/``, and a later call
      with the same name, ``config`` and arguments loads them instead of training.
      ``config`` names what defines the weights that these arguments do not: the
      model's kind and sizes, the objective's settings, the seed the weights start
      from (:func:`training_key`).
    - ``compile=True`` (default: ``VAEBOOK_COMPILE=1``) runs the objective through
      ``torch.compile`` (eager, with a warning, where that fails); an objective whose
      arithmetic depends on ``progress`` (KL warm-up) recompiles as it changes.
    - Adam is fused (one kernel per step) on CUDA and on the CPU.
    - ``after_epoch(model, epoch)`` (epochs count from 1) returns numbers to add to
      that epoch's record, such as a learning curve's test score; it runs with its
      own copy of the random state, so that training draws the same numbers whether
      or not it is there, and its time is not in the record's ``seconds``. Its
      numbers are cached with the history: name what it measures in ``config``.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> x = torch.rand(16, 6)
        >>> history = fit(bernoulli_vae(6, 2, (8,)), x, epochs=2, batch_size=8,
        ...               valid=x[:4], patience=5)
        >>> [h["epoch"] for h in history], "valid_elbo" in history[0]
        ([1, 2], True)
        >>> curve = fit(bernoulli_vae(6, 2, (8,)), x, epochs=2, batch_size=8,
        ...             after_epoch=lambda model, epoch: {"twice": 2.0 * epoch})
        >>> [h["twice"] for h in curve]
        [2.0, 4.0]
    """
    if cache is not None and config is None:
        raise ValueError(
            f"fit(cache={cache!r}) needs config=: a dictionary of what defines the "
            "trained weights (the model's kind and sizes, the seed...)."
        )
    data, valid = prepare_data(model, data, valid, binarization)
    path = key = None
    if cache is not None and config is not None:
        n_valid = None if valid is None else len(valid[0])
        schedule = {
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay,
            "binarization": binarization, "metric": metric, "patience": patience,
            "n_train": len(data[0]), "n_valid": n_valid,
        }  # fmt: skip
        key = training_key(cache, config, schedule)
        path = cache_path(cache, key)
        if (trained := load_trained(model, path, cache)) is not None:
            return trained
    optimizer = torch.optim.Adam(
        model.parameters(), lr=lr, fused=data[0].device.type in ("cpu", "cuda") or None
    )
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)
    use_compile = compile_from_env() if compile is None else compile
    step_objective = compiled(objective) if use_compile else objective
    stopping, history = EarlyStopping(metric, patience), []
    bar = tqdm(range(epochs), desc=cache or "training", unit="epoch")
    for epoch in bar:
        start = time.perf_counter()
        logs = train_epoch(model, step_objective, optimizer, data, epoch, epochs,
                           batch_size, binarization, check_every)  # fmt: skip
        record = {"epoch": epoch + 1, **logs, "lr": optimizer.param_groups[0]["lr"]}
        scheduler.step()
        if valid is not None:
            record.update(validate(model, objective, valid, max(batch_size, 1000)))
        record["seconds"] = time.perf_counter() - start
        if after_epoch is not None:
            device = data[0].device
            gpus = [device] if device.type == "cuda" else []  # besides the CPU's
            with torch.random.fork_rng(devices=gpus):
                record.update(after_epoch(model, epoch + 1))
        history.append(record)
        show_progress(bar, record, metric)
        if valid is not None and stopping.update(record, model):
            break
    stopping.restore(model)
    if path is not None and key is not None:
        save_trained(path, model, history, key)
    return history
