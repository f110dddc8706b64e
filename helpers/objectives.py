"""The evidence lower bound, term by term, with the one-pass sampling flows need."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn
from torch.distributions import Distribution, Normal, kl_divergence

from helpers.models import VAE


class ElboTerms(NamedTuple):
    """Per-example parts of the ELBO: ``elbo = recon - kl``.

    Example:
        >>> import torch
        >>> ElboTerms(recon=torch.tensor([-5.0]), kl=torch.tensor([2.0])).elbo
        tensor([-7.])
    """

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

    Example:
        >>> import torch
        >>> q = Normal(torch.zeros(3), torch.ones(3))
        >>> z, log_q = sample_and_log_prob(q, (5,))
        >>> z.shape, torch.allclose(log_q, q.log_prob(z))
        (torch.Size([5, 3]), True)
    """
    if hasattr(q, "rsample_and_log_prob"):
        return q.rsample_and_log_prob(shape)
    z = q.rsample(shape)
    return z, q.log_prob(z)


def elbo_terms(model: VAE, x: Tensor, analytic_kl: bool = False) -> ElboTerms:
    """One-sample ELBO of each row of ``x`` under ``model``.

    With ``analytic_kl`` the KL term is ``kl_divergence(q, p)`` in closed form, which
    needs a prior and posterior that torch can compare (two diagonal Gaussians, say).

    Example:
        >>> import torch
        >>> from helpers.models import bernoulli_vae
        >>> terms = elbo_terms(bernoulli_vae(6, 2, (8,)), torch.ones(4, 6))
        >>> terms.elbo.shape, bool((terms.recon <= 0).all())
        (torch.Size([4]), True)
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

    ``progress`` (0 to 1 through training) lets schedules such as KL annealing depend
    on time.

    Example:
        >>> import torch
        >>> from helpers.models import bernoulli_vae
        >>> logs = elbo_loss(bernoulli_vae(6, 2, (8,)), (torch.ones(4, 6),), 0.0)
        >>> sorted(logs), torch.allclose(logs["loss"], -logs["elbo"])
        (['elbo', 'kl', 'loss', 'recon'], True)
    """
    terms = elbo_terms(model, batch[0])
    recon, kl = terms.recon.mean(), terms.kl.mean()
    return {"loss": -(recon - beta * kl), "elbo": recon - kl, "recon": recon, "kl": kl}


def kl_warmup_loss(
    model: nn.Module, batch: tuple[Tensor, ...], progress: float, warmup: float = 0.3
) -> dict[str, Tensor]:
    """The negative ELBO with its KL weight raised linearly from 0 to 1.

    The weight is ``min(1, progress / warmup)``: early on the model is a plain
    autoencoder and learns to use ``z`` before the KL term can pull ``q(z|x)`` onto the
    prior. Validation (``progress=1``) uses weight 1.

    Example:
        >>> import torch
        >>> from helpers.models import bernoulli_vae
        >>> batch = (torch.ones(4, 6),)
        >>> kl_warmup_loss(bernoulli_vae(6, 2, (8,)), batch, 0.15)["kl_weight"]
        tensor(0.5000)

    References:
        Bowman et al., Generating Sentences from a Continuous Space (2016).
        Sønderby et al., Ladder Variational Autoencoders (2016).
    """
    weight = min(1.0, progress / warmup) if warmup > 0 else 1.0
    logs = elbo_loss(model, batch, progress, beta=weight)
    return {**logs, "kl_weight": logs["kl"].new_tensor(weight)}


def kl_per_dimension(q: Distribution) -> Tensor:
    """KL(q(z_u|x) || N(0, 1)) for each dimension u of a diagonal Gaussian ``q``.

    The result has shape ``[batch, D]``.

    Example:
        >>> import torch
        >>> from zuko.distributions import DiagNormal
        >>> kl_per_dimension(DiagNormal(torch.zeros(2, 3), torch.ones(2, 3)))
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
    """
    marginals = Normal(q.mean, q.stddev)
    return kl_divergence(marginals, Normal(q.mean.new_zeros(()), q.mean.new_ones(())))


def free_bits_loss(
    model: nn.Module,
    batch: tuple[Tensor, ...],
    progress: float,
    free_bits: float = 0.25,
) -> dict[str, Tensor]:
    """Minimise ``-(recon - sum_u max(free_bits, KL_u))``, KL_u a minibatch mean.

    KL_u is the minibatch mean of dimension u's KL. A dimension whose average KL is
    below ``free_bits`` nats gets no gradient pulling it onto the prior, so every
    dimension may keep that much information for free. Assumes a diagonal Gaussian q
    and an N(0, I) prior (the KL is analytic); logs the true ELBO (no clamp), its parts
    and the clamped KL.

    Example:
        >>> import torch
        >>> from helpers.models import bernoulli_vae
        >>> logs = free_bits_loss(bernoulli_vae(6, 2, (8,)), (torch.ones(4, 6),), 0.0)
        >>> bool(logs["kl_clamped"] >= 2 * 0.25)
        True

    References:
        Kingma et al., Improved Variational Inference with Inverse Autoregressive Flow
        (2016).
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
