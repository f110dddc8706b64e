"""Test-time numbers: the ELBO, the importance-sampled log-likelihood, active units."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from helpers.objectives import elbo_terms, sample_and_log_prob


@torch.no_grad()
def evaluate_elbo(
    model: nn.Module, x: Tensor, batch_size: int = 1000, analytic_kl: bool = False
) -> dict[str, float]:
    """Mean ELBO, reconstruction and KL over the rows of ``x`` (one posterior sample each)."""
    model.eval()
    sums = torch.zeros(3, device=x.device)
    for start in range(0, len(x), batch_size):
        terms = elbo_terms(
            model, x[start : start + batch_size], analytic_kl=analytic_kl
        )
        sums += torch.stack([terms.elbo.sum(), terms.recon.sum(), terms.kl.sum()])
    elbo, recon, kl = (sums / len(x)).tolist()
    return {"elbo": elbo, "recon": recon, "kl": kl}


def log_importance_weights(model: nn.Module, x: Tensor, n: int) -> Tensor:
    """``log p(x, z_k) - log q(z_k | x)`` for ``n`` draws ``z_k ~ q(z|x)``: shape ``[n, batch]``.

    A model with its own ``log_importance_weights(x, n)`` method (hierarchical, conditional)
    is asked for it instead.
    """
    if hasattr(model, "log_importance_weights"):
        return model.log_importance_weights(x, n)
    z, log_q = sample_and_log_prob(model.encoder(x), torch.Size([n]))
    return model.decoder(z).log_prob(x) + model.prior().log_prob(z) - log_q


@torch.no_grad()
def importance_log_likelihood(
    model: nn.Module,
    x: Tensor,
    n_samples: int = 5000,
    batch_size: int = 500,
    max_points: int | None = None,
) -> Tensor:
    """log p(x) ≈ logsumexp_k [log p(x, z_k) - log q(z_k|x)] - log K for every row of ``x``.

    Images go ``batch_size`` at a time and samples in chunks of ``max_points // batch_size``, with a
    running log-sum-exp, so memory is bounded by ``max_points`` decoder evaluations whatever K is
    (default: 2**17 on a GPU, about 4 GiB for the book's largest decoders, and 2**15 elsewhere).

    References:
        Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders (2016).
    """
    model.eval()
    if max_points is None:
        max_points = 2**17 if x.device.type == "cuda" else 2**15
    out = torch.empty(len(x), device=x.device)
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        chunk = max(1, max_points // len(xb))
        acc = torch.full((len(xb),), -math.inf, device=x.device)
        for done in range(0, n_samples, chunk):
            weights = log_importance_weights(model, xb, min(chunk, n_samples - done))
            acc = torch.logaddexp(acc, torch.logsumexp(weights, dim=0))
        out[start : start + len(xb)] = acc - math.log(n_samples)
    return out


def nll(
    model: nn.Module, x: Tensor, n_samples: int = 5000, **kwargs: int
) -> tuple[float, float]:
    """Mean negative log-likelihood (nats) over ``x`` and its standard error."""
    log_px = importance_log_likelihood(model, x, n_samples, **kwargs)
    return -log_px.mean().item(), (log_px.std() / math.sqrt(len(log_px))).item()


@torch.no_grad()
def posterior_means(
    model: nn.Module, x: Tensor, batch_size: int = 1000, n_samples: int = 64
) -> Tensor:
    """E_q[z | x] for every row of ``x``: the mean if q has one in closed form, else a sample average."""
    model.eval()
    means = []
    for start in range(0, len(x), batch_size):
        q = model.encoder(x[start : start + batch_size])
        try:
            means.append(q.mean)
        except NotImplementedError:
            means.append(sample_and_log_prob(q, torch.Size([n_samples]))[0].mean(0))
    return torch.cat(means)


def active_units(
    model: nn.Module, x: Tensor, threshold: float = 0.01
) -> tuple[int, Tensor]:
    """Count latent dimensions u with Cov_x(E_q[z_u | x]) > threshold, and return the variances.

    References:
        Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders (2016), section 5.2.
    """
    variances = posterior_means(model, x).var(dim=0)
    return int((variances > threshold).sum()), variances
