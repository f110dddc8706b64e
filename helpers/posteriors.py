"""A flow posterior q(z|x) in the inverse-autoregressive direction, built from zuko's MAF transforms.

zuko's ``NormalizingFlow(transform, base)`` maps a sample to the base with ``transform`` (one pass for a
MAF) and samples with ``transform.inv`` (one pass per feature for a MAF). A posterior is sampled and scored
far more often than it is inverted, so the encoder below hands zuko the MAF's *inverse* as ``transform``:
sampling then runs the MAF's cheap direction, which is exactly an inverse autoregressive flow (IAF), and
``rsample_and_log_prob`` scores its own sample in that same pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
import zuko
from torch import Tensor
from zuko.distributions import DiagNormal, NormalizingFlow
from zuko.lazy import LazyDistribution

from helpers.models import MIN_SCALE, VAE, _check_features, bernoulli_vae, mlp


class IAFEncoder(LazyDistribution):
    """q(z | x): N(mu(x), diag sigma(x)²) pushed through ``transforms`` autoregressive layers conditioned on h(x).

    One MLP outputs mu, sigma and a context vector h (``context`` features); each layer is a zuko
    ``MaskedAutoregressiveTransform`` (a MADE with ``flow_hidden`` units) that reads h. ``forward(x)`` returns a
    ``NormalizingFlow`` whose ``rsample_and_log_prob`` costs one MADE pass per layer; its ``log_prob`` of an
    arbitrary z needs ``z_features`` passes per layer (the autoregressive inverse) and is for checks only.

    References:
        Kingma et al., Improved Variational Inference with Inverse Autoregressive Flow (2016).
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
    ) -> None:
        super().__init__()
        self.x_features, self.z_features, self.context = x_features, z_features, context
        self.net = mlp(x_features, hidden, 2 * z_features + context)
        maf = zuko.flows.MAF(
            z_features,
            context,
            transforms=transforms,
            hidden_features=tuple(flow_hidden),
        )
        self.transform = (
            maf.transform.inv
        )  # a LazyInverse: NormalizingFlow samples with its inverse, the MAF

    def forward(self, x: Tensor) -> NormalizingFlow:
        _check_features(x, self.x_features, "IAFEncoder")
        d = self.z_features
        loc, raw_scale, h = self.net(x).split([d, d, self.context], dim=-1)
        base = DiagNormal(loc, F.softplus(raw_scale) + MIN_SCALE)
        return NormalizingFlow(self.transform(h), base)


def iaf_vae(
    x_features: int = 784,
    z_features: int = 32,
    hidden: Sequence[int] = (512, 512),
    prior: LazyDistribution | None = None,
    **flow: int | Sequence[int],
) -> VAE:
    """The book's VAE with an IAF posterior (``flow``: ``context``, ``transforms``, ``flow_hidden``)."""
    return bernoulli_vae(
        IAFEncoder(x_features, z_features, hidden, **flow), z_features, hidden, prior
    )
