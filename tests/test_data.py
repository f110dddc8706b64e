from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from helpers import data
from helpers.data import MNIST_SIZES, read_mnist


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("no network in this test")


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_missing_mnist_names_the_variable_and_the_files(tmp_path, monkeypatch, folder):
    root = tmp_path if folder == "empty" else tmp_path / "does-not-exist"
    monkeypatch.setenv("VAEBOOK_DATA", str(root))
    monkeypatch.setattr(torchvision.datasets.MNIST, "download", _no_network)
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist("test")
    message = str(info.value)
    assert "VAEBOOK_DATA" in message and str(root) in message
    assert "t10k-images-idx3-ubyte" in message and "MNIST/raw" in message


def test_missing_static_binarized_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="binarized_mnist.npz"):
        data.load_binarized_mnist("test")


def test_data_root_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("VAEBOOK_DATA", raising=False)
    assert data.data_root() == Path(__file__).resolve().parents[1] / "data"
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    assert data.data_root() == tmp_path


def test_load_mnist_splits(real_data_root, monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", str(real_data_root))
    monkeypatch.setenv("VAEBOOK_QUICK", "1")  # read by setup only: no subset here
    images, labels = read_mnist(train=False)
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    x, y = data.load_mnist("test")
    assert x.shape == (10_000, 784) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1 and torch.equal(y, labels)
    assert torch.equal(x, images.reshape(-1, 784) / 255)
    valid, _ = data.load_mnist("valid", limit=7)
    train, _ = data.load_mnist("train", limit=7)
    assert valid.shape == (7, 784) and not torch.equal(valid, train)
    assert len(data.load_mnist("train")[0]) == 50_000
    assert len(data.load_mnist("train+valid", limit=3000)[0]) == 3000


def test_static_binarized_mnist(real_data_root, monkeypatch):
    if not (real_data_root / "binarized_mnist" / "binarized_mnist.npz").exists():
        pytest.skip("static binarized MNIST not available")
    monkeypatch.setenv("VAEBOOK_DATA", str(real_data_root))
    x = data.load_binarized_mnist("valid", limit=10)
    assert x.shape == (10, 784) and set(x.unique().tolist()) <= {0.0, 1.0}


def test_binarization_modes():
    x = torch.rand(200, 784)
    assert torch.equal(data.binarize(x, "threshold"), x.round())
    assert torch.equal(data.binarize(x, "none"), x)
    first, second = data.binarize(x, "dynamic"), data.binarize(x, "dynamic")
    assert set(first.unique().tolist()) <= {0.0, 1.0} and not torch.equal(first, second)
    assert torch.equal(
        data.fixed_binarization(x, seed=3), data.fixed_binarization(x, seed=3)
    )
    # A Bernoulli draw keeps the grey level as its mean.
    assert abs(first.mean() - x.mean()) < 0.01
    with pytest.raises(ValueError, match="binarization"):
        data.binarize(x, "fixed")  # type: ignore[arg-type]  # fixed_binarization
    with pytest.raises(ValueError, match="split"):
        data.select_split(x, x, "validation")  # type: ignore[arg-type]


def test_batches_cover_every_row_once_and_keep_pairs():
    x = torch.arange(10.0).unsqueeze(1).repeat(1, 3) / 10
    labels = torch.arange(10)
    seen = []
    for xb, yb in data.batches(x, labels, batch_size=4):
        assert torch.equal(xb[:, 0], yb / 10)
        seen += yb.tolist()
    assert sorted(seen) == list(range(10))
    assert [len(b[0]) for b in data.batches(x, batch_size=4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="same length"):
        next(data.batches(x, labels[:3], batch_size=4))


def test_a_truncated_mnist_file_is_named_with_its_size(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    # As in the bug report: 4 999 984 of the file's 47 040 016 bytes.
    (raw / "train-images-idx3-ubyte").write_bytes(bytes(4_999_984))
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=r"idx3-ubyte is damaged: 4999984 bytes"):
        read_mnist(train=True)


def test_a_damaged_training_file_does_not_block_the_test_set(
    tmp_path, monkeypatch, real_data_root
):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_SIZES:
        if name != "train-images-idx3-ubyte":
            (raw / name).symlink_to(real_data_root / "MNIST" / "raw" / name)
    (raw / "train-images-idx3-ubyte").write_bytes(bytes(100))  # damaged
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    images, _ = read_mnist(train=False)
    assert images.shape == (10_000, 28, 28)
