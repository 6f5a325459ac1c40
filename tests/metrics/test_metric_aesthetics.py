"""Aesthetics adapter: "unavailable" with a reason, and the loading path with a random predictor."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from samuel_pl.errors import SamuelError
from samuel_pl.metrics import AXES, AestheticsMetric, AestheticsScorer


def test_metric_aesthetics_unavailable_without_package(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "audiobox_aesthetics", None)
    scorer = AestheticsScorer(tmp_path / "checkpoint.pt")
    assert not scorer.available and "pip install audiobox_aesthetics" in scorer.reason
    metric = AestheticsMetric(scorer, sample_rate=16000)
    metric.update([np.zeros(16000, np.float32)])
    assert metric.report() == {"status": "unavailable", "reason": scorer.reason}
    with pytest.raises(SamuelError, match="unavailable"):
        metric.compute()
    with pytest.raises(SamuelError, match="unavailable"):
        scorer.score(np.zeros(16000, np.float32), 16000)


class _FakeAes(nn.Module):
    """Stands in for AesMultiOutput: per-axis linear map of each window's masked mean |x|."""

    def __init__(self, proj_num_layer: int = 1, target_transform=None, **_: object) -> None:
        super().__init__()
        self.proj_layer = nn.ModuleDict({a: nn.Linear(1, 1) for a in ("CE", "CU", "PC", "PQ")})

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        wav, mask = batch["wav"].squeeze(1), batch["mask"].squeeze(1).float()
        feat = ((wav.abs() * mask).sum(-1) / mask.sum(-1)).unsqueeze(-1)  # (W, 1)
        return {a: m(feat).squeeze(-1) for a, m in self.proj_layer.items()}


@pytest.fixture()
def fake_package(monkeypatch) -> None:
    pkg, sub, aes = (
        types.ModuleType(n)
        for n in (
            "audiobox_aesthetics",
            "audiobox_aesthetics.model",
            "audiobox_aesthetics.model.aes",
        )
    )
    aes.AesMultiOutput = _FakeAes
    for mod in (pkg, sub, aes):
        monkeypatch.setitem(sys.modules, mod.__name__, mod)


def test_metric_aesthetics_loads_local_checkpoint(fake_package, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = _FakeAes()
    transform = {a: {"mean": 5.0 + i, "std": 2.0} for i, a in enumerate(("CE", "CU", "PC", "PQ"))}
    ckpt = {
        "state_dict": {f"model.{k}": v for k, v in net.state_dict().items()},
        "model_cfg": {"proj_num_layer": 1, "nth_layer": 13},
        "target_transform": transform,
    }
    torch.save(ckpt, tmp_path / "checkpoint.pt")
    scorer = AestheticsScorer(tmp_path / "checkpoint.pt")
    assert scorer.available, scorer.reason
    # 15 s at 16 kHz: one full 10 s window (amplitude 0.2) and a half window (amplitude 0.6)
    x = np.concatenate([np.full(160000, 0.2), np.full(80000, 0.6)]).astype(np.float32)
    got = scorer.score(x, 16000)
    for a in AXES:
        lin = net.proj_layer[a]
        w, b = float(lin.weight.detach()), float(lin.bias.detach())
        per_window = np.array([w * 0.2 + b, w * 0.6 + b]) * 2.0 + transform[a]["mean"]
        expected = (per_window * np.array([1.0, 0.5])).sum() / 1.5
        assert got[a] == pytest.approx(expected, rel=1e-5)
    metric = AestheticsMetric(scorer, sample_rate=16000)
    metric.update([x, x])
    rep = metric.report()
    assert rep["status"] == "ok" and rep["PQ"] == pytest.approx(got["PQ"], rel=1e-6)


def test_metric_aesthetics_missing_checkpoint(fake_package, tmp_path: Path) -> None:
    scorer = AestheticsScorer(tmp_path / "nope.pt")
    assert not scorer.available and "nope.pt" in scorer.reason and "checkpoint.pt" in scorer.reason
