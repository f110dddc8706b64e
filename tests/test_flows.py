"""Planar and radial transforms: log-determinants, inverses, batching, stability,
and the amortized planar encoder built on them."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch.distributions import Transform
from zuko.transforms import ComposedTransform

from helpers.evaluation import importance_log_likelihood
from helpers.flows import PlanarTransform, RadialTransform, sampling_flow
from helpers.posteriors import PlanarFlowEncoder, planar_vae

D, B = 4, 6
CASES = ["random", "wu_very_negative", "large_scales"]


def planar(
    case: str, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> PlanarTransform:
    """Per-data-point planar parameters ([B, D], [B, D], [B]) for a named case."""
    u, w, b = (
        torch.randn(*s, generator=generator, dtype=dtype)
        for s in [(B, D), (B, D), (B,)]
    )
    if (
        case == "wu_very_negative"
    ):  # u pointing against w: wᵀu ≈ -50 ‖w‖², û lands on the boundary wᵀû ≈ -1
        u = -50 * w + 0.1 * u
    elif case == "large_scales":
        u, w, b = 30 * u, 20 * w, 10 * b
    return PlanarTransform(u, w, b)


def radial(
    case: str, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> RadialTransform:
    """Per-data-point radial parameters ([B, D], [B], [B]) for a named case."""
    z0, alpha, beta = (
        torch.randn(*s, generator=generator, dtype=dtype) for s in [(B, D), (B,), (B,)]
    )
    if (
        case == "wu_very_negative"
    ):  # the radial analogue: β pressed against its bound -α
        beta = beta - 30
    elif case == "large_scales":
        z0, alpha, beta = 5 * z0, 5 * alpha, 20 + 5 * beta
    return RadialTransform(z0, alpha, beta)


def autograd_logdet(transform: Transform, z: Tensor) -> Tensor:
    """log|det ∂f/∂z| per row of ``z`` [B, D], from the diagonal blocks of the full
    autograd Jacobian."""
    full = torch.autograd.functional.jacobian(transform, z)  # [B, D, B, D]
    blocks = full[torch.arange(len(z)), :, torch.arange(len(z)), :]  # [B, D, D]
    return torch.linalg.slogdet(blocks).logabsdet


@pytest.mark.parametrize("make", [planar, radial])
@pytest.mark.parametrize("case", CASES)
def test_logdet_matches_autograd(make, case: str) -> None:
    generator = torch.Generator().manual_seed(1)
    transform = make(case, generator)
    z = 2 * torch.randn(B, D, generator=generator, dtype=torch.float64)
    y, ladj = transform.call_and_ladj(z)
    assert torch.allclose(y, transform(z))
    assert torch.allclose(ladj, transform.log_abs_det_jacobian(z, y))
    assert (ladj - autograd_logdet(transform, z)).abs().max() < 1e-5


@pytest.mark.parametrize("make", [planar, radial])
@pytest.mark.parametrize("case", CASES)
def test_inverse_round_trip(make, case: str) -> None:
    generator = torch.Generator().manual_seed(2)
    transform = make(case, generator)
    z = 3 * torch.randn(
        5, B, D, generator=generator, dtype=torch.float64
    )  # a sample dimension in front
    assert (transform.inv(transform(z)) - z).abs().max() < 1e-5
    y = 3 * torch.randn(5, B, D, generator=generator, dtype=torch.float64)
    assert (transform(transform.inv(y)) - y).abs().max() < 1e-5


@pytest.mark.parametrize("scale", [1.0, 5.0, 30.0])
def test_planar_inverse_solves_the_equation_everywhere(scale: float) -> None:
    # many points, large |wᵀû|: Newton's iteration without safeguards cycles on some
    generator = torch.Generator().manual_seed(7)
    u, w = (
        scale * torch.randn(B, D, generator=generator, dtype=torch.float64)
        for _ in range(2)
    )
    transform = PlanarTransform(
        u, w, torch.randn(B, generator=generator, dtype=torch.float64)
    )
    y = 3 * scale * torch.randn(500, B, D, generator=generator, dtype=torch.float64)
    residual = (transform(transform.inv(y)) - y).abs().amax(-1)
    assert (residual <= 1e-6 * (1 + y.abs().amax(-1))).all()


def test_planar_constraint_holds() -> None:
    generator = torch.Generator().manual_seed(3)
    for case in CASES:
        transform = planar(case, generator)
        assert ((transform.w * transform.u_hat).sum(-1) >= -1 - 1e-12).all()


@pytest.mark.parametrize("kind", [PlanarTransform, RadialTransform])
def test_parameters_broadcast_per_data_point(kind: type[Transform]) -> None:
    generator = torch.Generator().manual_seed(4)
    sizes = [(B, D), (B, D), (B,)] if kind is PlanarTransform else [(B, D), (B,), (B,)]
    params = [torch.randn(*s, generator=generator, dtype=torch.float64) for s in sizes]
    z = torch.randn(
        3, B, D, generator=generator, dtype=torch.float64
    )  # [sample, data point, D]
    y, ladj = kind(*params).call_and_ladj(z)
    assert y.shape == z.shape and ladj.shape == (3, B)
    for i in range(B):  # the same numbers as one unbatched transform per data point
        y_i, ladj_i = kind(*(p[i] for p in params)).call_and_ladj(z[:, i])
        assert torch.allclose(y_i, y[:, i]) and torch.allclose(ladj_i, ladj[:, i])


@pytest.mark.parametrize("make", [planar, radial])
@pytest.mark.parametrize("seed", range(5))
def test_32_stacked_layers_stay_finite(make, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    layers = [make(CASES[k % 3], generator, torch.float32) for k in range(32)]
    z = torch.randn(8, B, D, generator=generator)
    y, ladj = ComposedTransform(*layers).call_and_ladj(z)
    assert torch.isfinite(y).all() and torch.isfinite(ladj).all()
    assert torch.isfinite(ComposedTransform(*layers).inv(y)).all()


def test_sampling_flow_scores_its_sample_in_one_pass() -> None:
    torch.manual_seed(5)
    encoder = PlanarFlowEncoder(10, D, hidden=(16,), flows=3).double()
    x = torch.rand(B, 10, dtype=torch.float64)
    q = encoder(x)
    z, log_q = q.rsample_and_log_prob((7,))
    assert z.shape == (7, B, D) and log_q.shape == (7, B)
    assert (
        log_q - q.log_prob(z)
    ).abs().max() < 1e-6  # log_prob runs the iterative inverse
    # log q_K(z_K) = log q_0(z_0) - Σ_k log|det J_k|, written out layer by layer
    base, layers = q.base, q.transform.inv.transforms
    assert all(
        isinstance(layer, PlanarTransform) for layer in layers
    )  # sampling runs the planar maps forward
    z0 = base.rsample((7,))
    zk, total = z0, 0
    for layer in layers:
        zk, ladj = layer.call_and_ladj(zk)
        total = total + ladj
    assert torch.allclose(q.log_prob(zk), base.log_prob(z0) - total, atol=1e-6)
    assert (
        type(PlanarFlowEncoder(10, D, hidden=(16,), flows=0)(x.float())).__name__
        == "DiagNormal"
    )
    assert sampling_flow(base, []) is base


def test_importance_log_likelihood_with_planar_encoder() -> None:
    torch.manual_seed(6)
    model = planar_vae(12, 3, (16,), flows=2)
    x = torch.bernoulli(torch.full((9, 12), 0.3))
    log_px = importance_log_likelihood(
        model, x, n_samples=20, batch_size=4, max_points=16
    )
    assert log_px.shape == (9,) and torch.isfinite(log_px).all() and (log_px < 0).all()
