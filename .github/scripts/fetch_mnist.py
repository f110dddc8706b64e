"""Put the book's data in $VAEBOOK_DATA on a GitHub runner (the workflows run this).

MNIST comes through torchvision, which checks its files' MD5 sums, in the layout that
``helpers.data.read_mnist`` reads. Static binarized MNIST (Larochelle & Murray, 2011;
chapter 10) comes from its original ``.amat`` text files, checked against their
published SHA-256 sums and stored as ``binarized_mnist/binarized_mnist.npz`` (uint8
arrays ``train``, ``valid``, ``test`` of 784 pixels a row), as ``load_binarized_mnist``
reads it. What is already there is kept, so a restored cache costs no download.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from pathlib import Path

import numpy as np
from torchvision.datasets import MNIST

STATIC_URL = (
    "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
    "binarized_mnist_{}.amat"
)
STATIC_SHA256 = {
    "train": "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    "valid": "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    "test": "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
}
STATIC_ROWS = {"train": 50_000, "valid": 10_000, "test": 10_000}


def static_split(split: str) -> np.ndarray:
    """One split of static binarized MNIST, downloaded and checked, as uint8 rows."""
    url = STATIC_URL.format(split)
    with urllib.request.urlopen(url, timeout=120) as response:
        text = response.read()
    digest = hashlib.sha256(text).hexdigest()
    if digest != STATIC_SHA256[split]:
        raise SystemExit(f"{url}: SHA-256 {digest}, expected {STATIC_SHA256[split]}")
    # one image a line, 784 values of 0 or 1 separated by single spaces
    digits = np.frombuffer(text.replace(b" ", b"").replace(b"\n", b""), np.uint8)
    return (digits - ord("0")).reshape(STATIC_ROWS[split], 784)


def main() -> None:
    root = Path(os.environ["VAEBOOK_DATA"])
    for train in (True, False):
        MNIST(root, train=train, download=True)
    target = root / "binarized_mnist" / "binarized_mnist.npz"
    if not target.exists():
        arrays = {split: static_split(split) for split in STATIC_SHA256}
        target.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(target, **arrays)
    with np.load(target) as arrays:
        sizes = {split: arrays[split].shape for split in arrays.files}
    print(f"data in {root}: MNIST train and test, static binarized MNIST {sizes}")


if __name__ == "__main__":
    sys.exit(main())
