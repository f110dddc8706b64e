"""Test-time numbers: the ELBO, the importance-sampled log-likelihood, active units.

:func:`score` is what a chapter calls to score a model: every test image's one-sample
ELBO (and its parts) and importance-sampled log p(x), from which :meth:`Scores.row`
makes the row of a results table. :func:`per_image_gaussian` fits a Gaussian to each
image's posterior alone, which splits the ELBO's gap into its amortization and
approximation parts.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.distributions import Distribution
from zuko.distributions import DiagNormal

from helpers.cache import load_cached, save_atomically
from helpers.objectives import ElboTerms, elbo_terms, sample_and_log_prob
from helpers.runtime import cache_dir


def mean_and_se(values: Tensor) -> tuple[float, float]:
    """The mean of ``values`` and its standard error, std / sqrt(n).

    For two models scored on the same images, ``mean_and_se(log_px_a - log_px_b)`` is
    the paired difference, whose standard error is far smaller than either estimate's.

    Example:
        >>> mean, se = mean_and_se(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        >>> mean, round(se, 4)
        (2.5, 0.6455)
    """
    return values.mean().item(), (values.std() / math.sqrt(len(values))).item()


@torch.no_grad()
def elbo_per_image(
    model: nn.Module, x: Tensor, batch_size: int = 1000, analytic_kl: bool = False
) -> ElboTerms:
    """One-sample ELBO terms of every row of ``x``, ``batch_size`` rows at a time.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> elbo_per_image(bernoulli_vae(6, 2, (8,)), torch.ones(5, 6), 2).elbo.shape
        torch.Size([5])
    """
    model.eval()
    parts = [elbo_terms(model, xb, analytic_kl) for xb in x.split(batch_size)]
    return ElboTerms(*(torch.cat(column) for column in zip(*parts)))


def log_importance_weights(model: nn.Module, x: Tensor, n: int) -> Tensor:
    """``log p(x, z_k) - log q(z_k | x)`` for ``n`` draws ``z_k ~ q(z|x)``: ``[n, B]``.

    A model with its own ``log_importance_weights(x, n)`` method (hierarchical,
    conditional) is asked for it instead.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> vae = bernoulli_vae(6, 2, (8,))
        >>> log_importance_weights(vae, torch.ones(5, 6), n=3).shape
        torch.Size([3, 5])
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
    """log p(x) ≈ logsumexp_k [log p(x, z_k) - log q(z_k|x)] - log K for each row of x.

    Images go ``batch_size`` at a time and samples in chunks of
    ``max_points // batch_size``, with a running log-sum-exp, so memory is bounded by
    ``max_points`` decoder evaluations whatever K is (default: 2**17 on a GPU, about
    4 GiB for the book's largest decoders, and 2**15 elsewhere).

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> vae, x = bernoulli_vae(6, 2, (8,)), torch.ones(5, 6)
        >>> importance_log_likelihood(vae, x, n_samples=10, max_points=4).shape
        torch.Size([5])

    References:
        Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders (2016).
    """
    estimates = importance_log_likelihood_by_k(
        model, x, [n_samples], batch_size, max_points
    )
    return estimates[n_samples]


@torch.no_grad()
def importance_log_likelihood_by_k(
    model: nn.Module,
    x: Tensor,
    ks: Sequence[int],
    batch_size: int = 500,
    max_points: int | None = None,
) -> dict[int, Tensor]:
    """The estimate of :func:`importance_log_likelihood` at every K in ``ks``, from
    one pass of max(ks) draws: the estimate at K uses the first K of them.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> _ = torch.manual_seed(0)
        >>> vae, x = bernoulli_vae(6, 2, (8,)), torch.ones(5, 6)
        >>> by_k = importance_log_likelihood_by_k(vae, x, [1, 1000])
        >>> bool(by_k[1000].mean() > by_k[1].mean())  # more samples, a tighter bound
        True
    """
    return importance_sampling_pass(model, x, ks, batch_size, max_points).log_px_at


class ImportancePass(NamedTuple):
    """What one importance-sampling pass of K = max(ks) draws per image gives."""

    log_px_at: dict[int, Tensor]  # log p_K(x) per image at each K, first K draws
    mean_log_w: Tensor  # mean of all K log-weights per image: a K-draw ELBO


@torch.no_grad()
def importance_sampling_pass(
    model: nn.Module,
    x: Tensor,
    ks: Sequence[int],
    batch_size: int = 500,
    max_points: int | None = None,
) -> ImportancePass:
    """:func:`importance_log_likelihood_by_k`, and the mean of the same log-weights.

    The mean of log w = log p(x, z) - log q(z|x) over the K draws estimates each
    image's ELBO from K samples instead of one: at no extra cost, per-image ELBOs
    whose sampling noise is K times smaller in variance.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> _ = torch.manual_seed(0)
        >>> vae, x = bernoulli_vae(6, 2, (8,)), torch.ones(5, 6)
        >>> one_pass = importance_sampling_pass(vae, x, [1000])
        >>> bool((one_pass.log_px_at[1000] >= one_pass.mean_log_w).all())  # Jensen
        True
    """
    model.eval()
    if max_points is None:
        max_points = 2**17 if x.device.type == "cuda" else 2**15
    ks = sorted(set(ks))
    out = {k: torch.empty(len(x), device=x.device) for k in ks}
    mean_log_w = torch.empty(len(x), device=x.device)
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        chunk = max(1, max_points // len(xb))
        acc = torch.full((len(xb),), -math.inf, device=x.device)
        total = torch.zeros(len(xb), device=x.device)
        done = 0
        for k in ks:
            while done < k:
                n = min(chunk, k - done)
                weights = log_importance_weights(model, xb, n)
                acc = torch.logaddexp(acc, torch.logsumexp(weights, dim=0))
                total += weights.sum(0)
                done += n
            out[k][start : start + len(xb)] = acc - math.log(k)
        mean_log_w[start : start + len(xb)] = total / done
    return ImportancePass(out, mean_log_w)


class Scores(NamedTuple):
    """Per-image test numbers of one model (see :func:`score`).

    Example:
        >>> one = torch.tensor([-3.0, -5.0])
        >>> s = Scores(elbo=one, recon=one + 1, kl=torch.ones(2), log_px=one + 0.5)
        >>> s.row(["test ELBO", "NLL", "log p_K - ELBO"])
        {'test ELBO': -4.0, 'NLL': 3.5, 'log p_K - ELBO': 0.5}
        >>> s.bound_holds()
        True
    """

    elbo: Tensor  # one-sample ELBO of each image
    recon: Tensor  # its reconstruction term, log p(x|z)
    kl: Tensor  # its KL term (closed form or one-sample estimate)
    log_px: Tensor  # importance-sampled log p(x)
    log_px_at: dict[int, Tensor] | None = None  # the same pass's estimates at smaller K
    mean_log_w: Tensor | None = None  # the same pass's ELBO per image, from K draws

    @property
    def gain(self) -> Tensor:
        """log p_K(x) - ELBO(x) per image: how much importance sampling tightens."""
        return self.log_px - self.elbo

    def bound_holds(self, n_se: float = 4.0) -> bool:
        """True unless log p_K(x) falls below the ELBO by more than ``n_se`` s.e."""
        gain, se = mean_and_se(self.gain)
        return gain > -n_se * se

    def row(self, keys: Sequence[str] | None = None) -> dict[str, float]:
        """Means over the images, the NLL with its standard error (table columns)."""
        nll, nll_se = mean_and_se(-self.log_px)
        row = {
            "test ELBO": self.elbo.mean().item(),
            "reconstruction": self.recon.mean().item(),
            "KL": self.kl.mean().item(),
            "NLL": nll,
            "NLL s.e.": nll_se,
            "log p_K - ELBO": self.gain.mean().item(),
        }
        return row if keys is None else {key: row[key] for key in keys}


def score(
    model: nn.Module,
    x: Tensor,
    n_samples: int,
    seed: int | None = 0,
    analytic_kl: bool = False,
    batch_size: int = 500,
    max_points: int | None = None,
    also_k: Sequence[int] = (),
    cache: str | None = None,
) -> Scores:
    """Score ``model`` on binary test images ``x``: ELBO terms and log p(x) per image.

    The ELBO takes one posterior sample per image (its KL in closed form with
    ``analytic_kl``); log p(x) is :func:`importance_log_likelihood` with ``n_samples``
    draws, ``log_px_at[k]`` the same pass's estimate from its first k draws for each
    k in ``also_k``, and ``mean_log_w`` the mean of that pass's log-weights, each
    image's ELBO from ``n_samples`` draws (for per-image comparisons, where the
    one-sample ELBO's noise would matter). ``seed`` (unless None) seeds torch first,
    so that models scored one after another see the same random numbers, and re-seeds
    it with ``seed + 1`` at the end, so that what follows draws the same numbers
    whether or not the scores came from the cache.

    With ``cache`` (a name for the trained model, such as its checkpoint's), the
    result is stored under ``_cache/scores/``, keyed by that name and a hash of the
    model's weights, the images and every argument above, and an identical call
    later (in this chapter or another) reads it instead of sampling again.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> vae, x = bernoulli_vae(6, 2, (8,)), torch.ones(5, 6)
        >>> scores = score(vae, x, n_samples=10, also_k=(4,))
        >>> scores.log_px.shape, sorted(scores.row())[:2], list(scores.log_px_at)
        (torch.Size([5]), ['KL', 'NLL'], [4])
    """
    settings = {
        "n_samples": n_samples,
        "seed": seed,
        "analytic_kl": analytic_kl,
        "batch_size": batch_size,
        "max_points": max_points,
        "also_k": sorted(set(also_k)),
        "format": 2,  # 2: with mean_log_w (older files are not read)
    }
    path = score_cache_path(cache, model, x, settings) if cache else None
    scores = read_cached_scores(path, x.device) if path else None
    if scores is None:
        if seed is not None:
            torch.manual_seed(seed)
        terms = elbo_per_image(model, x, analytic_kl=analytic_kl)
        ks = [n_samples, *also_k]
        sampled = importance_sampling_pass(model, x, ks, batch_size, max_points)
        log_px = sampled.log_px_at
        at = {k: log_px[k] for k in settings["also_k"]}
        scores = Scores(
            terms.elbo, terms.recon, terms.kl, log_px[n_samples], at, sampled.mean_log_w
        )
        if path:
            write_cached_scores(path, scores)
    if seed is not None:
        torch.manual_seed(seed + 1)
    return scores


def score_cache_path(name: str, model: nn.Module, x: Tensor, settings: dict) -> Path:
    """``_cache/scores/<name>-<hash>.pt``: a hash of weights, images and settings.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> vae, x = bernoulli_vae(6, 2, (8,)), torch.ones(5, 6)
        >>> a = score_cache_path("vae", vae, x, {"n_samples": 10})
        >>> a == score_cache_path("vae", vae, x, {"n_samples": 10}), a.parent.name
        (True, 'scores')
        >>> a == score_cache_path("vae", vae, x, {"n_samples": 11})
        False
    """
    digest = hashlib.sha256(f"{name}/{type(model).__qualname__}".encode())
    for key, tensor in model.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return cache_dir() / "scores" / f"{name}-{digest.hexdigest()[:16]}.pt"


def write_cached_scores(path: Path, scores: Scores) -> None:
    """Store ``scores`` (on the CPU) at ``path``, atomically."""
    payload = {name: t.cpu() for name, t in zip(Scores._fields[:4], scores[:4])}
    payload["log_px_at"] = {
        int(k): v.cpu() for k, v in (scores.log_px_at or {}).items()
    }
    payload["mean_log_w"] = scores.mean_log_w.cpu()
    save_atomically(path, payload)


def read_cached_scores(path: Path, device: torch.device) -> Scores | None:
    """The scores stored at ``path``, or None (a damaged file warns, then None)."""
    keys = (*Scores._fields[:4], "log_px_at", "mean_log_w")
    payload = load_cached(path, device, keys=keys)
    if payload is None:
        return None
    return Scores(**payload)


@torch.no_grad()
def posterior_means(
    model: nn.Module, x: Tensor, batch_size: int = 1000, n_samples: int = 64
) -> Tensor:
    """E_q[z | x] for every row of ``x``: q's mean if it has one, else a sample average.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> posterior_means(bernoulli_vae(6, 2, (8,)), torch.ones(5, 6)).shape
        torch.Size([5, 2])
    """
    model.eval()
    means = []
    for start in range(0, len(x), batch_size):
        q = model.encoder(x[start : start + batch_size])
        try:
            means.append(q.mean)
        except NotImplementedError:
            means.append(sample_and_log_prob(q, torch.Size([n_samples]))[0].mean(0))
    return torch.cat(means)


def covariance_of_means(first: Tensor, second: Tensor) -> Tensor:
    """Var_x(E_q[z_u | x]) per dimension u from two independent estimates of the means.

    ``first`` and ``second`` (``[N, D]``) estimate E_q[z | x_n] with independent draws.
    Their Monte Carlo errors are independent of each other and of x, so the covariance
    across images of the two estimates is unbiased for the variance of the true means:
    the noise of one sample mean (about Var_q(z_u) / n_samples) does not add to it, as
    it does to ``first.var(0)``. With exact means (two equal estimates) it is the
    variance.

    Example:
        >>> means = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
        >>> covariance_of_means(means, means)
        tensor([4., 0.])
    """
    a, b = first - first.mean(0), second - second.mean(0)
    return (a * b).sum(0) / (len(first) - 1)


def active_units(
    model: nn.Module, x: Tensor, threshold: float = 0.01, n_samples: int = 64
) -> tuple[int, Tensor]:
    """The number of latent dimensions u with Cov_x(E_q[z_u | x]) > threshold.

    Returns that count and every dimension's variance. Where q has no closed-form mean
    (a flow posterior), the means are sample averages of ``n_samples`` draws, and the
    variance is :func:`covariance_of_means` of two independent such averages, so that
    their Monte Carlo noise does not make a collapsed unit look active.

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> vae = bernoulli_vae(6, 2, (8,))
        >>> count, variances = active_units(vae, torch.rand(50, 6))
        >>> variances.shape
        torch.Size([2])

    References:
        Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders (2016),
        section 5.2.
    """
    first = posterior_means(model, x, n_samples=n_samples)
    second = posterior_means(model, x, n_samples=n_samples)
    variances = covariance_of_means(first, second)
    return int((variances > threshold).sum()), variances


class PerImageGaussian(NamedTuple):
    """Diagonal Gaussians, one fitted to each image's posterior: see
    :func:`per_image_gaussian`."""

    loc: Tensor  # [N, D]
    scale: Tensor  # [N, D]
    elbo: Tensor  # [N]: each image's ELBO under its own Gaussian, from n_eval draws
    log_px: Tensor  # [N]: log p(x) by importance sampling from that Gaussian
    trace: Tensor  # [steps]: the objective (mean over images) at each step


def gaussian_start(q: Distribution, n_samples: int = 64) -> tuple[Tensor, Tensor]:
    """The mean and standard deviation of ``q``: exact if it has them, else from draws.

    Example:
        >>> loc, scale = gaussian_start(DiagNormal(torch.zeros(3, 2), torch.ones(3, 2)))
        >>> loc.shape, scale.mean().item()
        (torch.Size([3, 2]), 1.0)
    """
    try:
        return q.mean, q.stddev
    except NotImplementedError:  # a flow posterior: moments of its samples
        z, _ = sample_and_log_prob(q, torch.Size([n_samples]))
        return z.mean(0), z.std(0)


def per_image_gaussian(
    model: nn.Module,
    x: Tensor,
    steps: int = 500,
    samples: int = 8,
    lr: float = 0.01,
    n_eval: int = 1000,
    batch_size: int = 500,
    max_points: int | None = None,
) -> PerImageGaussian:
    """Fit a diagonal Gaussian q(z) to each image's posterior alone, the model fixed.

    Each image gets its own mean and log standard deviation, started at the model's
    encoder (:func:`gaussian_start`) and moved by Adam on its ELBO, estimated with
    ``samples`` reparameterized draws, for ``steps`` steps (the rate decays from
    ``lr`` to ``lr / 10``). The result's
    ELBO is the mean of ``n_eval`` fresh log-weights; its ``log_px``, their
    log-mean-exp, is an importance-sampled log p(x) with the fitted q as proposal.
    Against the encoder's ELBO this splits the gap (Cremer et al., 2018):
    ``elbo - ELBO(encoder)`` is the amortization gap, ``log p(x) - elbo`` the
    approximation gap of the diagonal Gaussian family (a finite optimization leaves
    the first underestimated and the second overestimated).

    Example:
        >>> from helpers.models import bernoulli_vae
        >>> _ = torch.manual_seed(0)
        >>> vae, x = bernoulli_vae(6, 2, (8,)), torch.bernoulli(torch.rand(5, 6))
        >>> fitted = per_image_gaussian(vae, x, steps=50, n_eval=500)
        >>> fitted.loc.shape, fitted.elbo.shape, fitted.trace.shape
        (torch.Size([5, 2]), torch.Size([5]), torch.Size([50]))
        >>> bool((fitted.log_px >= fitted.elbo).all())  # Jensen
        True

    References:
        Cremer, Li & Duvenaud, Inference Suboptimality in Variational Autoencoders
        (2018).
    """
    model.eval()
    if max_points is None:
        max_points = 2**17 if x.device.type == "cuda" else 2**15
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)  # gradients for q's parameters only
    try:
        parts = [
            fit_gaussians(model, xb, steps, samples, lr, n_eval, max_points)
            for xb in x.split(batch_size)
        ]
    finally:
        for parameter, flag in zip(model.parameters(), flags):
            parameter.requires_grad_(flag)
    loc, scale, elbo, log_px, sums = (torch.cat(c) for c in zip(*parts))
    trace = sums.reshape(len(parts), steps).sum(0) / len(x)
    return PerImageGaussian(loc, scale, elbo, log_px, trace)


def fit_gaussians(
    model: nn.Module,
    x: Tensor,
    steps: int,
    samples: int,
    lr: float,
    n_eval: int,
    max_points: int,
) -> tuple[Tensor, ...]:
    """:func:`per_image_gaussian` for one batch; its trace as per-step sums."""
    with torch.no_grad():
        loc, scale = gaussian_start(model.encoder(x))
    loc = loc.detach().clone().requires_grad_()
    log_scale = scale.detach().log().requires_grad_()
    optimizer = torch.optim.Adam([loc, log_scale], lr=lr)
    decay = 0.1 ** (1 / steps) if steps else 1.0  # to lr / 10 at the end
    sums = torch.empty(steps, device=x.device)
    for step in range(steps):
        q = DiagNormal(loc, log_scale.exp())
        z = q.rsample((samples,))
        log_w = model.decoder(z).log_prob(x) + model.prior().log_prob(z)
        elbo = (log_w - q.log_prob(z)).mean(0)  # per image
        optimizer.zero_grad()
        (-elbo.sum()).backward()  # each image's own gradient
        optimizer.step()
        optimizer.param_groups[0]["lr"] *= decay
        sums[step] = elbo.detach().sum()
    with torch.no_grad():
        q = DiagNormal(loc, log_scale.exp())
        chunk = max(1, max_points // len(x))
        total = torch.zeros(len(x), device=x.device)
        acc = torch.full((len(x),), -math.inf, device=x.device)
        for start in range(0, n_eval, chunk):
            z = q.sample((min(chunk, n_eval - start),))
            log_w = model.decoder(z).log_prob(x) + model.prior().log_prob(z)
            log_w = log_w - q.log_prob(z)
            total += log_w.sum(0)
            acc = torch.logaddexp(acc, torch.logsumexp(log_w, 0))
    return (
        loc.detach(),
        log_scale.detach().exp(),
        total / n_eval,
        acc - math.log(n_eval),
        sums,
    )
