from __future__ import annotations

import sys

import pytest
import torch

import helpers
from helpers import runtime


def test_quick_flag(monkeypatch):
    for value, expected in [("1", True), ("true", True), ("0", False), ("", False)]:
        monkeypatch.setenv("VAEBOOK_QUICK", value)
        assert helpers.is_quick() is expected


def test_setup_seeds_and_prints_one_line(monkeypatch, capsys):
    monkeypatch.setenv("VAEBOOK_SEED", "7")
    monkeypatch.setenv("VAEBOOK_QUICK", "1")
    device = helpers.setup()
    first = torch.rand(3)
    helpers.setup()
    assert torch.equal(first, torch.rand(3)) and isinstance(device, torch.device)
    lines = capsys.readouterr().out.strip().splitlines()
    assert (
        len(lines) == 2
        and "quick" in lines[0]
        and "seed: 7" in lines[0]
        and device.type in lines[0]
    )


def test_env_flag_is_the_one_parser(monkeypatch):
    monkeypatch.setenv("VAEBOOK_COMPILE", " No ")
    assert not runtime.env_flag("VAEBOOK_COMPILE")
    monkeypatch.setenv("VAEBOOK_COMPILE", "on")
    assert runtime.env_flag("VAEBOOK_COMPILE")
    monkeypatch.delenv("VAEBOOK_COMPILE")
    assert not runtime.env_flag("VAEBOOK_COMPILE")


def test_bad_seed(monkeypatch):
    monkeypatch.setenv("VAEBOOK_SEED", "zero")
    with pytest.raises(ValueError, match="VAEBOOK_SEED"):
        runtime.seed_from_env()


def test_cpu_name_is_a_name():
    from helpers.runtime import cpu_name

    name = cpu_name()
    assert isinstance(name, str) and name.strip() and "\n" not in name


def test_configure_backends_flushes_denormals_on_the_cpu():
    from helpers.runtime import configure_backends

    supported = torch.set_flush_denormal(False)  # start from the default
    tiny = torch.tensor(
        [1e-39]
    )  # below float32's smallest normal number (about 1.2e-38)
    try:
        if not supported:
            pytest.skip("this CPU cannot flush denormals")
        assert (tiny * 1.0).item() != 0.0
        configure_backends(torch.device("cpu"))
        assert (tiny * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)


@pytest.fixture
def colab_cpu(monkeypatch):
    """A fake Colab runtime (``google.colab`` imported) whose device is the CPU."""
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(runtime, "pick_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(runtime, "_short_run", False)
    monkeypatch.delenv("VAEBOOK_QUICK", raising=False)


def test_colab_cpu_refuses_the_full_schedule(colab_cpu):
    with pytest.raises(runtime.FullRunNeedsGPU) as refusal:
        helpers.setup()
    message = str(refusal.value)
    assert "Runtime → Change runtime type" in message and "SHORT_RUN = True" in message


def test_short_run_switch_picks_the_short_schedule(colab_cpu, capsys):
    device = helpers.setup(short_run=True)
    assert device.type == "cpu" and helpers.is_quick()
    assert "mode: quick" in capsys.readouterr().out
    helpers.setup(short_run=True)  # running the cell again keeps the switch
    with pytest.raises(runtime.FullRunNeedsGPU):
        helpers.setup(short_run=False)  # and flipping it back is obeyed
    assert not helpers.is_quick()


def test_the_environment_variable_decides_when_set(colab_cpu, monkeypatch):
    monkeypatch.setenv("VAEBOOK_QUICK", "0")  # make execute: the full run
    with pytest.raises(runtime.FullRunNeedsGPU):
        helpers.setup(short_run=True)
    monkeypatch.setenv("VAEBOOK_QUICK", "1")  # CI: the short run
    helpers.setup(short_run=False)
    assert helpers.is_quick()


def test_a_cpu_full_run_is_allowed_off_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(runtime, "pick_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(runtime, "_short_run", False)
    monkeypatch.delenv("VAEBOOK_QUICK", raising=False)
    assert helpers.setup().type == "cpu" and not helpers.is_quick()
    assert "mode: full" in capsys.readouterr().out
