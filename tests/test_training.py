from __future__ import annotations

import functools

import pytest
import torch

from helpers import cache as cache_module
from helpers.objectives import elbo_loss
from helpers.training import NonFiniteLossError, describe, fit


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
    history = fit(tiny_vae, binary_data, epochs=2, batch_size=16, cache="tiny")
    files = list(cache_in_tmp.glob("tiny-*.pt"))
    assert len(files) == 1 and not list(cache_in_tmp.glob("*.tmp"))
    trained = {k: v.clone() for k, v in tiny_vae.state_dict().items()}
    with torch.no_grad():
        for p in tiny_vae.parameters():
            p.zero_()
    assert fit(tiny_vae, binary_data, epochs=2, batch_size=16, cache="tiny") == history
    assert "loaded trained weights" in capsys.readouterr().out
    assert all(torch.equal(trained[k], v) for k, v in tiny_vae.state_dict().items())

    files[0].write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        retrained = fit(tiny_vae, binary_data, epochs=2, batch_size=16, cache="tiny")
    assert (
        len(retrained) == 2
        and torch.load(files[0], weights_only=True)["history"] == retrained
    )


def test_cache_key_changes_with_the_run(tiny_vae, binary_data, cache_in_tmp):
    fit(tiny_vae, binary_data, epochs=1, batch_size=16, cache="key")
    fit(tiny_vae, binary_data, epochs=1, batch_size=32, cache="key")
    fit(tiny_vae, binary_data, epochs=1, batch_size=32, cache="key", config={"beta": 2})
    assert len(list(cache_in_tmp.glob("key-*.pt"))) == 3
    assert describe(functools.partial(elbo_loss, beta=4.0)).endswith(
        "elbo_loss([('beta', 4.0)])"
    )


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
