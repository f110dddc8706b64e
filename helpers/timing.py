"""Timing and device facts: clocks that wait for the GPU, names, memory, MADE calls.

A GPU runs queued work asynchronously, so a clock read is only meaningful after
:func:`synchronize`; :func:`best_seconds` does that around each run. Peak memory is
what torch measured on a CUDA device (None elsewhere).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import zuko
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from helpers.runtime import cpu_name


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock reading means what it says.

    A CUDA device runs queued work asynchronously; the CPU has nothing to wait for.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device, cpu_model: bool = False) -> str:
    """The GPU's name, or "CPU (N threads)" (with the CPU's model if ``cpu_model``).

    Example:
        >>> device_name(torch.device("cpu")).startswith("CPU (")
        True
    """
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    if cpu_model:
        return f"{cpu_name()} (CPU, {threads} threads)"
    return f"{device.type.upper()} ({threads} threads)"


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory measurement on a CUDA device (nothing elsewhere)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float | None:
    """Peak memory torch allocated on a CUDA device since the last reset (else None).

    Example:
        >>> peak_memory_gib(torch.device("cpu")) is None
        True
    """
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return None


def format_memory(gib: float | None) -> str:
    """A peak-memory figure as text (torch measures it on CUDA only).

    Example:
        >>> format_memory(1.5), format_memory(None)
        ('1.50 GiB', 'n/a (CPU)')
    """
    return "n/a (CPU)" if gib is None else f"{gib:.2f} GiB"


def best_seconds(
    fn: Callable[[], object], device: torch.device, repeats: int = 3
) -> float:
    """The best wall-clock time of ``repeats`` runs of ``fn``, each one synchronized.

    Example:
        >>> best_seconds(lambda: sum(range(1000)), torch.device("cpu")) < 1.0
        True
    """
    best = math.inf
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def interleaved_seconds(
    fns: Mapping[str, Callable[[], object]], device: torch.device, rounds: int = 20
) -> dict[str, float]:
    """The median wall-clock time of each function, over ``rounds`` rounds that run
    every one of them once, in turn, each run synchronized.

    Interleaving spreads a change in the machine's speed (another process, a clock
    that slows) over all the functions, instead of loading it onto those timed while
    it lasts; the median ignores the odd slow round.

    Example:
        >>> cpu = torch.device("cpu")
        >>> times = interleaved_seconds({"a": lambda: sum(range(99))}, cpu, rounds=3)
        >>> list(times), times["a"] < 1.0
        (['a'], True)
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def training_step(
    model: nn.Module,
    objective: Callable[..., dict[str, Tensor]],
    batch: tuple[Tensor, ...],
) -> Callable[[], None]:
    """One training step's forward and backward pass of ``objective`` on ``batch``, as
    a function to time or count (no optimizer: the gradients accumulate in ``model``).

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> from helpers.objectives import elbo_loss
        >>> vae = bernoulli_vae(784, 2, (8,))
        >>> training_step(vae, elbo_loss, (torch.ones(4, 784),))()
        >>> all(p.grad is not None for p in vae.decoder.parameters())
        True
    """

    def step() -> None:
        objective(model, batch, 0.5)["loss"].backward()

    return step


def training_step_gflops(
    model: nn.Module,
    objective: Callable[..., dict[str, Tensor]],
    batch: tuple[Tensor, ...],
) -> float:
    """The operations of one :func:`training_step`, in 10^9.

    Counted by torch's ``FlopCounterMode`` (matrix products, the bulk of an MLP's
    arithmetic; element-wise work and the optimizer are not counted), so they do not
    depend on the machine or its load. The random state is left as it was and the
    gradients are cleared.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> from helpers.objectives import elbo_loss
        >>> vae = bernoulli_vae(784, 16, (512, 512))
        >>> # 2 x batch x weights forward, twice that backward, but no gradient
        >>> # for the images: 256 x (6 x 1 351 680 - 2 x 784 x 512) operations
        >>> round(training_step_gflops(vae, elbo_loss, (torch.ones(256, 784),)), 2)
        1.87
    """
    device = batch[0].device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        with FlopCounterMode(display=False) as counter:
            training_step(model, objective, batch)()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 1e9


def seconds_per_epoch(epoch_seconds: Sequence[float]) -> float:
    """The median over the epochs after the first (which pays for warm-up).

    With a single epoch, that epoch's time.

    Example:
        >>> seconds_per_epoch([100.0, 1.0, 3.0, 2.0]), seconds_per_epoch([7.0])
        (2.0, 7.0)
    """
    return statistics.median(
        epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    )


class MadeCalls:
    """Count forward passes of every MADE (``zuko.nn.MaskedMLP``) in a module.

    Counts while the ``with`` block runs; sampling a MAF takes one pass per dimension
    and layer, scoring it one pass per layer.

    Example:
        >>> maf = zuko.flows.MAF(4, transforms=2, hidden_features=(8,))
        >>> with torch.no_grad(), MadeCalls(maf) as calls:
        ...     z = maf().sample((3,))
        >>> calls.count
        8
    """

    def __init__(self, module: nn.Module) -> None:
        self.mades = [m for m in module.modules() if isinstance(m, zuko.nn.MaskedMLP)]
        self.count = 0

    def __enter__(self) -> MadeCalls:
        self.handles = [m.register_forward_hook(self.hook) for m in self.mades]
        return self

    def hook(self, *_: Any) -> None:
        """Called by torch after each MADE's forward pass."""
        self.count += 1

    def __exit__(self, *_: object) -> None:
        for handle in self.handles:
            handle.remove()
