"""One summary builder for both training jobs: the shared keys, then each job's own."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from samuel_pl.training.run_summary import MetricHistory, build_summary


def _trainer() -> SimpleNamespace:
    module = SimpleNamespace(nonfinite_skipped=3)
    return SimpleNamespace(
        global_step=12, current_epoch=2, world_size=2, lightning_module=module, interrupted=True
    )


def _history() -> MetricHistory:
    history = MetricHistory()
    history.train = [(1, 0.9), (6, 0.5), (12, 0.25)]
    history.val = [(6, 0.7), (12, 0.4)]
    return history


def test_shared_keys_then_the_jobs_own(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    logger = SimpleNamespace(run_id="abc123", uri="sqlite:////tmp/m.db")
    wav = tmp_path / "song_generated.wav"
    summary = build_summary(
        _trainer(),  # type: ignore[arg-type]
        logger,
        tmp_path,
        _history(),
        [wav],
        time.time() - 10.0,
        samples_seen=200,
        task="vae",
        batches=7,
    )
    assert summary["run_dir"] == str(tmp_path)
    assert (summary["global_step"], summary["epochs"], summary["world_size"]) == (12, 2, 2)
    assert summary["interrupted"] is True
    assert (summary["first_train_loss"], summary["last_train_loss"]) == (0.9, 0.25)
    assert (summary["first_val_loss"], summary["last_val_loss"]) == (0.7, 0.4)
    assert summary["val_loss_history"] == [(6, 0.7), (12, 0.4)]
    assert summary["nonfinite_skipped"] == 3
    assert summary["checkpoint"] == str(tmp_path / "checkpoints" / "last.ckpt")
    assert summary["samples"] == [str(wav)]
    assert 10.0 <= summary["wall_time_s"] < 11.0
    assert 18.0 < summary["train_samples_per_s"] <= 20.0  # 200 samples in just over 10 s
    assert (summary["mlflow_run_id"], summary["mlflow_uri"]) == ("abc123", "sqlite:////tmp/m.db")
    assert (summary["task"], summary["batches"]) == ("vae", 7)
    assert list(summary)[-2:] == ["task", "batches"]


def test_no_checkpoint_no_logger_no_history(tmp_path: Path) -> None:
    summary = build_summary(
        _trainer(),  # type: ignore[arg-type]
        False,
        tmp_path,
        MetricHistory(),
        [],
        time.time(),
        samples_seen=0,
    )
    assert summary["checkpoint"] is None
    assert summary["mlflow_run_id"] is None and summary["mlflow_uri"] is None
    assert summary["first_train_loss"] is None and summary["last_val_loss"] is None
    assert summary["train_samples_per_s"] == 0.0
