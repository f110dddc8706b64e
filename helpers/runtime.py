"""Run-time set-up shared by every chapter: mode, seed, device, paths."""

from __future__ import annotations

import os
import platform
import random
import sys
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "VAEBOOK_QUICK"
SEED_ENV = "VAEBOOK_SEED"

_short_run = False  # the notebook's SHORT_RUN switch, as last passed to setup()


class FullRunNeedsGPU(RuntimeError):
    """Raised on Colab when the full schedule would start on a CPU."""


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to anything but 0/false/no.

    Example:
        >>> import os
        >>> os.environ["VAEBOOK_EXAMPLE"] = "yes"
        >>> env_flag("VAEBOOK_EXAMPLE"), env_flag("VAEBOOK_UNSET_FLAG")
        (True, False)
    """
    return os.environ.get(name, "0").strip().lower() not in {"", "0", "false", "no"}


def is_quick() -> bool:
    """True for the short schedule: ``VAEBOOK_QUICK`` when set, else ``SHORT_RUN``.

    CI and ``make execute`` set the variable (``VAEBOOK_QUICK=0`` is the full run);
    a reader flips the notebook's ``SHORT_RUN`` line, which ``setup`` passes here.
    """
    if not os.environ.get(QUICK_ENV, "").strip():
        return _short_run
    return env_flag(QUICK_ENV)


def on_colab() -> bool:
    """True inside a Google Colab runtime (which imports ``google.colab`` at start)."""
    return "google.colab" in sys.modules


def check_colab_device(device: torch.device) -> None:
    """Refuse the full schedule on a Colab CPU runtime, saying how to get on.

    Off Colab a CPU full run is allowed: the book itself is executed on CPUs.
    """
    if on_colab() and device.type == "cpu" and not is_quick():
        raise FullRunNeedsGPU(
            "This Colab runtime has no GPU, and the chapter's full schedule would "
            "take hours on its CPU. Either\n"
            "- switch to a GPU: Runtime → Change runtime type → a GPU (T4 is enough) "
            "→ Save, then run the notebook again from the top (Runtime → Run all); or\n"
            "- choose the short schedule: set SHORT_RUN = True in the first code cell "
            "and run again (about a minute; its numbers are only rough)."
        )


def seed_from_env() -> int:
    """The seed in ``VAEBOOK_SEED`` (default 0), so a run can be repeated over seeds.

    Example:
        >>> isinstance(seed_from_env(), int)
        True
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
    """CUDA if present, then Apple's MPS, then the CPU.

    Example:
        >>> pick_device().type in {"cuda", "mps", "cpu"}
        True
    """
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

    Example:
        >>> name = cpu_name()
        >>> isinstance(name, str) and len(name) > 0
        True
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def book_root() -> Path:
    """The book's root folder (where ``_config.yml`` is), else the working directory.

    Example:
        >>> book_root().is_dir()
        True
    """
    here = Path(__file__).resolve().parent.parent
    return here if (here / "_config.yml").exists() else Path.cwd()


def cache_dir() -> Path:
    """Where trained weights are cached: ``VAEBOOK_CACHE``, else the root's ``_cache/``.

    ``make execute`` points ``VAEBOOK_CACHE`` at an empty folder, so that a stored
    execution costs what a reader who opens the chapter alone pays.

    Example:
        >>> os.environ.pop("VAEBOOK_CACHE", None) and None
        >>> cache_dir().name
        '_cache'
    """
    folder = os.environ.get("VAEBOOK_CACHE")
    return Path(folder) if folder else book_root() / "_cache"


def configure_backends(device: torch.device) -> None:
    """The process-wide speed settings every chapter (and the benchmark) runs with.

    - TF32 matrix products on CUDA GPUs from Ampere on;
    - denormal floats flushed to zero on the CPU: tiny values that appear as training
      goes on otherwise take a slow path in the CPU's arithmetic (measured: epochs of
      the benchmark's model 38 % slower from the fourth on).

    Example:
        >>> configure_backends(torch.device("cpu"))
    """
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    # Returns False, and changes nothing, on CPUs without the instruction.
    torch.set_flush_denormal(True)


def setup(seed: int | None = None, short_run: bool = False) -> torch.device:
    """Pick the schedule and device, seed everything, set backends and theme; print.

    The first code cell of every chapter calls this with its ``SHORT_RUN`` switch
    (``VAEBOOK_QUICK``, when set, overrides it). On a Colab CPU runtime the full
    schedule is refused with :class:`FullRunNeedsGPU`.
    """
    from helpers.plots import set_theme

    global _short_run
    _short_run = short_run
    device = pick_device()
    check_colab_device(device)
    seed = seed_from_env() if seed is None else seed
    seed_everything(seed)
    configure_backends(device)
    set_theme()
    mode = (
        "quick (the short schedule: small data, rough numbers)"
        if is_quick()
        else "full"
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"mode: {mode} | device: {name} | seed: {seed} | torch {torch.__version__}")
    return device
