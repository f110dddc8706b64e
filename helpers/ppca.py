"""Probabilistic PCA: a linear-Gaussian latent variable model with exact evidence.

Chapter 1 derives it and checks it against numerical integration; Chapter 2 measures
ELBOs against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Independent, MultivariateNormal, Normal


@dataclass
class PPCA:
    """Probabilistic PCA: z ~ N(0, I_d), x = W z + mu + eps, eps ~ N(0, sigma² I_D).

    ``evidence`` and ``posterior`` also accept a batch of weights ``[..., D, d]``, one
    model per element.

    References:
        Tipping & Bishop, Probabilistic Principal Component Analysis (1999).

    Example:
        >>> model = PPCA(torch.ones(3, 1), torch.zeros(3), noise=0.5)
        >>> z, x = model.sample(4)
        >>> z.shape, x.shape, model.evidence().event_shape
        (torch.Size([4, 1]), torch.Size([4, 3]), torch.Size([3]))
    """

    weight: Tensor  # W, shape [D, d] or [..., D, d]
    mean: Tensor  # mu, shape [D]
    noise: float  # sigma

    def _eye(self, n: int) -> Tensor:
        return torch.eye(n, dtype=self.weight.dtype, device=self.weight.device)

    def prior(self) -> MultivariateNormal:
        """p(z) = N(0, I_d), a MultivariateNormal that ``kl_divergence`` accepts."""
        d = self.weight.shape[-1]
        return MultivariateNormal(self.weight.new_zeros(d), self._eye(d))

    def sample_prior(self, n: int) -> Tensor:
        """n draws from p(z), shape [n, d]: ``torch.randn`` (cheaper than ``prior``)."""
        return torch.randn(
            n, self.weight.shape[-1], dtype=self.weight.dtype, device=self.weight.device
        )

    def likelihood(self, z: Tensor) -> Independent:
        """p(x | z) for every row of z: independent Normals around W z + mu."""
        return Independent(Normal(z @ self.weight.mT + self.mean, self.noise), 1)

    def evidence(self) -> MultivariateNormal:
        """p(x) = N(mu, W W^T + sigma² I), equation (ch1-ppca-evidence)."""
        covariance = self.weight @ self.weight.mT + self.noise**2 * self._eye(
            self.weight.shape[-2]
        )
        return MultivariateNormal(self.mean, covariance)

    def posterior(self, x: Tensor) -> MultivariateNormal:
        """p(z | x) = N(Λ⁻¹ Wᵀ (x - mu) / σ², Λ⁻¹), equation (ch1-ppca-posterior)."""
        precision = (
            self._eye(self.weight.shape[-1])
            + self.weight.mT @ self.weight / self.noise**2
        )
        covariance = torch.linalg.inv(precision)
        return MultivariateNormal(
            (x - self.mean) @ (self.weight @ covariance) / self.noise**2, covariance
        )

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        """Ancestral sampling of n pairs (z, x): z from p(z), then x from p(x | z)."""
        z = self.sample_prior(n)
        return z, self.likelihood(z).sample()


def example_model() -> PPCA:
    """The model of Chapters 1 and 2: d = 2, D = 5, columns of W in similar directions.

    Its tensors take torch's default dtype (the chapters set float64).

    Example:
        >>> model = example_model()
        >>> tuple(model.weight.shape), model.noise
        ((5, 2), 0.5)
    """
    return PPCA(
        weight=torch.tensor(
            [[1.0, 0.6], [0.8, 1.1], [-0.4, -0.7], [0.9, 0.5], [0.3, 0.9]]
        ),
        mean=torch.tensor([0.5, -0.3, 0.2, 0.0, 1.0]),
        noise=0.5,
    )


def naive_relative_variance(model: PPCA, x: Tensor) -> Tensor:
    """Var_p(z)[p(x | z)] / p(x)², equation (ch1-relvar), in closed form.

    The relative variance of one term of the naive estimator of p(x) (Chapter 1),
    which is also the V of the importance-weighted bound with the prior as proposal
    (Chapter 2). The square of a Gaussian density in x is (4π σ²)^(-D/2) times a
    Gaussian density of variance σ²/2, whose average over the prior is the evidence
    of the same model with noise σ / √2.

    Example:
        >>> model = example_model()
        >>> x = model.mean
        >>> ratios = (model.likelihood(model.sample_prior(200_000)).log_prob(x)
        ...           - model.evidence().log_prob(x)).exp()
        >>> exact = naive_relative_variance(model, x)
        >>> bool(abs(ratios.var() / exact - 1) < 0.1)
        True
    """
    big_d = model.weight.shape[-2]
    halved = PPCA(model.weight, model.mean, model.noise / math.sqrt(2))
    log_second_moment = -big_d / 2 * math.log(
        4 * math.pi * model.noise**2
    ) + halved.evidence().log_prob(x)
    return torch.expm1(log_second_moment - 2 * model.evidence().log_prob(x))
