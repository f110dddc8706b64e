"""Run-time set-up shared by every chapter: the run (full or short), seed, device.

:func:`setup` is the one place that decides whether a chapter makes a full run or a
short one; it returns a :class:`Run`, which the chapter passes to whatever depends on
that choice. Nothing else in ``helpers`` reads the choice from anywhere.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

SHORT_RUN_ENV = "VAEBOOK_QUICK"  # CI and `make execute` set it; it overrides SHORT_RUN
SEED_ENV = "VAEBOOK_SEED"
T = TypeVar("T")


class FullRunNeedsGPU(RuntimeError):
    """Raised on Colab when the full run would start on a CPU."""


@dataclass(frozen=True)
class Run:
    """What a chapter's run is: full or short, on which device, from which seed.

    A short run (about a minute on a CPU) uses less data, fewer epochs and fewer
    samples: its numbers are rough, but it goes through every line of the chapter.

    Example:
        >>> run = Run(torch.device("cpu"), short=True, seed=0)
        >>> run.pick(full=400, short=2), run.pick(full=None, short=3000)
        (2, 3000)
    """

    device: torch.device
    short: bool
    seed: int

    def pick(self, full: T, short: T) -> T:
        """The value for this run: ``full`` in a full run, ``short`` in a short one."""
        return short if self.short else full


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to anything but 0/false/no.

    Example:
        >>> import os
        >>> os.environ["VAEBOOK_EXAMPLE"] = "yes"
        >>> env_flag("VAEBOOK_EXAMPLE"), env_flag("VAEBOOK_UNSET_FLAG")
        (True, False)
    """
    return os.environ.get(name, "0").strip().lower() not in {"", "0", "false", "no"}


def short_run_from_env(short_run: bool) -> bool:
    """``VAEBOOK_QUICK`` when it is set (``0``: a full run), else ``short_run``.

    CI and ``make execute`` set the variable; a reader flips the notebook's
    ``SHORT_RUN`` line instead.

    Example:
        >>> os.environ["VAEBOOK_QUICK"] = "1"
        >>> short_run_from_env(False)
        True
        >>> del os.environ["VAEBOOK_QUICK"]
        >>> short_run_from_env(False)
        False
    """
    if not os.environ.get(SHORT_RUN_ENV, "").strip():
        return short_run
    return env_flag(SHORT_RUN_ENV)


def on_colab() -> bool:
    """True inside a Google Colab runtime (which imports ``google.colab`` at start)."""
    return "google.colab" in sys.modules


def check_colab_device(device: torch.device, short: bool) -> None:
    """Refuse a full run on a Colab CPU runtime, saying how to get on.

    Off Colab a CPU full run is allowed: the book itself is executed on CPUs.
    """
    if on_colab() and device.type == "cpu" and not short:
        raise FullRunNeedsGPU(
            "This Colab runtime has no GPU, and the chapter's full run would "
            "take hours on its CPU. Either\n"
            "- switch to a GPU: Runtime → Change runtime type → a GPU (T4 is enough) "
            "→ Save, then run the notebook again from the top (Runtime → Run all); or\n"
            "- choose a short run: set SHORT_RUN = True in the first code cell "
            "and run again (about a minute; its numbers are only rough)."
        )


def seed_from_env() -> int:
    """The seed in ``VAEBOOK_SEED`` (default 0), so a run can be repeated over seeds.

    Example:
        >>> os.environ["VAEBOOK_SEED"] = "3"
        >>> seed_from_env()
        3
        >>> del os.environ["VAEBOOK_SEED"]
        >>> seed_from_env()
        0
    """
    raw = os.environ.get(SEED_ENV, "0")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an integer, got {raw!r}.") from None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (every device) with one number.

    Example:
        >>> seed_everything(3); a = torch.rand(2)
        >>> seed_everything(3); torch.equal(a, torch.rand(2))
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if (
        getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available()
    ):
        return torch.device("mps")
    return torch.device("cpu")


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one).

    Benchmark records and the appendix name the machine with it.
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def book_root() -> Path:
    """The book's root folder (where ``_config.yml`` is), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "_config.yml").exists() else Path.cwd()


def cache_dir() -> Path:
    """Where trained weights are cached: ``VAEBOOK_CACHE``, else the root's ``_cache/``.

    ``make execute`` points ``VAEBOOK_CACHE`` at an empty folder, so that a stored
    execution costs what a reader who opens the chapter alone pays.

    Example:
        >>> os.environ["VAEBOOK_CACHE"] = "/tmp/cold-04"
        >>> cache_dir()
        PosixPath('/tmp/cold-04')
        >>> del os.environ["VAEBOOK_CACHE"]
    """
    folder = os.environ.get("VAEBOOK_CACHE")
    return Path(folder) if folder else book_root() / "_cache"


def configure_backends(device: torch.device) -> None:
    """The process-wide speed settings every chapter (and the benchmark) runs with.

    - TF32 matrix products on CUDA GPUs from Ampere on;
    - denormal floats flushed to zero on the CPU: tiny values that appear as training
      goes on otherwise take a slow path in the CPU's arithmetic (measured: epochs of
      the benchmark's model 38 % slower from the fourth on).
    """
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    # Returns False, and changes nothing, on CPUs without the instruction.
    torch.set_flush_denormal(True)


def setup(short_run: bool = False, seed: int | None = None) -> Run:
    """Decide the run, pick the device, seed everything, set backends and theme.

    The first code cell of every chapter calls this with its ``SHORT_RUN`` switch
    (``VAEBOOK_QUICK``, when set, overrides it) and keeps the :class:`Run` it returns.
    ``seed`` defaults to ``VAEBOOK_SEED`` (else 0). On a Colab CPU runtime a full run
    is refused with :class:`FullRunNeedsGPU`. Prints one line, e.g. ``full run |
    device: CPU | seed: 0 | torch 2.14.1``.
    """
    from helpers.plots import set_theme

    short = short_run_from_env(short_run)
    device = pick_device()
    check_colab_device(device, short)
    seed = seed_from_env() if seed is None else seed
    seed_everything(seed)
    configure_backends(device)
    set_theme()
    kind = "short run (about a minute; rough numbers)" if short else "full run"
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else device.type.upper()
    )
    print(f"{kind} | device: {name} | seed: {seed} | torch {torch.__version__}")
    return Run(device=device, short=short, seed=seed)
