"""The evidence lower bound, term by term, with the one-pass sampling flows need."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn
from torch.distributions import Distribution, kl_divergence

from helpers.models import VAE


class ElboTerms(NamedTuple):
    """Per-example parts of the ELBO: ``elbo = recon - kl``."""

    recon: Tensor  # E_q[log p(x|z)], one sample
    kl: Tensor  # KL(q(z|x) || p(z)), analytic or one-sample estimate

    @property
    def elbo(self) -> Tensor:
        return self.recon - self.kl


def sample_and_log_prob(q: Distribution, shape: tuple[int, ...] = ()) -> tuple[Tensor, Tensor]:
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


def elbo_loss(model: nn.Module, batch: tuple[Tensor, ...], progress: float, beta: float = 1.0) -> dict[str, Tensor]:
    """Minimise ``-(recon - beta * kl)``; log the ELBO and its two parts (batch means).

    ``progress`` (0 to 1 through training) lets schedules such as KL annealing depend on time.
    """
    terms = elbo_terms(model, batch[0])
    recon, kl = terms.recon.mean(), terms.kl.mean()
    return {"loss": -(recon - beta * kl), "elbo": recon - kl, "recon": recon, "kl": kl}
