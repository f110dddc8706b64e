"""The comparison's settings and builders: one variant each, sizes from the mode."""

from __future__ import annotations

import torch

from helpers.comparison import VARIANTS, Variant, build, settings
from helpers.models import GaussianEncoder
from helpers.posteriors import IAFEncoder, PlanarFlowEncoder


def test_quick_settings_follow_the_mode(monkeypatch):
    monkeypatch.setenv("VAEBOOK_QUICK", "1")
    assert settings() == settings(quick=True)
    monkeypatch.setenv("VAEBOOK_QUICK", "0")
    assert settings() == settings(quick=False)
    assert settings(quick=True).epochs < settings(quick=False).epochs


def test_every_variant_builds_what_its_name_says():
    s = settings(quick=True)
    encoders = {"Gaussian": GaussianEncoder, "planar": PlanarFlowEncoder,
                "IAF": IAFEncoder}  # fmt: skip
    priors = {"Gaussian": "UnconditionalDistribution", "MAF": "MAF", "NSF": "NSF"}
    for variant in VARIANTS.values():
        vae = build(variant, s)
        assert isinstance(vae.encoder, encoders[variant.posterior])
        assert type(vae.prior).__name__ == priors[variant.prior]
        assert vae.encoder.z_features == s.z
        x = torch.bernoulli(torch.full((3, 784), 0.3))
        assert vae.decoder(vae.encoder(x).rsample()).log_prob(x).shape == (3,)
    assert build(VARIANTS["planar K=16"], s).encoder.flows == s.flows == 16
    iaf = build(VARIANTS["IAF posterior"], s).encoder
    assert len(iaf.transform.transform.transforms) == s.iaf_layers


def test_cache_names_are_unique():
    caches = [v.cache for v in VARIANTS.values()]
    assert len(set(caches)) == len(caches)


def test_a_build_is_repeatable_from_a_seed():
    s, variant = settings(quick=True), Variant("x", "IAF", "MAF")
    torch.manual_seed(0)
    first = build(variant, s).state_dict()
    torch.manual_seed(0)
    again = build(variant, s).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_every_variant_is_selected_on_a_quantity_its_objective_logs():
    s = settings(quick=True)
    x = torch.bernoulli(torch.full((4, 784), 0.3))
    for variant in VARIANTS.values():
        logs = variant.objective(build(variant, s), (x,), 1.0)
        assert variant.metric in logs
