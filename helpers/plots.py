"""The book's figure style and the few plots several chapters share."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchvision.utils import make_grid


def set_theme() -> None:
    """One seaborn style for every figure of the book.

    Example:
        >>> set_theme()
        >>> plt.rcParams["image.cmap"]
        'gray_r'
    """
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update(
        {"figure.dpi": 110, "savefig.bbox": "tight", "image.cmap": "gray_r"}
    )


def image_grid(
    images: torch.Tensor,
    nrow: int = 8,
    ax: Axes | None = None,
    title: str | None = None,
    side: int = 28,
) -> Axes:
    """Show a batch of images (``[N, side*side]`` or ``[N, side, side]``) as a grid.

    ``nrow`` images to a row (torchvision's ``make_grid``), dark ink on white, with a
    1-pixel white margin around each image.

    Example:
        >>> ax = image_grid(torch.rand(10, 784), nrow=5, title="ten images")
        >>> ax.get_images()[0].get_array().shape  # 2 rows, 5 columns of 28 + 2 pixels
        (60, 150)
        >>> plt.close("all")
    """
    ink = 1 - images.detach().float().cpu().reshape(-1, 1, side, side)
    grid = make_grid(ink, nrow=nrow, padding=2, pad_value=1.0)[0]
    if len(ink) > 1:  # 2 pixels between images, and around the grid: keep 1 there
        grid = grid[1:-1, 1:-1]
    else:  # make_grid returns a single image as it is
        grid = torch.nn.functional.pad(grid, (1, 1, 1, 1), value=1.0)
    if ax is None:
        rows, columns = grid.shape[0] // (side + 2), grid.shape[1] // (side + 2)
        _, ax = plt.subplots(figsize=(columns * 0.6, rows * 0.6))
    ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


LABELS = {
    "elbo": "ELBO (nats)",
    "recon": "reconstruction (nats)",
    "kl": "KL (nats)",
}
"""Panel titles of :func:`training_curves` for the quantities ``fit`` logs."""


def training_curves(
    history: Sequence[dict[str, float]], keys: Sequence[str] = ("elbo", "recon", "kl")
) -> Figure:
    """One panel per logged quantity against the epoch, training and validation.

    Panels are titled by :data:`LABELS` (a key it lacks titles its own panel).

    Example:
        >>> history = [{"epoch": 1, "elbo": -120.0, "valid_elbo": -118.0},
        ...            {"epoch": 2, "elbo": -110.0, "valid_elbo": -109.0}]
        >>> [ax.get_title() for ax in training_curves(history).axes]
        ['ELBO (nats)']
        >>> plt.close("all")
    """
    keys = [k for k in keys if k in history[0]]
    # about the text column's width for three panels, so that labels stay legible
    fig, axes = plt.subplots(
        1, len(keys), figsize=(2.6 * len(keys), 2.8), squeeze=False
    )
    epochs = [h["epoch"] for h in history]
    for ax, key in zip(axes[0], keys):
        ax.plot(epochs, [h[key] for h in history], marker=".", label="train")
        if f"valid_{key}" in history[0]:
            ax.plot(
                epochs,
                [h[f"valid_{key}"] for h in history],
                marker=".",
                label="validation",
            )
            ax.legend(fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_title(LABELS.get(key, key))
    fig.tight_layout()
    return fig


def latent_scatter(
    z: torch.Tensor, labels: torch.Tensor, ax: Axes | None = None, size: float = 3
) -> Axes:
    """Scatter 2-D latent codes coloured by digit label.

    Example:
        >>> ax = latent_scatter(torch.randn(30, 2), torch.arange(30) % 10)
        >>> len(ax.collections), ax.get_xlabel()
        (10, '$z_1$')
        >>> plt.close("all")
    """
    z = z.detach().cpu().numpy()
    labels = labels.detach().cpu().numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    palette = sns.color_palette("tab10", 10)
    for digit in np.unique(labels):
        keep = labels == digit
        ax.scatter(
            z[keep, 0],
            z[keep, 1],
            s=size,
            color=palette[int(digit)],
            label=str(digit),
            alpha=0.7,
        )
    ax.legend(title="digit", markerscale=4, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    return ax
