"""Probabilistic PCA: Bayes' rule holds exactly, batches of weights match a loop,
samples match the evidence, the naive estimator's relative variance is exact."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from helpers.ppca import PPCA, example_model, naive_relative_variance


@pytest.fixture
def model() -> PPCA:
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    mean = torch.randn(5, generator=generator, dtype=torch.float64)
    return PPCA(weight, mean, noise=0.4)


def test_bayes_rule_gives_the_evidence_at_every_z(model: PPCA) -> None:
    torch.manual_seed(1)
    x = model.sample(1)[1][0]
    z = 3 * torch.randn(200, 3, dtype=torch.float64)
    bayes = (
        model.likelihood(z).log_prob(x)
        + model.prior().log_prob(z)
        - model.posterior(x).log_prob(z)
    )
    torch.testing.assert_close(
        bayes, model.evidence().log_prob(x).expand(200), rtol=0, atol=1e-10
    )
    # A batch of observations gives one posterior per row.
    xs = model.sample(4)[1]
    torch.testing.assert_close(
        model.posterior(xs).mean[2], model.posterior(xs[2]).mean, rtol=0, atol=1e-12
    )


def test_batched_weights_match_a_loop(model: PPCA) -> None:
    torch.manual_seed(2)
    weights = torch.randn(6, 5, 3, dtype=torch.float64)
    batched = PPCA(weights, model.mean, model.noise)
    x = model.sample(1)[1][0]
    evidence, posterior = batched.evidence(), batched.posterior(x)
    assert evidence.batch_shape == (6,) and posterior.batch_shape == (6,)
    for i, weight in enumerate(weights):
        single = PPCA(weight, model.mean, model.noise)
        torch.testing.assert_close(
            evidence.log_prob(x)[i], single.evidence().log_prob(x)
        )
        torch.testing.assert_close(posterior.mean[i], single.posterior(x).mean)
        torch.testing.assert_close(
            posterior.covariance_matrix[i], single.posterior(x).covariance_matrix
        )


def test_prior_is_a_standard_normal_that_kl_divergence_accepts(model: PPCA) -> None:
    prior = model.prior()
    assert isinstance(prior, MultivariateNormal) and prior.event_shape == (3,)
    q = MultivariateNormal(
        torch.ones(3, dtype=torch.float64), 0.5 * torch.eye(3, dtype=torch.float64)
    )
    expected = 0.5 * (
        3 * 0.5 + 3 - 3 - 3 * math.log(0.5)
    )  # tr(S) + |m|^2 - d - log det S, halved
    torch.testing.assert_close(
        kl_divergence(q, prior), torch.tensor(expected, dtype=torch.float64)
    )


def test_samples_have_the_moments_of_the_evidence(model: PPCA) -> None:
    torch.manual_seed(3)
    n = 100_000
    z, x = model.sample(n)
    assert z.shape == (n, 3) and x.shape == (n, 5) and x.dtype == torch.float64
    evidence = model.evidence()
    variance = evidence.covariance_matrix.diagonal()
    # Standard errors: sd / sqrt(n) for a mean; sqrt(S_ii S_jj + S_ij^2) / sqrt(n) for
    # a Gaussian covariance.
    mean_se = (variance / n).sqrt()
    cov_se = (
        (variance[:, None] * variance[None, :] + evidence.covariance_matrix**2) / n
    ).sqrt()
    assert ((x.mean(0) - evidence.mean).abs() < 5 * mean_se).all()
    assert ((x.T.cov() - evidence.covariance_matrix).abs() < 5 * cov_se).all()
    # The latents are standard normal.
    assert (z.mean(0).abs() < 5 / math.sqrt(n)).all()
    assert (
        (z.T.cov() - torch.eye(3, dtype=torch.float64)).abs() < 5 * math.sqrt(2 / n)
    ).all()


def test_relative_variance_matches_its_formula(model: PPCA) -> None:
    torch.manual_seed(4)
    x = model.sample(1)[1][0]
    # Equation (ch1-relvar) written out with the covariance W W^T + sigma^2 / 2 I.
    big_d = model.weight.shape[0]
    halved = MultivariateNormal(
        model.mean,
        model.weight @ model.weight.T
        + model.noise**2 / 2 * torch.eye(big_d, dtype=torch.float64),
    )
    log_second_moment = -big_d / 2 * math.log(4 * math.pi * model.noise**2)
    expected = torch.expm1(
        log_second_moment + halved.log_prob(x) - 2 * model.evidence().log_prob(x)
    )
    exact = naive_relative_variance(model, x)
    torch.testing.assert_close(exact, expected, rtol=1e-10, atol=0)
    # (The doctest of naive_relative_variance checks it against sampling.)


def test_example_model_is_the_chapters_model() -> None:
    model = example_model()
    assert model.weight.shape == (5, 2) and model.mean.shape == (5,)
    assert model.noise == 0.5
    # Similar columns: the posterior correlation is far from zero.
    covariance = model.posterior(model.mean).covariance_matrix
    assert covariance[0, 1] / covariance.diagonal().prod().sqrt() < -0.5
