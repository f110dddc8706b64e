"""Shared fixtures: a tiny VAE and the data folder, when CI provides it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from helpers.models import bernoulli_vae


@pytest.fixture
def tiny_vae() -> torch.nn.Module:
    torch.manual_seed(0)
    return bernoulli_vae(x_features=12, z_features=3, hidden=(16,))


@pytest.fixture
def binary_data() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.bernoulli(torch.full((64, 12), 0.3), generator=generator)


@pytest.fixture
def real_data_root() -> Path:
    root = Path(
        os.environ.get("VAEBOOK_DATA", Path(__file__).resolve().parents[1] / "data")
    )
    if not (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists():
        pytest.skip("MNIST is not available (set VAEBOOK_DATA)")
    return root
