"""Encoders, decoders and priors as zuko lazy distributions, on a small MLP builder.

Each module's ``forward(context)`` returns a ``torch.distributions.Distribution``, so an
ELBO reads ``decoder(z).log_prob(x) + prior().log_prob(z) - q.log_prob(z)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import zuko
from torch import Tensor, nn
from torch.distributions import Bernoulli, Distribution, Independent
from zuko.distributions import DiagNormal
from zuko.lazy import LazyDistribution, UnconditionalDistribution

MIN_SCALE = 1e-4


def mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """A multilayer perceptron: Linear, activation, ..., Linear (no final activation).

    Example:
        >>> mlp(4, (8, 8), 2)(torch.zeros(3, 4)).shape
        torch.Size([3, 2])
    """
    sizes = [in_features, *hidden]
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(sizes[-1], out_features))
    return nn.Sequential(*layers)


def check_features(x: Tensor, features: int, who: str) -> None:
    """Raise a clear ``ValueError`` unless the last dimension of ``x`` is ``features``.

    Example:
        >>> check_features(torch.zeros(2, 784), 784, "encoder")
        >>> check_features(torch.zeros(2, 28, 28), 784, "encoder")
        Traceback (most recent call last):
        ...
        ValueError: encoder expects inputs whose last dimension is 784, ...
    """
    if x.shape[-1] != features:
        raise ValueError(
            f"{who} expects inputs whose last dimension is {features}, got shape "
            f"{tuple(x.shape)}; flatten images to [batch, 784] first (load_mnist "
            "already does)."
        )


class GaussianEncoder(LazyDistribution):
    """q(z | x) = N(mu(x), diag sigma(x)^2), with sigma = softplus(.) + a floor.

    Example:
        >>> q = GaussianEncoder(6, 2, hidden=(8,))(torch.rand(5, 6))
        >>> q.rsample().shape, q.log_prob(torch.zeros(5, 2)).shape
        (torch.Size([5, 2]), torch.Size([5]))

    References:
        Kingma & Welling, Auto-Encoding Variational Bayes (2014).
    """

    def __init__(
        self, x_features: int, z_features: int, hidden: Sequence[int] = (512, 512)
    ) -> None:
        super().__init__()
        self.x_features, self.z_features = x_features, z_features
        self.net = mlp(x_features, hidden, 2 * z_features)

    def forward(self, x: Tensor) -> Distribution:
        check_features(x, self.x_features, "GaussianEncoder")
        loc, raw_scale = self.net(x).chunk(2, dim=-1)
        return DiagNormal(loc, F.softplus(raw_scale) + MIN_SCALE)


class BernoulliDecoder(LazyDistribution):
    """p(x | z) = prod_i Bernoulli(x_i; sigmoid(logit_i(z))) for binary pixels.

    Example:
        >>> p = BernoulliDecoder(2, 6, hidden=(8,))(torch.zeros(5, 2))
        >>> p.sample().shape, p.log_prob(torch.ones(5, 6)).shape
        (torch.Size([5, 6]), torch.Size([5]))
    """

    def __init__(
        self, z_features: int, x_features: int, hidden: Sequence[int] = (512, 512)
    ) -> None:
        super().__init__()
        self.z_features = z_features
        self.net = mlp(z_features, hidden, x_features)

    def forward(self, z: Tensor) -> Distribution:
        check_features(z, self.z_features, "BernoulliDecoder")
        return Independent(Bernoulli(logits=self.net(z), validate_args=False), 1)


def standard_normal_prior(z_features: int) -> UnconditionalDistribution:
    """p(z) = N(0, I) as a lazy distribution without parameters (buffers only).

    Example:
        >>> prior = standard_normal_prior(3)
        >>> prior().sample((4,)).shape, len(list(prior.parameters()))
        (torch.Size([4, 3]), 0)
    """
    return UnconditionalDistribution(
        DiagNormal, torch.zeros(z_features), torch.ones(z_features), buffer=True
    )


def maf_prior(
    z_features: int, transforms: int = 3, hidden: Sequence[int] = (256, 256)
) -> zuko.flows.MAF:
    """A learned prior p(z): a masked autoregressive flow on N(0, I) (zuko's tutorial).

    Example:
        >>> maf_prior(4, 2, (8,))().log_prob(torch.zeros(3, 4)).shape
        torch.Size([3])

    References:
        Papamakarios et al., Masked Autoregressive Flow for Density Estimation (2017).
    """
    return zuko.flows.MAF(
        features=z_features, transforms=transforms, hidden_features=tuple(hidden)
    )


class VAE(nn.Module):
    """An encoder q(z|x), a decoder p(x|z) and a prior p(z), held together (no logic).

    Example:
        >>> vae = VAE(GaussianEncoder(6, 2, (8,)), BernoulliDecoder(2, 6, (8,)),
        ...           standard_normal_prior(2))
        >>> vae.prior().sample().shape
        torch.Size([2])
    """

    def __init__(
        self,
        encoder: LazyDistribution,
        decoder: LazyDistribution,
        prior: LazyDistribution,
    ) -> None:
        super().__init__()
        self.encoder, self.decoder, self.prior = encoder, decoder, prior


def bernoulli_vae(
    x_features: int = 784,
    z_features: int = 32,
    hidden: Sequence[int] = (512, 512),
    prior: LazyDistribution | None = None,
    encoder: LazyDistribution | None = None,
) -> VAE:
    """The book's VAE for binary pixels: an encoder, a Bernoulli decoder, a prior.

    The encoder is a :class:`GaussianEncoder` unless ``encoder`` is given (a flow
    posterior, say); the decoder mirrors the widths ``hidden``; the prior is N(0, I)
    unless ``prior`` is given.

    Example:
        >>> vae = bernoulli_vae(6, 2, (8, 4))
        >>> type(vae.encoder).__name__, type(vae.decoder).__name__
        ('GaussianEncoder', 'BernoulliDecoder')
        >>> [m.out_features for m in vae.decoder.net if isinstance(m, nn.Linear)]
        [4, 8, 6]
    """
    if encoder is None:
        encoder = GaussianEncoder(x_features, z_features, hidden)
    decoder = BernoulliDecoder(z_features, x_features, tuple(reversed(hidden)))
    return VAE(
        encoder,
        decoder,
        prior if prior is not None else standard_normal_prior(z_features),
    )
