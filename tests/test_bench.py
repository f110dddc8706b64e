"""The throughput benchmark (benchmarks/throughput.py): its model, summary, report and
argument checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import zuko

from helpers.comparison import tutorial_vae
from helpers.models import BernoulliDecoder, GaussianEncoder
from helpers.timing import seconds_per_epoch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"


@pytest.fixture(scope="module")
def throughput():
    """The benchmark script, imported as a module."""
    spec = importlib.util.spec_from_file_location("throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def linear_widths(net: torch.nn.Module) -> list[int]:
    return [m.out_features for m in net if isinstance(m, torch.nn.Linear)]


def test_tutorial_model_is_zukos():
    model = tutorial_vae()
    assert isinstance(model.encoder, GaussianEncoder)
    assert isinstance(model.decoder, BernoulliDecoder)
    assert linear_widths(model.encoder.net) == [1024, 1024, 2 * 16]
    assert linear_widths(model.decoder.net) == [1024, 1024, 784]
    assert isinstance(model.prior, zuko.flows.MAF)
    assert len(model.prior.transform.transforms) == 3
    assert model.prior().sample((5,)).shape == (5, 16)


def test_summary_skips_the_first_epoch_and_takes_the_median():
    assert seconds_per_epoch([100.0, 1.0, 3.0, 2.0]) == 2.0
    assert seconds_per_epoch([7.0]) == 7.0


def test_report_names_every_run_and_the_ratio(throughput):
    run = {"epoch_seconds": [2.0, 1.0], "seconds_per_epoch": 1.0, "peak_gib": None}
    result = {
        "date": "2026-01-01", "device": "cpu", "torch": "x", "model": "m",
        "epochs": 2, "images_per_epoch": 10,
        "runs": {
            "conventional": {**run, "seconds_per_epoch": 3.0},
            "book": {**run, "peak_gib": 1.5},
        },
        "ratio": 3.0,
        "evaluation": {"k": 5, "images": 4, "seconds": 0.5, "peak_gib": None},
    }  # fmt: skip
    text = throughput.report(result)
    assert "conventional" in text and "book" in text
    assert "ratio (conventional / fastest book pipeline): 3.00" in text
    assert "1.50 GiB" in text and "K=5, 4 images" in text


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--subset", "-3"]])
def test_bad_arguments_are_refused(throughput, args, capsys):
    with pytest.raises(SystemExit):
        throughput.main(args)
    assert "must be positive" in capsys.readouterr().err
