"""Planar and radial flows, written as zuko-compatible transforms, and an amortized planar posterior.

zuko has no planar or radial flows, so the book writes them as ``torch.distributions.Transform``
subclasses (what zuko's own transforms subclass). Their parameters may carry batch dimensions
(one set per data point, from an encoder) that broadcast against the batch dimensions of ``z``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution, Transform, constraints
from zuko.distributions import DiagNormal, NormalizingFlow
from zuko.lazy import LazyDistribution
from zuko.transforms import ComposedTransform

from helpers.models import MIN_SCALE, _check_features, mlp


class PlanarTransform(Transform):
    r"""f(z) = z + û tanh(wᵀz + b), invertible because wᵀû ≥ -1.

    ``u`` is unconstrained: the transform uses û = u + (m(wᵀu) - wᵀu) w / ‖w‖² with
    m(a) = -1 + softplus(a), so that wᵀû = m(wᵀu) > -1. Shapes: ``u``, ``w`` are ``[..., D]``, ``b`` is ``[...]``.
    The inverse solves the scalar equation for wᵀz (monotone, so one root) by Newton steps safeguarded with
    bisection, to ``tol`` or the float resolution of wᵀz.

    References:
        Rezende & Mohamed, Variational Inference with Normalizing Flows (2015), section 4.1 and appendix A.1.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(
        self, u: Tensor, w: Tensor, b: Tensor, tol: float = 1e-6, max_iter: int = 100
    ) -> None:
        super().__init__()
        wu = (w * u).sum(-1, keepdim=True)
        self.softplus_wu = F.softplus(wu)  # = 1 + wᵀû > 0
        self.u_hat = u + (self.softplus_wu - 1 - wu) * w / (w * w).sum(-1, keepdim=True)
        self.w, self.b = w, b.unsqueeze(-1)
        self.tol, self.max_iter = tol, max_iter

    def _call(self, z: Tensor) -> Tensor:
        return z + self.u_hat * torch.tanh((z * self.w).sum(-1, keepdim=True) + self.b)

    def call_and_ladj(self, z: Tensor) -> tuple[Tensor, Tensor]:
        t = torch.tanh((z * self.w).sum(-1, keepdim=True) + self.b)
        # det J = 1 + tanh'(a) wᵀû = t² + (1 - t²) softplus(wᵀu): a sum of two non-negative terms
        ladj = torch.log(t * t + (1 - t * t) * self.softplus_wu)
        return z + self.u_hat * t, ladj.squeeze(-1)

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.call_and_ladj(z)[1]

    def _inverse(self, y: Tensor) -> Tensor:
        # wᵀy = a + m tanh(a + b) with a = wᵀz and m = wᵀû ≥ -1: g(a) = a + m tanh(a + b) - wᵀy is increasing
        m, target = self.softplus_wu - 1, (y * self.w).sum(-1, keepdim=True)
        lo, hi = target - m.abs(), target + m.abs()  # |tanh| ≤ 1 brackets the root
        a, last_step = target.clone(), hi - lo
        done, eps = (
            torch.zeros_like(a, dtype=torch.bool),
            torch.finfo(a.dtype).eps,
        )  # converged entries stay frozen
        for _ in range(self.max_iter):
            t = torch.tanh(a + self.b)
            g = a + m * t - target
            lo, hi = torch.where(g < 0, a, lo), torch.where(g > 0, a, hi)
            newton = a - g / (1 + m * (1 - t * t))
            # a Newton step must stay in the bracket and at most halve the last step (no cycles); else bisect
            newton_ok = (
                (newton >= lo) & (newton <= hi) & (2 * (newton - a).abs() <= last_step)
            )
            new = torch.where(done, a, torch.where(newton_ok, newton, (lo + hi) / 2))
            last_step, a = (new - a).abs(), new
            done = done | (
                last_step <= torch.clamp(4 * eps * a.abs(), min=self.tol)
            )  # tol, or float resolution
            if done.all():
                break
        return y - self.u_hat * torch.tanh(a + self.b)


class RadialTransform(Transform):
    r"""f(z) = z + β (z - z0) / (α + ‖z - z0‖), invertible because α > 0 and β ≥ -α.

    ``alpha`` and ``beta`` are unconstrained: the transform uses α = softplus(alpha) and
    β = -α + softplus(beta). Shapes: ``z0`` is ``[..., D]``, ``alpha`` and ``beta`` are ``[...]``.
    The inverse is closed-form: the radius r = ‖z - z0‖ solves a quadratic.

    References:
        Rezende & Mohamed, Variational Inference with Normalizing Flows (2015), section 4.1 and appendix A.2.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, z0: Tensor, alpha: Tensor, beta: Tensor) -> None:
        super().__init__()
        self.z0 = z0
        self.alpha = F.softplus(alpha).unsqueeze(-1)
        self.beta = -self.alpha + F.softplus(beta).unsqueeze(-1)

    def _call(self, z: Tensor) -> Tensor:
        d = z - self.z0
        return z + self.beta * d / (self.alpha + d.norm(dim=-1, keepdim=True))

    def call_and_ladj(self, z: Tensor) -> tuple[Tensor, Tensor]:
        d = z - self.z0
        h = 1 / (self.alpha + d.norm(dim=-1, keepdim=True))
        # det J = (1 + βh)^(D-1) (1 + βh + βh'r) with h' = -h², and 1 + βh + βh'r = 1 + βαh²
        ladj = (z.shape[-1] - 1) * torch.log1p(self.beta * h) + torch.log1p(
            self.beta * self.alpha * h * h
        )
        return z + self.beta * h * d, ladj.squeeze(-1)

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.call_and_ladj(z)[1]

    def _inverse(self, y: Tensor) -> Tensor:
        # ‖y - z0‖ = s = r (α + r + β) / (α + r)  <=>  r² + c r - α s = 0 with c = α + β - s
        d = y - self.z0
        s = d.norm(dim=-1, keepdim=True)
        c = self.alpha + self.beta - s
        root = torch.sqrt(c * c + 4 * self.alpha * s)
        r = torch.where(
            c > 0, 2 * self.alpha * s / (c + root), (root - c) / 2
        )  # no cancellation either way
        return self.z0 + d * (self.alpha + r) / (self.alpha + r + self.beta)


def compose(transforms: Sequence[Transform]) -> Transform:
    """f_K ∘ ... ∘ f_1 as one transform whose ``call_and_ladj`` sums the layers' log-determinants."""
    return ComposedTransform(*transforms)


def sampling_flow(base: Distribution, transforms: Sequence[Transform]) -> Distribution:
    r"""The distribution of z_K = f_K ∘ ... ∘ f_1(z_0), z_0 ~ ``base``, with sampling as the cheap direction.

    zuko's ``NormalizingFlow(t, base)`` maps data to base with ``t``, so the flow is given as ``compose(...).inv``:
    ``rsample_and_log_prob`` then runs f_1, ..., f_K forward once and returns
    log q_K(z_K) = log q_0(z_0) - Σ_k log|det ∂f_k/∂z_{k-1}|, while ``log_prob`` would need the inverse.
    With no transforms, ``base`` itself is returned.
    """
    return NormalizingFlow(compose(transforms).inv, base) if transforms else base


class PlanarFlowEncoder(LazyDistribution):
    """q(z | x): N(mu(x), diag sigma(x)²) followed by ``flows`` planar layers whose (u, w, b) depend on x.

    One MLP outputs mu, sigma and, for each layer, u, w (``z_features`` each) and b. With ``flows=0`` this is
    the Gaussian encoder. ``forward(x)`` returns a distribution with ``rsample_and_log_prob``.

    References:
        Rezende & Mohamed, Variational Inference with Normalizing Flows (2015), section 4.
    """

    def __init__(
        self,
        x_features: int,
        z_features: int,
        hidden: Sequence[int] = (512, 512),
        flows: int = 4,
    ) -> None:
        super().__init__()
        self.x_features, self.z_features, self.flows = x_features, z_features, flows
        self.net = mlp(
            x_features, hidden, 2 * z_features + flows * (2 * z_features + 1)
        )

    def forward(self, x: Tensor) -> Distribution:
        _check_features(x, self.x_features, "PlanarFlowEncoder")
        d, k = self.z_features, self.flows
        loc, raw_scale, params = self.net(x).split([d, d, k * (2 * d + 1)], dim=-1)
        base = DiagNormal(loc, F.softplus(raw_scale) + MIN_SCALE)
        u, w, b = params.unflatten(-1, (k, 2 * d + 1)).split([d, d, 1], dim=-1)
        layers = zip(
            u.unbind(-2), w.unbind(-2), b.squeeze(-1).unbind(-1)
        )  # unbind: one backward op, not K
        return sampling_flow(base, [PlanarTransform(*uwb) for uwb in layers])
