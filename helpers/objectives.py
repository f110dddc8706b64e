"""The evidence lower bound, term by term, with the one-pass sampling flows need."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn
from torch.distributions import Distribution, Normal, kl_divergence

from helpers.models import VAE


class ElboTerms(NamedTuple):
    """Per-example parts of the ELBO: ``elbo = recon - kl``."""

    recon: Tensor  # E_q[log p(x|z)], one sample
    kl: Tensor  # KL(q(z|x) || p(z)), analytic or one-sample estimate

    @property
    def elbo(self) -> Tensor:
        return self.recon - self.kl


def sample_and_log_prob(
    q: Distribution, shape: tuple[int, ...] = ()
) -> tuple[Tensor, Tensor]:
    """Draw ``z ~ q`` with the reparameterization trick and score it.

    A zuko flow offers ``rsample_and_log_prob``, which scores its own sample in the same
    pass (no inversion); a plain distribution samples, then evaluates ``log_prob``.
    """
    if hasattr(q, "rsample_and_log_prob"):
        return q.rsample_and_log_prob(shape)
    z = q.rsample(shape)
    return z, q.log_prob(z)


def elbo_terms(model: VAE, x: Tensor, analytic_kl: bool = False) -> ElboTerms:
    """One-sample ELBO of each row of ``x`` under ``model``.

    With ``analytic_kl`` the KL term is ``kl_divergence(q, p)`` in closed form, which needs a
    prior and posterior that torch knows how to compare (e.g. two diagonal Gaussians).
    """
    q = model.encoder(x)
    z, log_q = sample_and_log_prob(q)
    recon = model.decoder(z).log_prob(x)
    prior = model.prior()
    kl = kl_divergence(q, prior) if analytic_kl else log_q - prior.log_prob(z)
    return ElboTerms(recon, kl)


def elbo_loss(
    model: nn.Module, batch: tuple[Tensor, ...], progress: float, beta: float = 1.0
) -> dict[str, Tensor]:
    """Minimise ``-(recon - beta * kl)``; log the ELBO and its two parts (batch means).

    ``progress`` (0 to 1 through training) lets schedules such as KL annealing depend on time.
    """
    terms = elbo_terms(model, batch[0])
    recon, kl = terms.recon.mean(), terms.kl.mean()
    return {"loss": -(recon - beta * kl), "elbo": recon - kl, "recon": recon, "kl": kl}


def kl_warmup_loss(
    model: nn.Module, batch: tuple[Tensor, ...], progress: float, warmup: float = 0.3
) -> dict[str, Tensor]:
    """The negative ELBO with its KL weight raised linearly from 0 to 1 over the first ``warmup`` of training.

    The weight is ``min(1, progress / warmup)``: early on the model is a plain autoencoder and learns to
    use ``z`` before the KL term can pull ``q(z|x)`` onto the prior. Validation (``progress=1``) uses weight 1.

    References:
        Bowman et al., Generating Sentences from a Continuous Space (2016).
        Sønderby et al., Ladder Variational Autoencoders (2016).
    """
    weight = min(1.0, progress / warmup) if warmup > 0 else 1.0
    logs = elbo_loss(model, batch, progress, beta=weight)
    return {**logs, "kl_weight": logs["kl"].new_tensor(weight)}


def kl_per_dimension(q: Distribution) -> Tensor:
    """KL(q(z_u|x) || N(0, 1)) for each latent dimension u of a diagonal Gaussian ``q``: shape ``[batch, D]``."""
    marginals = Normal(q.mean, q.stddev)
    return kl_divergence(marginals, Normal(q.mean.new_zeros(()), q.mean.new_ones(())))


def free_bits_loss(
    model: nn.Module,
    batch: tuple[Tensor, ...],
    progress: float,
    free_bits: float = 0.25,
) -> dict[str, Tensor]:
    """Minimise ``-(recon - sum_u max(free_bits, KL_u))``, KL_u the minibatch mean of dimension u's KL.

    A dimension whose average KL is below ``free_bits`` nats gets no gradient pulling it onto the prior,
    so every dimension may keep that much information for free. Assumes a diagonal Gaussian q and an
    N(0, I) prior (the KL is analytic); logs the true ELBO (no clamp), its parts and the clamped KL.

    References:
        Kingma et al., Improved Variational Inference with Inverse Autoregressive Flow (2016).
    """
    x = batch[0]
    q = model.encoder(x)
    z, _ = sample_and_log_prob(q)
    recon = model.decoder(z).log_prob(x).mean()
    kl_dims = kl_per_dimension(q).mean(dim=0)
    kl, clamped = kl_dims.sum(), kl_dims.clamp(min=free_bits).sum()
    return {
        "loss": -(recon - clamped),
        "elbo": recon - kl,
        "recon": recon,
        "kl": kl,
        "kl_clamped": clamped,
    }
