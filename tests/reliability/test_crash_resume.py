"""kill -9 of a training process in the middle of an epoch, while it is writing a checkpoint;
then resume=auto continues the global step in the same MLflow run, and every file on disk loads.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from samuel_pl.cli.main import main
from samuel_pl.training.checkpoint_io import SAVE_DELAY_ENV
from tests.conftest import DEBUG_YAML, REPO

STEPS, STEPS_PER_EPOCH = 6, 8  # crops_per_epoch 32 / batch_size 4: no epoch ends


def load_any(path: Path) -> None:
    """Open ``path`` with the reader of its type; raise if it is not complete and valid."""
    kind = path.suffix
    if kind == ".ckpt":
        torch.load(path, map_location="cpu", weights_only=True)
    elif kind == ".json":
        json.loads(path.read_text())
    elif kind == ".jsonl":
        [json.loads(line) for line in path.read_text().splitlines()]
    elif kind == ".yaml":
        yaml.safe_load(path.read_text())
    elif kind == ".npy":
        np.load(path, allow_pickle=False)
    elif kind in (".wav", ".flac"):
        sf.read(str(path))
    elif kind == ".png":
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 100
    elif kind == ".db":
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    else:
        raise AssertionError(f"{path}: no reader for this kind of file")


def _wait_for(cond, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"training ended before the kill:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_mid_epoch_mid_save_then_resume_auto(
    debug_overrides: list[str], tmp_path: Path, capsys
) -> None:
    from mlflow.tracking import MlflowClient

    args = ["--config", str(DEBUG_YAML), *debug_overrides, "data.crops_per_epoch=32"]
    args += [f"trainer.max_steps={STEPS}", "callbacks.checkpoint_every_n_steps=2"]
    args += ["callbacks.num_sample_songs=0", "tracking.log_checkpoints=false"]
    ckpts = tmp_path / "run" / "checkpoints"
    last = ckpts / "last.ckpt"
    log = tmp_path / "killed-fit.log"
    env = {**os.environ, SAVE_DELAY_ENV: "3", "PYTHONPATH": str(REPO)}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "samuel_pl.fit", *args],
            cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
        # The step-2 checkpoint is complete and the next save is half done: kill -9 now.
        _wait_for(lambda: last.is_file() and any(ckpts.glob(".*.tmp")), proc, log)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    log.unlink()
    assert proc.returncode == -signal.SIGKILL
    temps = list(ckpts.glob(".*.tmp"))
    assert temps, "the interrupted save left no temporary file: the kill missed the save"
    killed = torch.load(last, map_location="cpu", weights_only=True)
    done = killed["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["completed"]
    assert killed["global_step"] == 2 and 0 < done < STEPS_PER_EPOCH  # mid-epoch
    run_id = json.loads((tmp_path / "run" / "mlflow_run.json").read_text())["run_id"]
    db = f"sqlite:///{tmp_path / 'mlruns.db'}"
    assert MlflowClient(db).get_run(run_id).info.status == "RUNNING"  # it never finished

    assert main(["fit", *args, "resume=auto"]) == 0
    assert f"removed {temps[0].name}" in capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["global_step"] == STEPS and summary["steps_this_session"] == STEPS - 2
    assert summary["mlflow_run_id"] == run_id
    client = MlflowClient(db)
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = {m.step for m in client.get_metric_history(run_id, "train/loss")}
    assert steps == set(range(STEPS)), steps  # before the kill and after it, one run
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]
    for path in files:
        load_any(path)
