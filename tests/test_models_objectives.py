from __future__ import annotations

import pytest
import torch
from torch.distributions import kl_divergence

from helpers.models import BernoulliDecoder, GaussianDecoder, GaussianEncoder, maf_prior, standard_normal_prior
from helpers.objectives import elbo_loss, elbo_terms, sample_and_log_prob


def test_shapes_and_supports():
    encoder, decoder = GaussianEncoder(12, 3, (8,)), BernoulliDecoder(3, 12, (8,))
    x = torch.bernoulli(torch.full((5, 12), 0.5))
    q = encoder(x)
    assert q.batch_shape == (5,) and q.event_shape == (3,) and bool((q.stddev > 0).all())
    z = q.rsample((7,))
    assert decoder(z).log_prob(x).shape == (7, 5)
    assert GaussianDecoder(3, 12, (8,))(z).log_prob(torch.rand(5, 12)).shape == (7, 5)
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
