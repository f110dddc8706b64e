from __future__ import annotations

import pytest
import torch

from helpers import cache as cache_module
from helpers.data import fixed_binarization
from helpers.objectives import elbo_loss
from helpers.training import EarlyStopping, NonFiniteLossError, fit, train_epoch

TINY = {"model": "bernoulli_vae", "z": 3, "hidden": (16,), "seed": 0}


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "cache_dir", lambda: tmp_path)
    return tmp_path


def test_fit_logs_history_and_improves(tiny_vae, binary_data):
    history = fit(
        tiny_vae, binary_data, epochs=6, batch_size=16, lr=1e-2, valid=binary_data[:16]
    )
    assert [h["epoch"] for h in history] == list(range(1, 7))
    for key in ("elbo", "recon", "kl", "seconds", "valid_elbo", "lr"):
        assert key in history[0]
    assert history[-1]["elbo"] > history[0]["elbo"]
    assert history[0]["elbo"] == pytest.approx(
        history[0]["recon"] - history[0]["kl"], rel=1e-5
    )


def test_nan_names_epoch_step_and_term(tiny_vae, binary_data):
    def breaks_at_step_three(model, batch, progress, calls=[0]):  # noqa: B006 - a call counter
        calls[0] += 1
        logs = elbo_loss(model, batch, progress)
        if calls[0] == 3:
            logs["recon"] = logs["recon"] * float("nan")
        return logs

    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 3 .*recon"):
        fit(
            tiny_vae,
            binary_data,
            epochs=2,
            batch_size=16,
            objective=breaks_at_step_three,
        )


def test_cache_round_trip_and_corrupt_file(tiny_vae, binary_data, cache_in_tmp, capsys):
    history = fit(
        tiny_vae, binary_data, epochs=2, batch_size=16, cache="tiny", config=TINY
    )
    files = list(cache_in_tmp.glob("tiny-*.pt"))
    assert len(files) == 1 and not list(cache_in_tmp.glob("*.tmp"))
    trained = {k: v.clone() for k, v in tiny_vae.state_dict().items()}
    with torch.no_grad():
        for p in tiny_vae.parameters():
            p.zero_()
    again = fit(
        tiny_vae, binary_data, epochs=2, batch_size=16, cache="tiny", config=TINY
    )
    assert again == history
    assert capsys.readouterr().out == ""  # a cache load is silent on the page
    assert all(torch.equal(trained[k], v) for k, v in tiny_vae.state_dict().items())

    files[0].write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable file"):
        retrained = fit(
            tiny_vae, binary_data, epochs=2, batch_size=16, cache="tiny", config=TINY
        )
    assert (
        len(retrained) == 2
        and torch.load(files[0], weights_only=True)["history"] == retrained
    )


def test_cache_key_changes_with_the_run(tiny_vae, binary_data, cache_in_tmp):
    def train(**changes):
        arguments = {"epochs": 1, "batch_size": 16, "cache": "key", "config": TINY}
        fit(tiny_vae, binary_data, **(arguments | changes))

    train()
    train()  # the same run: loaded, no new file
    train(batch_size=32)  # fit's own arguments are part of the key
    train(metric="kl")
    train(config=TINY | {"beta": 2})  # and so is what the caller names
    assert len(list(cache_in_tmp.glob("key-*.pt"))) == 4
    with pytest.raises(ValueError, match="needs config="):
        fit(tiny_vae, binary_data, epochs=1, cache="key")


def test_model_and_data_on_different_devices(tiny_vae, binary_data):
    if not torch.cuda.is_available():
        pytest.skip("needs a second device")
    with pytest.raises(ValueError, match="model.to"):
        fit(tiny_vae, binary_data.cuda(), epochs=1)


def test_a_compile_failure_falls_back_to_eager(tiny_vae, binary_data, monkeypatch):
    calls = []

    def broken_compile(objective):
        def fails(*args):
            calls.append("compiled")
            raise RuntimeError("no compiler here")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    with pytest.warns(
        UserWarning, match="torch.compile failed .*no compiler here.*training eagerly"
    ):
        history = fit(
            tiny_vae, binary_data, epochs=2, batch_size=16, lr=1e-2, compile=True
        )
    assert calls == ["compiled"]  # tried once, then eager for every later step
    assert len(history) == 2 and all(
        torch.isfinite(torch.tensor(h["loss"])) for h in history
    )


def test_compile_follows_the_environment(tiny_vae, binary_data, monkeypatch):
    compiled = []
    monkeypatch.setattr(
        torch, "compile", lambda objective: compiled.append(objective) or objective
    )
    monkeypatch.setenv("VAEBOOK_COMPILE", "1")
    fit(tiny_vae, binary_data, epochs=1, batch_size=16)
    monkeypatch.setenv("VAEBOOK_COMPILE", "0")
    fit(tiny_vae, binary_data, epochs=1, batch_size=16)
    assert compiled == [elbo_loss]


def test_validation_images_are_binarized_inside_fit(tiny_vae, binary_data):
    grey = torch.full((16, 12), 0.5)
    seen = []

    def recording(model, batch, progress):
        if not model.training:
            seen.append(batch[0])
        return elbo_loss(model, batch, progress)

    fit(tiny_vae, binary_data, epochs=2, batch_size=16, objective=recording, valid=grey)
    assert len(seen) == 2 and torch.equal(seen[0], seen[1])  # one seeded draw
    assert set(seen[0].unique().tolist()) == {0.0, 1.0}
    assert torch.equal(seen[0], fixed_binarization(grey, seed=1))


def test_the_validation_metric_is_an_argument(tiny_vae, binary_data):
    def with_bound(model, batch, progress):
        logs = elbo_loss(model, batch, progress)
        return {**logs, "bound": logs["elbo"] + 1.0}

    history = fit(
        tiny_vae, binary_data, epochs=2, batch_size=16, objective=with_bound,
        valid=binary_data[:16], metric="bound",
    )  # fmt: skip
    assert history[0]["valid_bound"] == pytest.approx(history[0]["valid_elbo"] + 1)
    with pytest.raises(KeyError, match="valid_missing"):
        fit(tiny_vae, binary_data, epochs=1, valid=binary_data, metric="missing")


def test_early_stopping_keeps_the_best_weights():
    model = torch.nn.Linear(1, 1)
    stopping = EarlyStopping("elbo", patience=1)
    assert not stopping.update({"valid_elbo": -1.0}, model)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert stopping.update({"valid_elbo": -2.0}, model)  # worse, patience 1: stop
    stopping.restore(model)
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


def test_train_epoch_reports_means_and_progress(tiny_vae, binary_data):
    progress = []

    def recording(model, batch, p):
        progress.append(p)
        return elbo_loss(model, batch, p)

    optimizer = torch.optim.Adam(tiny_vae.parameters())
    logs = train_epoch(tiny_vae, recording, optimizer, (binary_data,), 1, 2, 16)
    assert progress == [4 / 8, 5 / 8, 6 / 8, 7 / 8]  # the second of two epochs
    assert logs["elbo"] == pytest.approx(logs["recon"] - logs["kl"], rel=1e-5)


def test_after_epoch_neither_changes_training_nor_misses_an_epoch(binary_data):
    from helpers.models import bernoulli_vae

    def noisy_score(model, epoch):  # draws random numbers, like a test score
        return {"score": torch.rand(()).item() + epoch}

    weights = []
    for after_epoch in (None, noisy_score):
        torch.manual_seed(0)
        model = bernoulli_vae(binary_data.shape[1], 3, (16,))
        history = fit(
            model, binary_data, epochs=3, batch_size=16, after_epoch=after_epoch
        )
        weights.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    assert [int(h["score"]) for h in history] == [1, 2, 3]
