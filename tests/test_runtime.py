from __future__ import annotations

import sys

import pytest
import torch

import helpers
from helpers import runtime


def test_the_environment_variable_overrides_the_switch_when_set(monkeypatch):
    cases = [("1", False, True), ("true", False, True), ("0", True, False)]
    cases += [("", True, True), ("", False, False)]  # unset: the switch decides
    for value, switch, expected in cases:
        monkeypatch.setenv("VAEBOOK_QUICK", value)
        assert runtime.short_run_from_env(switch) is expected


def test_setup_returns_the_run_seeds_and_prints_one_line(monkeypatch, capsys):
    monkeypatch.setenv("VAEBOOK_SEED", "7")
    monkeypatch.setenv("VAEBOOK_QUICK", "1")
    run = helpers.setup()
    first = torch.rand(3)
    helpers.setup()
    assert torch.equal(first, torch.rand(3))
    assert run == helpers.Run(runtime.pick_device(), short=True, seed=7)
    assert run.pick(full="all", short="some") == "some"
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("short run (about a minute")
    assert "seed: 7" in lines[0] and run.device.type.upper() in lines[0]


def test_nothing_but_setup_reads_the_run_from_the_environment():
    import pathlib

    folder = pathlib.Path(runtime.__file__).parent
    readers = [
        path.name
        for path in folder.glob("*.py")
        if "SHORT_RUN_ENV" in path.read_text() or "VAEBOOK_QUICK" in path.read_text()
    ]
    assert readers == ["runtime.py"]


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
    monkeypatch.delenv("VAEBOOK_QUICK", raising=False)


def test_colab_cpu_refuses_the_full_run(colab_cpu):
    with pytest.raises(runtime.FullRunNeedsGPU) as refusal:
        helpers.setup()
    message = str(refusal.value)
    assert "Runtime → Change runtime type" in message and "SHORT_RUN = True" in message
    assert "short run" in message


def test_the_short_run_switch_is_obeyed_on_colab(colab_cpu, capsys):
    run = helpers.setup(short_run=True)
    assert run.device.type == "cpu" and run.short
    assert capsys.readouterr().out.startswith("short run")
    assert helpers.setup(short_run=True).short  # running the cell again
    with pytest.raises(runtime.FullRunNeedsGPU):
        helpers.setup(short_run=False)  # and flipping the switch back is obeyed


def test_the_environment_variable_decides_when_set(colab_cpu, monkeypatch):
    monkeypatch.setenv("VAEBOOK_QUICK", "0")  # make execute: the full run
    with pytest.raises(runtime.FullRunNeedsGPU):
        helpers.setup(short_run=True)
    monkeypatch.setenv("VAEBOOK_QUICK", "1")  # CI: a short run
    assert helpers.setup(short_run=False).short


def test_a_cpu_full_run_is_allowed_off_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(runtime, "pick_device", lambda: torch.device("cpu"))
    monkeypatch.delenv("VAEBOOK_QUICK", raising=False)
    run = helpers.setup()
    assert run.device.type == "cpu" and not run.short
    assert capsys.readouterr().out.startswith("full run | device: CPU")
