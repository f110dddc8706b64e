"""A checkpoint cache under ``_cache/``: one file per configuration, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from helpers.runtime import cache_dir


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-serialisable configuration.

    Example:
        >>> config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
        True
        >>> len(config_hash({"a": 1}))
        16
    """
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(name: str, config: dict[str, Any], folder: Path | None = None) -> Path:
    """``_cache/<name>-<hash>.pt`` for this configuration.

    Example:
        >>> cache_path("ch4_vae", {"epochs": 2}, Path("/tmp")).name
        'ch4_vae-....pt'
    """
    return (folder or cache_dir()) / f"{name}-{config_hash(config)}.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically: a temporary file, then a rename.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run.pt"
        >>> save_checkpoint(path, {"model": {"w": torch.ones(2)}})
        >>> load_checkpoint(path)["model"]["w"]
        tensor([1., 1.])
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(
    path: Path, map_location: torch.device | str = "cpu"
) -> dict[str, Any] | None:
    """The cached payload, or ``None`` if absent; a corrupt file warns (and ``None``).

    Example:
        >>> load_checkpoint(Path("/nonexistent/run.pt")) is None
        True
    """
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(payload, dict) or "model" not in payload:
            raise ValueError("not a checkpoint written by helpers.cache")
        return payload
    except Exception as err:  # truncated file, wrong format, unpickling refused...
        warnings.warn(
            f"Ignoring the unreadable checkpoint {path} ({type(err).__name__}: {err}); "
            "the model will be retrained and the file overwritten.",
            stacklevel=2,
        )
        return None
