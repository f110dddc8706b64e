"""The throughput benchmark's parts: its model, its summary, its report and its argument checks."""

from __future__ import annotations

import pytest
import torch
import zuko

from helpers.bench import main, report, summarize, tutorial_model
from helpers.models import BernoulliDecoder, GaussianEncoder


def test_tutorial_model_is_zukos():
    model = tutorial_model()
    assert isinstance(model.encoder, GaussianEncoder) and isinstance(
        model.decoder, BernoulliDecoder
    )
    widths = [
        layer.out_features
        for layer in model.encoder.net
        if isinstance(layer, torch.nn.Linear)
    ]
    assert widths == [1024, 1024, 2 * 16]
    widths = [
        layer.out_features
        for layer in model.decoder.net
        if isinstance(layer, torch.nn.Linear)
    ]
    assert widths == [1024, 1024, 784]
    assert (
        isinstance(model.prior, zuko.flows.MAF)
        and len(model.prior.transform.transforms) == 3
    )
    assert model.prior().sample((5,)).shape == (5, 16)


def test_summary_skips_the_first_epoch_and_takes_the_median():
    assert summarize([100.0, 1.0, 3.0, 2.0]) == 2.0
    assert summarize([7.0]) == 7.0


def test_report_names_every_run_and_the_ratio():
    run = {"epoch_seconds": [2.0, 1.0], "seconds_per_epoch": 1.0, "peak_gib": None}
    result = {
        "date": "2026-01-01", "device": "cpu", "torch": "x", "model": "m", "epochs": 2, "images_per_epoch": 10,
        "runs": {"conventional": {**run, "seconds_per_epoch": 3.0}, "book": {**run, "peak_gib": 1.5}},
        "ratio": 3.0, "evaluation": {"k": 5, "images": 4, "seconds": 0.5, "peak_gib": None},
    }  # fmt: skip
    text = report(result)
    assert (
        "conventional" in text
        and "book" in text
        and "ratio (conventional / fastest book pipeline): 3.00" in text
    )
    assert "1.50 GiB" in text and "K=5, 4 images" in text


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--subset", "-3"]])
def test_bad_arguments_are_refused(args, capsys):
    with pytest.raises(SystemExit):
        main(args)
    assert "must be positive" in capsys.readouterr().err
