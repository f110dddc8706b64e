"""The comparison's settings and builders: one variant each, at full or short sizes."""

from __future__ import annotations

import torch

from helpers import cache as cache_module
from helpers.comparison import (
    FULL,
    SHORT,
    VARIANTS,
    ComparisonData,
    Variant,
    build,
    load_data,
    seed_rows,
    train,
)
from helpers.models import GaussianEncoder
from helpers.posteriors import IAFEncoder, PlanarFlowEncoder


def test_a_short_run_is_smaller_than_the_full_one():
    assert (FULL.hidden, FULL.z, FULL.epochs, FULL.k_is) == ((256, 256), 16, 30, 500)
    assert len(FULL.seeds) >= 3 and len(set(FULL.seeds)) == len(FULL.seeds)
    assert FULL.train_images is FULL.valid_images is FULL.test_images is None
    assert SHORT.epochs < FULL.epochs and SHORT.k_is < FULL.k_is
    assert SHORT.train_images and SHORT.valid_images and SHORT.test_images


def test_every_variant_builds_what_its_name_says():
    s = SHORT
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
    assert build(VARIANTS["planar K=16"], s).encoder.flows == s.planar_layers == 16
    iaf = build(VARIANTS["IAF posterior"], s).encoder
    assert len(iaf.transform.transform.transforms) == s.iaf_layers


def test_cache_names_are_unique():
    caches = [v.cache for v in VARIANTS.values()]
    assert len(set(caches)) == len(caches)


def test_a_build_is_repeatable_from_a_seed():
    s, variant = SHORT, Variant("x", "IAF", "MAF")
    torch.manual_seed(0)
    first = build(variant, s).state_dict()
    torch.manual_seed(0)
    again = build(variant, s).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_every_variant_is_selected_on_a_quantity_its_objective_logs():
    s = SHORT
    x = torch.bernoulli(torch.full((4, 784), 0.3))
    for variant in VARIANTS.values():
        logs = variant.objective(build(variant, s), (x,), 1.0)
        assert variant.metric in logs


def test_training_is_cached_under_the_variant_and_its_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "cache_dir", lambda: tmp_path)
    x = torch.rand(32, 784)
    data = ComparisonData(x, None, x[:8], None, None, None)
    variant = VARIANTS["Gaussian VAE"]
    torch.manual_seed(0)
    first = train(build(variant, SHORT), variant, data, SHORT)
    (path,) = tmp_path.glob("cmp_gaussian-*.pt")
    key = torch.load(path, weights_only=True)["key"]
    assert '"posterior": "Gaussian"' in key and '"seed": 0' in key
    assert '"hidden": [64, 64]' in key and '"n_train": 32' in key
    again = train(build(variant, SHORT), variant, data, SHORT)  # loaded
    assert again == first and len(list(tmp_path.glob("*.pt"))) == 1
    train(build(variant, SHORT), variant, data, SHORT, seed=1)  # another key
    assert len(list(tmp_path.glob("cmp_gaussian-*.pt"))) == 2


def test_load_data_takes_the_sizes_of_the_settings(real_data_root, monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", str(real_data_root))
    data = load_data("cpu", SHORT)
    assert (len(data.x_train), len(data.x_valid)) == (3000, 500)
    assert len(data.x_test) == len(data.y_test) == SHORT.test_images
    assert set(data.x_test.unique().tolist()) == {0.0, 1.0}
    assert ((data.x_train > 0) & (data.x_train < 1)).any()  # grey levels, for fit


def test_seed_rows_count_the_training_noise():
    # two seeds whose differences from the reference disagree: the standard
    # error is their spread, far above the one-seed paired error (zero here)
    torch.manual_seed(0)
    ref = [torch.randn(500) - 90 for _ in range(3)]
    other = [x + shift for x, shift in zip(ref, [1.0, 2.0, 3.0])]
    row = seed_rows({"ref": ref, "other": other}, "ref")["other"]
    assert abs(row["ΔNLL"] + 2.0) < 1e-5
    assert abs(row["ΔNLL s.e."] - 1.0 / 3**0.5) < 1e-5
    assert seed_rows({"ref": ref}, "ref")["ref"]["ΔNLL"] == 0.0
