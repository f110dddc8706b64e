"""Planar and radial flows, written as zuko-compatible transforms.

zuko has no planar or radial flows, so the book writes them as
``torch.distributions.Transform`` subclasses (what zuko's own transforms subclass).
Their parameters may carry batch dimensions (one set per data point, from an encoder)
that broadcast against the batch dimensions of ``z``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution, Transform, constraints
from zuko.distributions import NormalizingFlow
from zuko.transforms import ComposedTransform


class PlanarTransform(Transform):
    r"""f(z) = z + û tanh(wᵀz + b), invertible because wᵀû ≥ -1.

    ``u`` is unconstrained: the transform uses û = u + (m(wᵀu) - wᵀu) w / ‖w‖² with
    m(a) = -1 + softplus(a), so that wᵀû = m(wᵀu) > -1. Shapes: ``u``, ``w`` are
    ``[..., D]``, ``b`` is ``[...]``. The inverse solves the scalar equation for wᵀz
    (monotone, so one root) by Newton steps safeguarded with bisection, to ``tol`` or
    the float resolution of wᵀz.

    Example:
        >>> f = PlanarTransform(torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0]),
        ...                     torch.tensor(0.5))
        >>> z = torch.randn(4, 2)
        >>> y, ladj = f.call_and_ladj(z)
        >>> torch.allclose(f.inv(y), z, atol=1e-5), ladj.shape
        (True, torch.Size([4]))

    References:
        Rezende & Mohamed, Variational Inference with Normalizing Flows (2015),
        section 4.1 and appendix A.1.
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
        # det J = 1 + tanh'(a) wᵀû = t² + (1 - t²) softplus(wᵀu): two terms >= 0
        ladj = torch.log(t * t + (1 - t * t) * self.softplus_wu)
        return z + self.u_hat * t, ladj.squeeze(-1)

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.call_and_ladj(z)[1]

    def _inverse(self, y: Tensor) -> Tensor:
        # wᵀy = a + m tanh(a + b) with a = wᵀz and m = wᵀû ≥ -1, so
        # g(a) = a + m tanh(a + b) - wᵀy is increasing: one root
        m, target = self.softplus_wu - 1, (y * self.w).sum(-1, keepdim=True)
        lo, hi = target - m.abs(), target + m.abs()  # |tanh| ≤ 1 brackets the root
        a, last_step = target.clone(), hi - lo
        # converged entries stay frozen
        done = torch.zeros_like(a, dtype=torch.bool)
        eps = torch.finfo(a.dtype).eps
        for _ in range(self.max_iter):
            t = torch.tanh(a + self.b)
            g = a + m * t - target
            lo, hi = torch.where(g < 0, a, lo), torch.where(g > 0, a, hi)
            newton = a - g / (1 + m * (1 - t * t))
            # a Newton step must stay in the bracket and at most halve the last step
            # (no cycles); else bisect
            newton_ok = (
                (newton >= lo) & (newton <= hi) & (2 * (newton - a).abs() <= last_step)
            )
            new = torch.where(done, a, torch.where(newton_ok, newton, (lo + hi) / 2))
            last_step, a = (new - a).abs(), new
            # tol, or float resolution
            done = done | (last_step <= torch.clamp(4 * eps * a.abs(), min=self.tol))
            if done.all():
                break
        return y - self.u_hat * torch.tanh(a + self.b)


class RadialTransform(Transform):
    r"""f(z) = z + β (z - z0) / (α + ‖z - z0‖), invertible because α > 0 and β ≥ -α.

    ``alpha`` and ``beta`` are unconstrained: the transform uses α = softplus(alpha) and
    β = -α + softplus(beta). Shapes: ``z0`` is ``[..., D]``, ``alpha`` and ``beta`` are
    ``[...]``. The inverse is closed-form: the radius r = ‖z - z0‖ solves a quadratic.

    Example:
        >>> f = RadialTransform(torch.zeros(2), torch.tensor(0.0), torch.tensor(1.0))
        >>> z = torch.randn(4, 2)
        >>> torch.allclose(f.inv(f(z)), z, atol=1e-5)
        True

    References:
        Rezende & Mohamed, Variational Inference with Normalizing Flows (2015),
        section 4.1 and appendix A.2.
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
        # det J = (1 + βh)^(D-1) (1 + βh + βh'r) with h' = -h²,
        # and 1 + βh + βh'r = 1 + βαh²
        ladj = (z.shape[-1] - 1) * torch.log1p(self.beta * h) + torch.log1p(
            self.beta * self.alpha * h * h
        )
        return z + self.beta * h * d, ladj.squeeze(-1)

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.call_and_ladj(z)[1]

    def _inverse(self, y: Tensor) -> Tensor:
        # ‖y - z0‖ = s = r (α + r + β) / (α + r)  <=>  r² + c r - α s = 0,
        # with c = α + β - s
        d = y - self.z0
        s = d.norm(dim=-1, keepdim=True)
        c = self.alpha + self.beta - s
        root = torch.sqrt(c * c + 4 * self.alpha * s)
        # no cancellation either way
        r = torch.where(c > 0, 2 * self.alpha * s / (c + root), (root - c) / 2)
        return self.z0 + d * (self.alpha + r) / (self.alpha + r + self.beta)


def sampling_flow(base: Distribution, transforms: Sequence[Transform]) -> Distribution:
    r"""The law of z_K = f_K ∘ ... ∘ f_1(z_0), z_0 ~ ``base``, sampled the cheap way.

    zuko's ``NormalizingFlow(t, base)`` maps data to base with ``t``, so the flow is
    given as the inverse of zuko's ``ComposedTransform(f_1, ..., f_K)``:
    ``rsample_and_log_prob`` then runs f_1, ..., f_K forward once and returns
    log q_K(z_K) = log q_0(z_0) - Σ_k log|det ∂f_k/∂z_{k-1}|, while ``log_prob`` would
    need the inverse. With no transforms, ``base`` itself is returned.

    Example:
        >>> from zuko.distributions import DiagNormal
        >>> base = DiagNormal(torch.zeros(2), torch.ones(2))
        >>> layer = PlanarTransform(torch.ones(2), torch.ones(2), torch.tensor(0.0))
        >>> z, log_q = sampling_flow(base, [layer]).rsample_and_log_prob((5,))
        >>> z.shape, log_q.shape
        (torch.Size([5, 2]), torch.Size([5]))
    """
    if not transforms:
        return base
    return NormalizingFlow(ComposedTransform(*transforms).inv, base)
