"""Results on disk under ``_cache/``: trained weights and scores, written atomically.

A file's name holds a hash of the configuration that produced it (:func:`cache_path`),
so a changed configuration reads nothing stale; every file is written by
:func:`save_atomically` and read back by :func:`load_cached`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from helpers.runtime import cache_dir


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of a configuration: the same for the same keys and values.

    Example:
        >>> config = {"z": 32, "epochs": 400}
        >>> config_hash(config) == config_hash({"epochs": 400, "z": 32})
        True
        >>> config_hash(config) == config_hash({"z": 32, "epochs": 401})
        False
    """
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(name: str, config: dict[str, Any], folder: Path | None = None) -> Path:
    """``_cache/<name>-<hash of config>.pt``: one file per name and configuration.

    Example:
        >>> cache_path("ch4_vae", {"z": 32, "epochs": 400}, Path("/tmp")).name
        'ch4_vae-....pt'
    """
    return (folder or cache_dir()) / f"{name}-{config_hash(config)}.pt"


def save_atomically(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it to ``path``.

    A reader of ``path`` sees the old file or the whole new one, never a part: an
    interrupted run leaves no truncated file behind.

    Example:
        >>> path = Path(tempfile.mkdtemp()) / "run.pt"
        >>> save_atomically(path, {"model": {"w": torch.ones(2)}})
        >>> load_cached(path, keys=["model"])["model"]["w"], list(path.parent.iterdir())
        (tensor([1., 1.]), [PosixPath('.../run.pt')])
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


def load_cached(
    path: Path, map_location: torch.device | str = "cpu", keys: Sequence[str] = ()
) -> dict[str, Any] | None:
    """The payload at ``path``, or ``None`` if there is none; an unreadable file (or one
    without every key in ``keys``) warns and gives ``None``, so the caller computes
    the result again and overwrites it.

    Example:
        >>> path = Path(tempfile.mkdtemp()) / "run.pt"
        >>> load_cached(path) is None
        True
        >>> _ = path.write_bytes(b"half a file")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     print(load_cached(path), str(caught[0].message)[:28])
        None Ignoring the unreadable file
    """
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(payload, dict) or any(key not in payload for key in keys):
            raise ValueError(f"not a dictionary with the keys {list(keys)}")
        return payload
    except Exception as err:  # truncated file, wrong format, unpickling refused...
        warnings.warn(
            f"Ignoring the unreadable file {path} ({type(err).__name__}: {err}); "
            "the result will be computed again and the file overwritten.",
            stacklevel=2,
        )
        return None
