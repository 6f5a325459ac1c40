"""Efficiency helpers on tiny models: parameters, FLOPs, real-time factor."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from samuel_pl.metrics import count_parameters, flops_per_forward, measure_generation


def test_metric_count_parameters() -> None:
    lin = nn.Linear(16, 8)
    model = nn.Sequential(lin, nn.ReLU(), lin)  # shared weights count once
    assert count_parameters(model) == 16 * 8 + 8
    frozen = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    frozen[0].requires_grad_(False)
    assert count_parameters(frozen, trainable_only=True) == 3 * 2 + 2
    assert count_parameters(frozen) == 4 * 3 + 3 + 3 * 2 + 2


def test_metric_flops_of_linear_and_conv() -> None:
    batch, n_in, n_out = 4, 16, 8
    assert (
        flops_per_forward(nn.Linear(n_in, n_out), torch.randn(batch, n_in))
        == 2 * n_in * n_out * batch
    )
    conv = nn.Conv1d(3, 5, kernel_size=3, padding=1)
    length = 20
    assert flops_per_forward(conv, torch.randn(2, 3, length)) == 2 * 2 * 5 * length * 3 * 3


def test_metric_measure_generation() -> None:
    out = measure_generation(lambda: time.sleep(0.05), audio_seconds=2.0)
    assert out["seconds"] >= 0.05
    assert out["rtf"] == pytest.approx(out["seconds"] / 2.0)
    assert out["peak_rss_mb"] > 1.0
    with pytest.raises(ValueError):
        measure_generation(lambda: None, audio_seconds=0)


def test_metric_generation_efficiency_rtf_over_generated_audio() -> None:
    import numpy as np

    from samuel_pl.metrics import GenerationEfficiency

    metric = GenerationEfficiency(sample_rate=100, parameters=7)
    # 1 s and 2 s of audio made in 0.3 s and 0.6 s; then 1 s more in 0.3 s, as a (B, N) tensor
    metric.update([np.zeros(100), np.zeros((1, 200))], seconds=[0.3, 0.6])
    metric.update(torch.zeros(1, 100), seconds=torch.tensor([0.3]))
    out = metric.compute()
    assert float(out["params"]) == 7 and float(out["rtf"]) == pytest.approx(1.2 / 4.0)
    assert metric.intervals() == {"params": (7.0, 7.0), "rtf": (pytest.approx(0.3),) * 2}
    untimed = GenerationEfficiency(sample_rate=100)  # re-read from a cache without timings
    untimed.update([np.zeros(100)], seconds=[0.0])
    assert untimed.compute() == {}
    with pytest.raises(ValueError, match="seconds"):
        untimed.update([np.zeros(100)])
