"""The IAF posterior: one pass to sample and score, a normalised density, and the VAE
plumbing around it."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.evaluation import importance_log_likelihood, log_importance_weights
from helpers.objectives import elbo_loss, elbo_terms
from helpers.posteriors import IAFEncoder, PlanarFlowEncoder, floor_norm, iaf_vae
from helpers.timing import MadeCalls


@pytest.fixture
def encoder() -> IAFEncoder:
    torch.manual_seed(0)
    return IAFEncoder(
        12, 4, hidden=(16,), context=6, transforms=3, flow_hidden=(24,),
        identity_init=False,
    )  # fmt: skip


def test_sample_and_score_is_one_pass_per_layer(encoder):
    q = encoder(torch.rand(5, 12))
    with MadeCalls(encoder) as sampling:
        z, log_q = q.rsample_and_log_prob()
    assert z.shape == (5, 4) and log_q.shape == (5,)
    assert sampling.count == 3  # one MADE call per layer
    with MadeCalls(encoder) as inversion:
        q.log_prob(z)
    # the autoregressive inverse: one pass per feature, then the Jacobian
    assert inversion.count == 3 * (4 + 1)


def test_log_prob_of_own_sample_matches_one_pass_score(encoder):
    q = encoder(torch.rand(5, 12))
    z, log_q = q.rsample_and_log_prob(torch.Size([7]))
    assert z.shape == (7, 5, 4)
    torch.testing.assert_close(q.log_prob(z), log_q, atol=1e-4, rtol=1e-4)


def test_density_integrates_to_one_in_two_dimensions():
    torch.manual_seed(1)
    encoder = IAFEncoder(
        3, 2, hidden=(8,), context=4, transforms=2, flow_hidden=(16,),
        identity_init=False,
    )  # fmt: skip
    q = encoder(torch.rand(1, 3))
    z, _ = q.rsample_and_log_prob(torch.Size([4000]))
    lo, hi = z.min(0).values.min().item() - 3, z.max(0).values.max().item() + 3
    axis = torch.linspace(lo, hi, 400)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 1, 2)
    with torch.no_grad():
        mass = q.log_prob(grid).exp().sum() * (axis[1] - axis[0]) ** 2
    assert abs(mass.item() - 1) < 0.02


def test_identity_init_starts_as_the_gaussian_encoder():
    torch.manual_seed(3)
    encoder = IAFEncoder(
        12, 4, hidden=(16,), context=6, transforms=2, flow_hidden=(24,),
        identity_init=True,
    )  # fmt: skip
    q = encoder(torch.rand(5, 12))
    z, log_q = q.rsample_and_log_prob()
    torch.testing.assert_close(log_q, q.base.log_prob(z))  # the flow moved nothing
    model = iaf_vae(12, 4, (16,), context=6, flow_hidden=(24,), identity_init=True)
    x = torch.bernoulli(torch.full((8, 12), 0.3))
    elbo_loss(model, (x,), 0.0)["loss"].backward()
    last = model.encoder.transform.transform.transforms[0].hyper[-1]
    assert last.weight.grad.abs().sum() > 0  # and it can learn to move


def test_gradients_reach_encoder_and_flow(encoder):
    model = iaf_vae(
        12, 4, (16,), context=6, transforms=2, flow_hidden=(24,), identity_init=False
    )
    x = torch.bernoulli(torch.full((8, 12), 0.3))
    elbo_loss(model, (x,), 0.0)["loss"].backward()
    for name, p in model.encoder.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_vae_plumbing_and_bound_order():
    torch.manual_seed(2)
    model = iaf_vae(
        12, 3, (16,), context=4, transforms=2, flow_hidden=(16,), identity_init=False
    )
    x = torch.bernoulli(torch.full((32, 12), 0.4))
    assert log_importance_weights(model, x, 6).shape == (6, 32)
    with torch.no_grad():
        elbo = torch.stack([elbo_terms(model, x).elbo for _ in range(200)]).mean(0)
    log_px = importance_log_likelihood(model, x, n_samples=500)
    assert (
        log_px - elbo
    ).mean() > 0  # log p(x) >= ELBO: the IS estimate with K=500 sits above it
    assert math.isfinite(log_px.mean().item())


def test_planar_encoder_bounds_u_hat_when_w_is_tiny():
    # û = u + (m(wᵀu) - wᵀu) w / ‖w‖² has length 0.31 / ‖w‖ when u = 0: an encoder
    # that emits w ≈ 0 would give a huge û. The floor ‖w‖ ≥ w_min bounds it by
    # 2‖u‖ + 1 / w_min (here 10).
    torch.manual_seed(3)
    d, k = 4, 3
    encoder = PlanarFlowEncoder(12, d, hidden=(16,), flows=k, w_min=0.1)
    last = encoder.net[-1]
    with torch.no_grad():
        for layer in range(k):
            start = 2 * d + layer * (2 * d + 1)  # this layer's u, then w, then b
            last.weight[start : start + 2 * d] = 0.0
            last.bias[start : start + d] = 0.0  # u = 0
            last.bias[start + d : start + 2 * d] = 1e-7  # ‖w‖ = 2e-7
    q = encoder(torch.rand(5, 12))
    for layer in q.transform.inv.transforms:
        assert (layer.u_hat.norm(dim=-1) <= 1 / 0.1).all(), layer.u_hat.norm(dim=-1)
        assert (layer.w.norm(dim=-1) >= 0.1 - 1e-6).all()
    z, log_q = q.rsample_and_log_prob()
    assert torch.isfinite(z).all() and torch.isfinite(log_q).all()
    assert z.abs().max() < 100


def test_floor_norm_keeps_long_vectors_and_directions():
    w = torch.tensor([[3e-9, -4e-9], [0.3, 0.4], [3.0, 4.0]])
    floored = floor_norm(w, 1.0)
    torch.testing.assert_close(floored.norm(dim=-1), torch.tensor([1.0, 1.0, 5.0]))
    torch.testing.assert_close(floored[2], w[2])
    torch.testing.assert_close(floored / floored.norm(dim=-1, keepdim=True),
                               w / w.norm(dim=-1, keepdim=True))  # fmt: skip


def test_the_context_reaches_every_coordinate_of_the_sample(encoder):
    # Two contexts, one base sample: every coordinate of z_T differs, the first one
    # of each layer's order included, which depends on the context alone.
    torch.manual_seed(0)
    z0, (h1, h2) = torch.randn(5, 4), torch.randn(2, 5, 6)
    with torch.no_grad():
        sample_1 = encoder.transform(h1).inv(z0)  # the sampling direction, the MAF
        sample_2 = encoder.transform(h2).inv(z0)
    assert ((sample_1 - sample_2).abs() > 1e-6).all()
