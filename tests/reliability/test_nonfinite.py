"""A NaN injected into one training batch: trainer.nonfinite=stop ends the run with an error
naming the step and keeps the last good state; trainer.nonfinite=skip skips and counts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from samuel_pl.cli.main import main
from samuel_pl.lit import LitSamuel
from tests.conftest import DEBUG_YAML

QUICK = ["callbacks.num_sample_songs=0", "tracking.log_checkpoints=false"]


def _poison_at(monkeypatch: pytest.MonkeyPatch, step: int, record: dict) -> None:
    """Put a NaN into the accompaniment latents of the batch at global step ``step``; record
    the online weights before the bad step and at the step after it."""
    original = LitSamuel.training_step

    def poisoned(self: LitSamuel, batch: dict, batch_idx: int):
        weights = [p.detach().clone() for p in self.model.parameters()]
        record.setdefault("weights", {})[self.global_step] = weights
        if self.global_step == step:
            batch = {**batch, "accompaniment": batch["accompaniment"].clone()}
            batch["accompaniment"][0, 0, 0] = float("nan")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(LitSamuel, "training_step", poisoned)


def test_nan_batch_stops_naming_the_step_and_saves_the_last_good_state(
    debug_overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    record: dict = {}
    _poison_at(monkeypatch, 3, record)  # mid-epoch: epoch-end checkpoints are at steps 2 and 4
    args = ["fit", "--config", str(DEBUG_YAML), *debug_overrides, *QUICK]
    assert main([*args, "tracking.enabled=false"]) == 2
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert "non-finite training loss at global step 3" in line
    assert f"saved the last good state (step 3) to {last}" in line
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
    saved = [ckpt["state_dict"][k] for k, _ in LitSamuel(ckpt["hyper_parameters"]["config"])
             .model.named_parameters(prefix="model")]  # fmt: skip
    # The saved weights are exactly those the bad step started from.
    assert all(torch.equal(a, b) for a, b in zip(saved, record["weights"][3]))


def test_nan_batch_is_skipped_and_counted(
    debug_overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record: dict = {}
    _poison_at(monkeypatch, 1, record)
    assert main(["fit", "--config", str(DEBUG_YAML), *debug_overrides, *QUICK,
                 "trainer.nonfinite=skip"]) == 0  # fmt: skip
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["global_step"] == 4 and summary["nonfinite_skipped"] == 1
    w = record["weights"]
    assert not all(torch.equal(a, b) for a, b in zip(w[0], w[1]))  # a good step moves weights
    assert all(torch.equal(a, b) for a, b in zip(w[1], w[2]))  # the skipped one did not
    assert not all(torch.equal(a, b) for a, b in zip(w[2], w[3]))  # training went on
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    counted = client.get_metric_history(summary["mlflow_run_id"], "train/nonfinite_skipped")
    assert [m.value for m in counted] == [1.0]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["nonfinite_skipped"] == 1  # survives resume


def test_unknown_nonfinite_mode_is_a_config_error(debug_overrides: list[str], capsys) -> None:
    args = ["fit", "--config", str(DEBUG_YAML), *debug_overrides, "trainer.nonfinite=ignore"]
    assert main(args) == 2
    assert "trainer.nonfinite='ignore'; allowed: stop | skip" in capsys.readouterr().err
