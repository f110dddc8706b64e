"""Flow posteriors q(z|x): amortized planar flows and an inverse autoregressive flow.

zuko's ``NormalizingFlow(transform, base)`` maps a sample to the base with
``transform`` and samples with ``transform.inv``. A posterior is sampled and scored far
more often than it is inverted, so each encoder below hands zuko its flow's *inverse*
as ``transform``: sampling then runs the cheap direction (planar layers forward; a MAF's
one-pass direction, which is exactly an inverse autoregressive flow), and
``rsample_and_log_prob`` scores its own sample in that same pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import zuko
from torch import Tensor, nn
from torch.distributions import Distribution
from zuko.distributions import DiagNormal, NormalizingFlow
from zuko.lazy import LazyDistribution

from helpers.flows import PlanarTransform, sampling_flow
from helpers.models import MIN_SCALE, VAE, bernoulli_vae, check_features, mlp


def floor_norm(w: Tensor, minimum: float) -> Tensor:
    """``w`` rescaled along itself to length ``minimum`` where it is shorter.

    A planar layer's û differs from u by (m(wᵀu) - wᵀu) w / ‖w‖², a vector of length
    |softplus(-wᵀu) - 1| / ‖w‖ ≤ 1 / ‖w‖ + ‖u‖, so ‖û‖ ≤ 2‖u‖ + 1 / ‖w‖: a network
    that emits a tiny w would make û huge. With ‖w‖ ≥ ``minimum``, ‖û‖ ≤ 2‖u‖ + 1 /
    ``minimum``. Longer vectors pass unchanged; the direction of a short one is kept
    (a w of exactly zero, which has none, stays zero).

    Example:
        >>> floor_norm(torch.tensor([[3e-9, 4e-9], [3.0, 4.0]]), 0.5)
        tensor([[0.3000, 0.4000],
                [3.0000, 4.0000]])
    """
    norm = w.norm(dim=-1, keepdim=True)
    tiny = torch.finfo(w.dtype).tiny
    return w * (norm.clamp(min=minimum) / norm.clamp(min=tiny))


class PlanarFlowEncoder(LazyDistribution):
    """q(z | x): N(mu(x), diag sigma(x)²), then ``flows`` planar layers whose (u, w, b)
    depend on x.

    One MLP outputs mu, sigma and, for each layer, u, w (``z_features`` each) and b;
    each w is floored to length ``w_min`` (:func:`floor_norm`), which bounds û. With
    ``flows=0`` this is the Gaussian encoder. ``forward(x)`` returns a distribution
    with ``rsample_and_log_prob``.

    Example:
        >>> import torch
        >>> q = PlanarFlowEncoder(6, 2, hidden=(8,), flows=3)(torch.rand(5, 6))
        >>> z, log_q = q.rsample_and_log_prob()
        >>> z.shape, log_q.shape
        (torch.Size([5, 2]), torch.Size([5]))

    References:
        Rezende & Mohamed, Variational Inference with Normalizing Flows (2015),
        section 4.
    """

    def __init__(
        self,
        x_features: int,
        z_features: int,
        hidden: Sequence[int] = (512, 512),
        flows: int = 4,
        w_min: float = 0.1,
    ) -> None:
        super().__init__()
        self.x_features, self.z_features, self.flows = x_features, z_features, flows
        self.w_min = w_min
        self.net = mlp(
            x_features, hidden, 2 * z_features + flows * (2 * z_features + 1)
        )

    def forward(self, x: Tensor) -> Distribution:
        check_features(x, self.x_features, "PlanarFlowEncoder")
        d, k = self.z_features, self.flows
        loc, raw_scale, params = self.net(x).split([d, d, k * (2 * d + 1)], dim=-1)
        base = DiagNormal(loc, F.softplus(raw_scale) + MIN_SCALE)
        u, w, b = params.unflatten(-1, (k, 2 * d + 1)).split([d, d, 1], dim=-1)
        w = floor_norm(w, self.w_min)  # a tiny w would give a huge û
        # unbind: one backward op, not K
        layers = zip(u.unbind(-2), w.unbind(-2), b.squeeze(-1).unbind(-1))
        return sampling_flow(base, [PlanarTransform(*uwb) for uwb in layers])


def planar_vae(
    x_features: int = 784,
    z_features: int = 32,
    hidden: Sequence[int] = (512, 512),
    prior: LazyDistribution | None = None,
    flows: int = 4,
) -> VAE:
    """The book's VAE with an amortized planar posterior of ``flows`` layers.

    Example:
        >>> vae = planar_vae(6, 2, (8,), flows=16)
        >>> vae.encoder.flows, type(vae.decoder).__name__
        (16, 'BernoulliDecoder')
    """
    encoder = PlanarFlowEncoder(x_features, z_features, hidden, flows=flows)
    return bernoulli_vae(x_features, z_features, hidden, prior, encoder=encoder)


class IAFEncoder(LazyDistribution):
    """q(z | x): N(mu(x), diag sigma(x)²) pushed through ``transforms`` autoregressive
    layers conditioned on h(x).

    One MLP outputs mu, sigma and a context vector h (``context`` features); each layer
    is a zuko ``MaskedAutoregressiveTransform`` (a MADE with ``flow_hidden`` units) that
    reads h. With ``identity_init`` (the default) each MADE's output layer starts at
    zero, so that the flow starts as the identity and q(z|x) as the Gaussian encoder, as
    Kingma et al. start theirs near the identity; zuko's random initialisation
    (``identity_init=False``) trained to a worse posterior than the plain Gaussian one
    (benchmarks/results/iaf-2026-12-02/). ``forward(x)`` returns a ``NormalizingFlow``
    whose ``rsample_and_log_prob`` costs one MADE pass per layer; its ``log_prob`` of an
    arbitrary z needs ``z_features`` passes per layer (the autoregressive inverse): for
    checks only.

    Example:
        >>> import torch
        >>> encoder = IAFEncoder(6, 2, hidden=(8,), context=4, flow_hidden=(8,))
        >>> z, log_q = encoder(torch.rand(5, 6)).rsample_and_log_prob()
        >>> z.shape, log_q.shape
        (torch.Size([5, 2]), torch.Size([5]))

    References:
        Kingma et al., Improved Variational Inference with Inverse Autoregressive Flow
        (2016).
        Papamakarios et al., Masked Autoregressive Flow for Density Estimation (2017).
    """

    def __init__(
        self,
        x_features: int,
        z_features: int,
        hidden: Sequence[int] = (512, 512),
        context: int = 64,
        transforms: int = 2,
        flow_hidden: Sequence[int] = (256, 256),
        identity_init: bool = True,
    ) -> None:
        super().__init__()
        self.x_features, self.z_features, self.context = x_features, z_features, context
        self.identity_init = identity_init
        self.net = mlp(x_features, hidden, 2 * z_features + context)
        maf = zuko.flows.MAF(
            z_features,
            context,
            transforms=transforms,
            hidden_features=tuple(flow_hidden),
        )
        if identity_init:  # zero shift and log-scale for every input: the identity
            for layer in maf.transform.transforms:
                nn.init.zeros_(layer.hyper[-1].weight)
                nn.init.zeros_(layer.hyper[-1].bias)
        # a LazyInverse: NormalizingFlow samples with its inverse, the MAF
        self.transform = maf.transform.inv

    def forward(self, x: Tensor) -> NormalizingFlow:
        check_features(x, self.x_features, "IAFEncoder")
        d = self.z_features
        loc, raw_scale, h = self.net(x).split([d, d, self.context], dim=-1)
        base = DiagNormal(loc, F.softplus(raw_scale) + MIN_SCALE)
        return NormalizingFlow(self.transform(h), base)


def iaf_vae(
    x_features: int = 784,
    z_features: int = 32,
    hidden: Sequence[int] = (512, 512),
    prior: LazyDistribution | None = None,
    **flow: int | bool | Sequence[int],
) -> VAE:
    """The book's VAE with an IAF posterior.

    ``flow`` goes to :class:`IAFEncoder`: ``context``, ``transforms``, ``flow_hidden``,
    ``identity_init``.

    Example:
        >>> vae = iaf_vae(6, 2, (8,), context=4, flow_hidden=(8,))
        >>> type(vae.encoder).__name__
        'IAFEncoder'
    """
    encoder = IAFEncoder(x_features, z_features, hidden, **flow)
    return bernoulli_vae(x_features, z_features, hidden, prior, encoder=encoder)
