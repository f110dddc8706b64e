"""Run-time set-up shared by every chapter: mode, seed, device, paths."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "VAEBOOK_QUICK"
SEED_ENV = "VAEBOOK_SEED"


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
    """True when ``VAEBOOK_QUICK`` asks for the short schedule that CI runs.

    Example:
        >>> is_quick() == env_flag("VAEBOOK_QUICK")
        True
    """
    return env_flag(QUICK_ENV)


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
    """Where trained weights are cached: ``_cache/`` at the book's root.

    Example:
        >>> cache_dir().name
        '_cache'
    """
    return book_root() / "_cache"


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
    torch.set_flush_denormal(
        True
    )  # returns False, and changes nothing, on CPUs without the instruction


def setup(seed: int | None = None) -> torch.device:
    """Seed everything, pick the device, set the backends (TF32, no denormals) and the figure theme; print one line.

    The first code cell of every chapter calls this.
    """
    from helpers.plots import set_theme

    seed = seed_from_env() if seed is None else seed
    seed_everything(seed)
    device = pick_device()
    configure_backends(device)
    set_theme()
    mode = (
        "quick (VAEBOOK_QUICK=1: small data, short schedules)" if is_quick() else "full"
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"mode: {mode} | device: {name} | seed: {seed} | torch {torch.__version__}")
    return device
