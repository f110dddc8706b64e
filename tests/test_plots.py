"""The shared plots: each returns a figure with the expected axes, without warnings."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pytest
import torch

from helpers.plots import image_grid, latent_scatter, set_theme, training_curves


@pytest.fixture(autouse=True)
def no_warnings_and_closed_figures():
    set_theme()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    plt.close("all")


def test_theme_sets_the_book_style():
    assert plt.rcParams["image.cmap"] == "gray_r" and plt.rcParams["figure.dpi"] == 110


@pytest.mark.parametrize("shape", [(12, 784), (12, 28, 28)])
def test_image_grid_lays_out_rows_and_columns(shape):
    ax = image_grid(torch.rand(shape), nrow=5, title="grid")
    assert ax.get_title() == "grid" and not ax.axison
    assert ax.get_images()[0].get_array().shape == (3 * 30, 5 * 30)


def test_image_grid_of_one_image_has_the_same_margin():
    image = torch.rand(1, 784)
    grid = image_grid(image, nrow=1).get_images()[0].get_array()
    assert grid.shape == (30, 30) and (grid[0] == 1).all() and (grid[:, -1] == 1).all()
    inside = torch.tensor(grid[1:-1, 1:-1]).float()
    assert torch.allclose(inside, 1 - image.view(28, 28))


def test_image_grid_draws_into_a_given_axis():
    fig, axes = plt.subplots(1, 2)
    assert image_grid(torch.rand(4, 784), nrow=4, ax=axes[1]) is axes[1]
    assert len(axes[1].get_images()) == 1 and len(axes[0].get_images()) == 0


def test_training_curves_has_a_panel_per_logged_quantity():
    history = [
        {
            "epoch": e,
            "elbo": -100.0 + e,
            "recon": -90.0,
            "kl": 10.0,
            "valid_elbo": -99.0,
        }
        for e in (1, 2, 3)
    ]
    fig = training_curves(history)
    titles = ["ELBO (nats)", "reconstruction (nats)", "KL (nats)"]
    assert [ax.get_title() for ax in fig.axes] == titles
    assert len(fig.axes[0].get_lines()) == 2 and fig.axes[0].get_legend() is not None
    assert len(fig.axes[1].get_lines()) == 1  # no validation curve for recon
    assert fig.axes[0].get_xlabel() == "epoch"


def test_latent_scatter_has_one_colour_per_digit():
    ax = latent_scatter(torch.randn(100, 2), torch.arange(100) % 10)
    assert len(ax.collections) == 10
    assert ax.get_legend().get_title().get_text() == "digit"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$z_1$", "$z_2$")
