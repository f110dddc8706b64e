"""Probabilistic PCA, the linear-Gaussian latent variable model whose evidence and posterior are exact.

Chapter 1 derives it and checks it against numerical integration; Chapter 2 measures ELBOs against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Independent, MultivariateNormal, Normal


@dataclass
class PPCA:
    """Probabilistic PCA: z ~ N(0, I_d), x = W z + mu + eps, eps ~ N(0, sigma² I_D).

    ``evidence`` and ``posterior`` also accept a batch of weights ``[..., D, d]``, one model per element.

    References:
        Tipping & Bishop, Probabilistic Principal Component Analysis (1999).
    """

    weight: Tensor  # W, shape [D, d] or [..., D, d]
    mean: Tensor  # mu, shape [D]
    noise: float  # sigma

    def _eye(self, n: int) -> Tensor:
        return torch.eye(n, dtype=self.weight.dtype, device=self.weight.device)

    def prior(self) -> MultivariateNormal:
        """p(z) = N(0, I_d), a MultivariateNormal so that ``kl_divergence`` pairs it with a Gaussian q."""
        d = self.weight.shape[-1]
        return MultivariateNormal(self.weight.new_zeros(d), self._eye(d))

    def sample_prior(self, n: int) -> Tensor:
        """n draws from p(z), shape [n, d]: plain ``torch.randn``, cheaper than ``prior().sample((n,))``."""
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
        """p(z | x) = N(Lambda^-1 W^T (x - mu) / sigma², Lambda^-1), equation (ch1-ppca-posterior)."""
        precision = (
            self._eye(self.weight.shape[-1])
            + self.weight.mT @ self.weight / self.noise**2
        )
        covariance = torch.linalg.inv(precision)
        return MultivariateNormal(
            (x - self.mean) @ (self.weight @ covariance) / self.noise**2, covariance
        )

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        """Ancestral sampling of n pairs (z, x): z from the prior, then x from the likelihood."""
        z = self.sample_prior(n)
        return z, self.likelihood(z).sample()
