from __future__ import annotations

import pytest
import torch
from torch.distributions import kl_divergence

from helpers.models import (
    BernoulliDecoder,
    GaussianEncoder,
    maf_prior,
    standard_normal_prior,
)
from helpers.objectives import (
    elbo_loss,
    elbo_terms,
    free_bits_loss,
    kl_per_dimension,
    kl_warmup_loss,
    sample_and_log_prob,
)


def test_shapes_and_supports():
    encoder, decoder = GaussianEncoder(12, 3, (8,)), BernoulliDecoder(3, 12, (8,))
    x = torch.bernoulli(torch.full((5, 12), 0.5))
    q = encoder(x)
    assert (
        q.batch_shape == (5,) and q.event_shape == (3,) and bool((q.stddev > 0).all())
    )
    z = q.rsample((7,))
    assert decoder(z).log_prob(x).shape == (7, 5)
    assert standard_normal_prior(3)().log_prob(z).shape == (7, 5)
    assert list(standard_normal_prior(3).parameters()) == []


def test_wrong_shape_says_what_to_do():
    with pytest.raises(ValueError, match="flatten images"):
        GaussianEncoder(784, 2)(torch.rand(4, 28, 28))


def test_monte_carlo_kl_matches_analytic(tiny_vae, binary_data):
    torch.manual_seed(1)
    x = binary_data[:4].repeat(4000, 1)
    analytic = elbo_terms(tiny_vae, x, analytic_kl=True).kl.view(4000, 4)
    sampled = elbo_terms(tiny_vae, x).kl.view(4000, 4)
    error = (sampled.mean(0) - analytic[0]).abs()
    assert bool((error < 4 * sampled.std(0) / 4000**0.5).all())
    assert bool((analytic >= 0).all())


def test_elbo_identity_and_loss(tiny_vae, binary_data):
    terms = elbo_terms(tiny_vae, binary_data)
    assert torch.allclose(terms.elbo, terms.recon - terms.kl)
    logs = elbo_loss(tiny_vae, (binary_data,), 0.0, beta=2.0)
    assert torch.allclose(logs["loss"], -(logs["recon"] - 2.0 * logs["kl"]))
    assert set(logs) == {"loss", "elbo", "recon", "kl"}


def test_flow_is_scored_in_one_pass():
    flow = maf_prior(3, transforms=2, hidden=(8,))()
    z, log_q = sample_and_log_prob(flow, (6,))
    assert z.shape == (6, 3) and torch.allclose(log_q, flow.log_prob(z), atol=1e-4)
    q = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    z, log_q = sample_and_log_prob(q, (5,))
    assert torch.allclose(log_q, q.log_prob(z)) and z.requires_grad is False
    assert float(kl_divergence(q, q).sum()) == 0.0


def test_per_dimension_kl_sums_to_the_kl(tiny_vae, binary_data):
    q = tiny_vae.encoder(binary_data)
    per_dimension = kl_per_dimension(q)
    assert per_dimension.shape == (64, 3)
    assert torch.allclose(
        per_dimension.sum(-1), kl_divergence(q, tiny_vae.prior()), atol=1e-5
    )


def test_kl_warmup_weight_schedule(tiny_vae, binary_data):
    for progress, weight in [(0.0, 0.0), (0.15, 0.5), (0.3, 1.0), (0.9, 1.0)]:
        torch.manual_seed(0)
        logs = kl_warmup_loss(tiny_vae, (binary_data,), progress, warmup=0.3)
        assert float(logs["kl_weight"].detach()) == pytest.approx(weight)
        assert torch.allclose(logs["loss"], -(logs["recon"] - weight * logs["kl"]))


def test_free_bits_clamps_only_small_dimensions(tiny_vae, binary_data):
    torch.manual_seed(0)
    free = free_bits_loss(tiny_vae, (binary_data,), 0.0, free_bits=0.0)
    assert torch.allclose(free["kl_clamped"], free["kl"]) and torch.allclose(
        free["loss"], -free["elbo"]
    )
    huge = free_bits_loss(tiny_vae, (binary_data,), 0.0, free_bits=100.0)
    assert float(huge["kl_clamped"].detach()) == pytest.approx(300.0)
    assert torch.allclose(huge["loss"], -(huge["recon"] - 300.0))
