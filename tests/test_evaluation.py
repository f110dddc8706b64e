"""The importance-sampled likelihood against a linear-Gaussian model whose evidence is
exact, and the scores a chapter prints."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal
from zuko.distributions import DiagNormal
from zuko.lazy import LazyDistribution

from helpers import evaluation
from helpers.evaluation import (
    active_units,
    elbo_per_image,
    importance_log_likelihood,
    importance_log_likelihood_by_k,
    importance_sampling_pass,
    mean_and_se,
    per_image_gaussian,
    score,
)
from helpers.flows import PlanarTransform, sampling_flow
from helpers.models import VAE, standard_normal_prior

W = torch.tensor(
    [[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
)  # orthogonal columns: a diagonal posterior
B, SIGMA = torch.tensor([0.5, -1.0, 0.0]), 0.5


class LinearDecoder(LazyDistribution):
    def forward(self, z):
        return DiagNormal(z @ W.T + B, torch.full((3,), SIGMA))


class PosteriorEncoder(LazyDistribution):
    """The exact posterior, optionally widened so that it is no longer exact."""

    def __init__(self, widen: float = 1.0) -> None:
        super().__init__()
        self.widen = widen

    def forward(self, x):
        precision = 1 + (W**2).sum(0) / SIGMA**2
        loc = ((x - B) @ W) / SIGMA**2 / precision
        return DiagNormal(loc, self.widen * precision.rsqrt().expand_as(loc))


def exact_log_evidence(x):
    return MultivariateNormal(B, W @ W.T + SIGMA**2 * torch.eye(3)).log_prob(x)


def make_model(widen: float = 1.0) -> nn.Module:
    return VAE(PosteriorEncoder(widen), LinearDecoder(), standard_normal_prior(2))


def test_exact_posterior_gives_exact_evidence_for_any_chunking():
    x = torch.randn(37, 3) * 2
    for batch_size, max_points in [(37, 10_000), (5, 7), (8, 1)]:
        estimate = importance_log_likelihood(
            make_model(), x, 50, batch_size, max_points
        )
        assert torch.allclose(estimate, exact_log_evidence(x), atol=1e-4)


def test_inexact_posterior_bounds_tighten_towards_the_evidence():
    torch.manual_seed(0)
    x = torch.randn(200, 3) * 2
    exact = exact_log_evidence(x).mean()
    model = make_model(widen=1.6)
    elbo = elbo_per_image(model, x.repeat(20, 1)).elbo.mean().item()
    iwae = importance_log_likelihood(model, x, 2000).mean()
    assert elbo < iwae.item() < exact.item() + 0.01
    assert exact.item() - iwae.item() < 0.05 < exact.item() - elbo
    scores = score(model, x, n_samples=100)
    row = scores.row()
    assert abs(row["NLL"] + exact.item()) < 0.1
    expected_se = exact_log_evidence(x).std().item() / math.sqrt(len(x))
    assert abs(row["NLL s.e."] - expected_se) < 0.05
    assert row["test ELBO"] == pytest.approx(row["reconstruction"] - row["KL"])
    assert row["log p_K - ELBO"] > 0 and scores.bound_holds()


def test_score_is_repeatable_and_paired_differences_are_tight():
    torch.manual_seed(0)
    x = torch.randn(300, 3) * 2
    wide, exact = make_model(widen=1.6), make_model()
    first, again = score(wide, x, 50), score(wide, x, 50)
    assert torch.equal(first.log_px, again.log_px)  # seeded: the same numbers
    assert torch.equal(first.elbo, again.elbo)
    difference, difference_se = mean_and_se(score(exact, x, 50).log_px - first.log_px)
    _, single_se = mean_and_se(first.log_px)
    assert difference > 0 and difference_se < single_se / 10


def test_a_broken_estimator_fails_the_bound_check():
    scores = score(make_model(), torch.randn(50, 3), 10)
    broken = scores._replace(log_px=scores.elbo - 1.0)
    assert scores.bound_holds() and not broken.bound_holds()


def test_active_units_counts_dimensions_that_depend_on_x():
    class HalfEncoder(LazyDistribution):
        def forward(self, x):
            loc = torch.cat([x[:, :3], torch.zeros(len(x), 2)], dim=1)
            return DiagNormal(loc, torch.ones_like(loc))

    model = VAE(HalfEncoder(), LinearDecoder(), standard_normal_prior(5))
    count, variances = active_units(model, torch.randn(500, 4))
    assert count == 3 and variances.shape == (5,)


def test_a_flow_posterior_equal_to_the_prior_on_some_dimensions_is_inactive_there():
    # q(z|x): N((x_0, x_1, 0, 0), I) through a planar layer that moves z_0 only, so q
    # has no closed-form mean and z_2, z_3 are N(0, 1) whatever x: inactive. With 64
    # samples the noise variance of a sample mean is 1/64 > 0.01, which the
    # covariance of two independent means removes.
    class FlowEncoder(LazyDistribution):
        def forward(self, x):
            loc = torch.cat([x[:, :2], torch.zeros(len(x), 2)], dim=1)
            w = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand_as(loc)
            layer = PlanarTransform(torch.zeros_like(loc), w, torch.zeros(len(x)))
            return sampling_flow(DiagNormal(loc, torch.ones_like(loc)), [layer])

    model = VAE(FlowEncoder(), LinearDecoder(), standard_normal_prior(4))
    with pytest.raises(NotImplementedError):
        _ = model.encoder(torch.zeros(1, 4)).mean
    torch.manual_seed(0)
    count, variances = active_units(model, torch.randn(2000, 4))
    assert count == 2, variances
    assert variances[2:].abs().max() < 0.003


def test_memory_is_bounded_by_max_points_whatever_k():
    seen: list[int] = []

    class RecordingDecoder(LinearDecoder):
        def forward(self, z):
            seen.append(z.shape[:-1].numel())
            return super().forward(z)

    model = VAE(PosteriorEncoder(), RecordingDecoder(), standard_normal_prior(2))
    x = torch.randn(10, 3)
    estimate = importance_log_likelihood(
        model, x, n_samples=5000, batch_size=4, max_points=64
    )
    assert max(seen) <= 64 and sum(seen) == 5000 * 10
    assert torch.allclose(estimate, exact_log_evidence(x), atol=1e-4)


def test_smaller_k_from_one_pass_uses_the_first_draws():
    model, x = make_model(), torch.randn(20, 3)
    torch.manual_seed(3)
    both = importance_log_likelihood_by_k(model, x, [4, 10], max_points=200)
    torch.manual_seed(3)
    alone = importance_log_likelihood_by_k(model, x, [4], max_points=200)
    assert torch.equal(both[4], alone[4])
    assert not torch.equal(both[4], both[10])


def test_scores_are_cached_by_weights_images_and_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation, "cache_dir", lambda: tmp_path)
    model, x = make_model(), torch.randn(30, 3)
    first = score(model, x, 20, also_k=(5,), cache="m")
    after_first = torch.rand(3)

    def refuse(*args, **kwargs):
        raise AssertionError("sampled again although the scores were cached")

    monkeypatch.setattr(evaluation, "importance_sampling_pass", refuse)
    again = score(model, x, 20, also_k=(5,), cache="m")
    assert torch.equal(again.log_px, first.log_px)
    assert torch.equal(again.log_px_at[5], first.log_px_at[5])
    assert torch.equal(again.mean_log_w, first.mean_log_w)
    assert torch.equal(torch.rand(3), after_first)  # the same random numbers follow
    with pytest.raises(AssertionError, match="sampled again"):
        score(model, x, 21, also_k=(5,), cache="m")  # another K is another entry


def test_a_damaged_score_cache_warns_and_recomputes(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation, "cache_dir", lambda: tmp_path)
    model, x = make_model(), torch.randn(10, 3)
    first = score(model, x, 8, cache="m")
    (damaged,) = (tmp_path / "scores").glob("m-*.pt")
    damaged.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable file"):
        again = score(model, x, 8, cache="m")
    assert torch.equal(again.log_px, first.log_px)


def widened_kl(widen: float, dims: int = 2) -> float:
    """KL(N(m, widen^2 s^2) || N(m, s^2)) summed over ``dims`` dimensions."""
    return dims * 0.5 * (widen**2 - 1 - math.log(widen**2))


def test_mean_log_weight_is_the_elbo_from_k_draws():
    torch.manual_seed(0)
    x = torch.randn(200, 3) * 2
    exact_pass = importance_sampling_pass(make_model(), x, [50])
    # the exact posterior: every log-weight is log p(x)
    assert torch.allclose(exact_pass.mean_log_w, exact_log_evidence(x), atol=1e-4)
    wide_pass = importance_sampling_pass(make_model(widen=1.6), x, [2000, 10])
    gap = exact_log_evidence(x) - wide_pass.mean_log_w  # KL(q || p(z|x)), per image
    assert abs(gap.mean().item() - widened_kl(1.6)) < 0.02
    one_sample = elbo_per_image(make_model(widen=1.6), x).elbo
    # K draws: far less noise per image than the one-sample ELBO
    assert (exact_log_evidence(x) - one_sample).std() > 10 * gap.std()
    assert set(wide_pass.log_px_at) == {10, 2000}


def test_scores_carry_the_k_draw_elbo():
    torch.manual_seed(0)
    x = torch.randn(100, 3) * 2
    scores = score(make_model(widen=1.6), x, 500)
    gap = scores.log_px - scores.mean_log_w
    assert abs(gap.mean().item() - widened_kl(1.6)) < 0.05


def test_per_image_gaussian_closes_an_amortization_gap():
    # The widened encoder is the exact posterior made 1.6 times wider: its whole gap
    # is amortization (a Gaussian per image can be exact here), so the fitted
    # Gaussians must recover the exact posterior and log p(x).
    torch.manual_seed(0)
    x = torch.randn(40, 3) * 2
    model = make_model(widen=1.6)
    fitted = per_image_gaussian(model, x, steps=200, samples=32, lr=0.03, n_eval=2000)
    exact = make_model().encoder(x)  # within a fifth of a standard deviation
    assert ((fitted.loc - exact.mean) / exact.stddev).abs().max() < 0.2
    assert torch.allclose(fitted.scale, exact.stddev, rtol=0.1)
    approximation = exact_log_evidence(x) - fitted.elbo
    assert approximation.abs().max() < 0.02
    assert torch.allclose(fitted.log_px, exact_log_evidence(x), atol=0.02)
    assert fitted.trace[-50:].mean() - fitted.trace[0] > 0.8 * widened_kl(1.6)


def test_per_image_gaussian_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = make_model(widen=1.6)
    layer = nn.Linear(2, 2)  # a parameter that must keep requires_grad
    model.extra = layer
    frozen = nn.Linear(2, 2).requires_grad_(False)
    model.frozen = frozen
    per_image_gaussian(model, torch.randn(5, 3), steps=3, n_eval=10)
    assert layer.weight.requires_grad and not frozen.weight.requires_grad
    assert layer.weight.grad is None
