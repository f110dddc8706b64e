"""MNIST on the device: loading, explicit binarization, and a batch iterator.

The whole set is read once into one tensor and moved to the device; batches are
``torch.randperm`` slices of it, so nothing is converted image by image.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from helpers.runtime import book_root

DATA_ENV = "VAEBOOK_DATA"
Binarization = Literal["dynamic", "threshold", "none"]
Split = Literal["train", "valid", "test", "train+valid"]
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def data_root() -> Path:
    """``VAEBOOK_DATA`` if set, else ``data/`` at the book's root.

    Example:
        >>> os.environ["VAEBOOK_DATA"] = "/srv/mnist"
        >>> data_root()
        PosixPath('/srv/mnist')
        >>> del os.environ["VAEBOOK_DATA"]
    """
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else book_root() / "data"


def _missing_mnist_message(root: Path, reason: str) -> str:
    expected = "\n".join(f"    {root}/MNIST/raw/{name}(.gz)" for name in MNIST_FILES)
    origin = (
        f"{DATA_ENV}={os.environ[DATA_ENV]}"
        if DATA_ENV in os.environ
        else f"{DATA_ENV} is not set"
    )
    return (
        f"MNIST is not in {root} ({origin}) and could not be downloaded ({reason}).\n"
        f"Put the four MNIST files in torchvision's layout there:\n{expected}\n"
        f"or set {DATA_ENV} to a folder that holds MNIST/raw/, "
        f"e.g. `export {DATA_ENV}=../shared/data`."
    )


MNIST_SIZES = {  # bytes of each uncompressed file: a 16- or 8-byte header, then data
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}


def check_mnist_files(root: Path, train: bool) -> None:
    """Refuse a damaged MNIST file (truncated, or another file), naming it.

    A file that is absent is fine here (torchvision then downloads it); one that is
    there with the wrong size raises ``ValueError`` with what to do.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / "MNIST" / "raw").mkdir(parents=True)
        >>> check_mnist_files(folder, train=False)  # nothing there: fine
        >>> _ = (folder / "MNIST/raw/t10k-labels-idx1-ubyte").write_bytes(b"short")
        >>> check_mnist_files(folder, train=False)
        Traceback (most recent call last):
        ...
        ValueError: The MNIST file .../t10k-labels-idx1-ubyte is damaged: 5 bytes, ...
    """
    prefix = "train" if train else "t10k"
    for name, expected in MNIST_SIZES.items():
        path = root / "MNIST" / "raw" / name
        if not name.startswith(prefix) or not path.exists():
            continue
        size = path.stat().st_size
        if size != expected:
            raise ValueError(
                f"The MNIST file {path} is damaged: {size} bytes, where MNIST's has "
                f"{expected}. Delete it (and {path.name}.gz beside it, if that is "
                "damaged too) so that torchvision downloads it again, or copy an "
                "intact copy there."
            )


def read_mnist(train: bool) -> tuple[Tensor, Tensor]:
    """MNIST's training or test images as uint8 ``[N, 28, 28]``, and their labels.

    Read through torchvision from :func:`data_root`, downloaded there if missing; if
    that fails too, one ``FileNotFoundError`` says where to put the files. A damaged
    file (of the wrong size) raises ``ValueError`` naming it. The training images
    are ``[60000, 28, 28]``, the test images ``[10000, 28, 28]``.
    """
    from torchvision.datasets import MNIST

    root = data_root()
    check_mnist_files(root, train)
    try:
        dataset = MNIST(root, train=train, download=False)
    except RuntimeError:
        try:
            root.mkdir(parents=True, exist_ok=True)
            dataset = MNIST(root, train=train, download=True)
        except Exception as err:  # no network, a read-only folder, a broken mirror...
            raise FileNotFoundError(
                _missing_mnist_message(root, f"{type(err).__name__}: {err}")
            ) from err
    return dataset.data, dataset.targets


def select_split(
    images: Tensor, labels: Tensor, split: Split, n_valid: int = 10_000
) -> tuple[Tensor, Tensor]:
    """The images and labels of ``split`` from MNIST's training or test set.

    ``valid`` is the last ``n_valid`` of the training images, held out of ``train``;
    ``train+valid`` and ``test`` are the whole set they are given.

    Example:
        >>> images, labels = torch.zeros(60, 28, 28), torch.arange(60)
        >>> train, valid = (select_split(images, labels, s, n_valid=10)[1]
        ...                 for s in ("train", "valid"))
        >>> len(train), valid.tolist()
        (50, [50, 51, 52, 53, 54, 55, 56, 57, 58, 59])
    """
    if split == "train":
        return images[:-n_valid], labels[:-n_valid]
    if split == "valid":
        return images[-n_valid:], labels[-n_valid:]
    if split in ("test", "train+valid"):
        return images, labels
    raise ValueError(
        f"split must be 'train', 'valid', 'test' or 'train+valid', got {split!r}."
    )


def load_mnist(
    split: Split,
    device: torch.device | str = "cpu",
    limit: int | None = None,
    n_valid: int = 10_000,
) -> tuple[Tensor, Tensor]:
    """Grey levels in [0, 1] as ``float32 [N, 784]`` on ``device``, and labels ``[N]``.

    The images of ``split`` (:func:`select_split`), or with ``limit`` only the first
    ``limit`` of them (a chapter's short run passes one). Reads MNIST with
    :func:`read_mnist`.
    """
    if split not in ("train", "valid", "test", "train+valid"):
        raise ValueError(
            f"split must be 'train', 'valid', 'test' or 'train+valid', got {split!r}."
        )
    images, labels = select_split(*read_mnist(train=split != "test"), split, n_valid)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.to(device).reshape(len(images), -1).float().div_(255)
    return x, labels.to(device)


def load_binarized_mnist(
    split: Literal["train", "valid", "test"],
    device: torch.device | str = "cpu",
    limit: int | None = None,
) -> Tensor:
    """Static binarized MNIST as ``float32 [N, 784]`` of 0/1 on ``device``.

    The fixed binary images of Larochelle & Murray (2011), the benchmark of the
    literature's likelihood tables (50 000 train, 10 000 valid, 10 000 test), read from
    ``binarized_mnist/binarized_mnist.npz`` under :func:`data_root`; with ``limit``
    only the first ``limit`` images.

    References:
        Larochelle & Murray, The Neural Autoregressive Distribution Estimator (2011).
    """
    path = data_root() / "binarized_mnist" / "binarized_mnist.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"Static binarized MNIST is not at {path}. Put binarized_mnist.npz "
            f"(arrays train, valid, test) there, or set {DATA_ENV} to a folder that "
            "holds binarized_mnist/binarized_mnist.npz."
        )
    with np.load(path) as arrays:
        array = arrays[split]
    if limit is not None:
        array = array[:limit]
    return torch.from_numpy(array).to(device).float()


def binarize(
    x: Tensor, mode: Binarization, generator: torch.Generator | None = None
) -> Tensor:
    """Turn grey levels in [0, 1] into 0/1 pixels, as training does to each batch.

    ``dynamic`` draws ``Bernoulli(x)``, a fresh draw at every call (so every epoch
    sees new pixels); ``threshold`` rounds (``x.round()``); ``none`` leaves ``x`` as
    it is. Held-out images are binarized once instead (:func:`fixed_binarization`).

    Example:
        >>> x = torch.tensor([0.2, 0.7])
        >>> binarize(x, "threshold"), binarize(torch.full((4,), 0.5), "dynamic").shape
        (tensor([0., 1.]), torch.Size([4]))
    """
    if mode == "dynamic":
        return torch.bernoulli(x, generator=generator)
    if mode == "threshold":
        return x.round()
    if mode == "none":
        return x
    raise ValueError(
        f"binarization must be 'dynamic', 'threshold' or 'none', got {mode!r}."
    )


def fixed_binarization(x: Tensor, seed: int = 0) -> Tensor:
    """One seeded Bernoulli draw, the same in every run: for validation and test sets.

    Example:
        >>> x = torch.full((2, 5), 0.5)
        >>> torch.equal(fixed_binarization(x, seed=1), fixed_binarization(x, seed=1))
        True
        >>> torch.equal(fixed_binarization(x, seed=1), fixed_binarization(x, seed=2))
        False
    """
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return torch.bernoulli(x, generator=generator)


def held_out_binarization(x: Tensor, mode: Binarization, seed: int = 1) -> Tensor:
    """Held-out images binarized once, to match training done with ``mode``.

    ``dynamic`` gives one seeded draw (:func:`fixed_binarization`), ``threshold``
    rounds and ``none`` keeps ``x``. Pixels already 0 or 1 stay as they are, so
    binarizing twice changes nothing.

    Example:
        >>> x = torch.tensor([[0.0, 0.4, 1.0]])
        >>> held_out_binarization(x, "threshold"), held_out_binarization(x, "none")
        (tensor([[0., 0., 1.]]), tensor([[0.0000, 0.4000, 1.0000]]))
    """
    if mode == "dynamic":
        return fixed_binarization(x, seed)
    return binarize(x, mode)


def batches(
    *tensors: Tensor,
    batch_size: int,
    binarization: Binarization = "none",
    shuffle: bool = True,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[Tensor, ...]]:
    """One epoch of mini-batches sliced from device-resident tensors.

    The first tensor holds the images; ``binarization="dynamic"`` draws fresh 0/1
    pixels for each batch on the device (a new draw every epoch). Other tensors
    (labels) are sliced alike.

    Example:
        >>> x, y = torch.rand(10, 3), torch.arange(10)
        >>> [len(b[0]) for b in batches(x, y, batch_size=4, binarization="dynamic")]
        [4, 4, 2]
    """
    if not tensors:
        raise ValueError("batches() needs at least one tensor.")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(
            f"all tensors must have the same length, got {[len(t) for t in tensors]}."
        )
    device = tensors[0].device
    order = (
        torch.randperm(n, device=device, generator=generator)
        if shuffle
        else torch.arange(n, device=device)
    )
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        x = binarize(tensors[0][index], binarization, generator)
        yield (x, *(t[index] for t in tensors[1:]))
