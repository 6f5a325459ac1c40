"""MLflow faults: an unreachable server at start is a clear error (or, with
tracking.fallback=local, a warning and a local store); a server that dies mid-run does not stop
training, the failure is reported at the end and the metrics are kept on disk."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from samuel_pl.cli.main import main
from tests.conftest import DEBUG_YAML
from tests.mlflow_server import free_port

QUICK = ["callbacks.num_sample_songs=0", "tracking.log_checkpoints=false"]


def _no_tracking_uri(overrides: list[str]) -> list[str]:
    return [o for o in overrides if not o.startswith("tracking.uri=")]


def test_unreachable_server_fails_fast_before_any_work(
    debug_overrides: list[str], tmp_path: Path, capsys
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.perf_counter()
    args = ["fit", "--config", str(DEBUG_YAML), *_no_tracking_uri(debug_overrides), *QUICK]
    assert main([*args, f"tracking.uri={uri}"]) == 2
    assert time.perf_counter() - t0 < 60  # not MLflow's minutes of retries
    line = next(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:"))
    assert f"tracking.uri={uri}: MLflow unreachable" in line
    assert "tracking.fallback=local" in line
    assert not (tmp_path / "run").exists()  # nothing was trained or written


def test_unreachable_server_with_local_fallback_warns_and_logs_locally(
    debug_overrides: list[str], tmp_path: Path, capsys
) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"http://127.0.0.1:{free_port()}"
    args = ["fit", "--config", str(DEBUG_YAML), *_no_tracking_uri(debug_overrides), *QUICK]
    assert main([*args, f"tracking.uri={uri}", "tracking.fallback=local"]) == 0
    local = f"sqlite:///{tmp_path / 'run' / 'mlruns.db'}"
    err = capsys.readouterr().err
    assert f"warning: MLflow at {uri} unreachable" in err and local in err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["mlflow_uri"] == local
    run = MlflowClient(local).get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["train/loss"] > 0


def test_server_dying_mid_run_does_not_stop_training(
    debug_overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The store stops answering at step 2 (every client call then fails like a dead server)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    dead = {"now": False}
    down = MlflowException("API request failed: Max retries exceeded (Connection refused)")

    def dying(name: str):
        real = getattr(MlflowClient, name)

        def call(self, *args, **kwargs):
            metrics = kwargs.get("metrics") or []
            if name == "log_batch" and any(m.step >= 2 for m in metrics):
                dead["now"] = True
            if dead["now"]:
                raise down
            return real(self, *args, **kwargs)

        return call

    for name in ("log_batch", "log_artifact", "set_terminated", "log_metric"):
        monkeypatch.setattr(MlflowClient, name, dying(name))
    args = ["fit", "--config", str(DEBUG_YAML), *debug_overrides, *QUICK]
    assert main(args) == 0
    out = capsys.readouterr()
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["global_step"] == 4 and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert summary["tracking_error"].startswith("logging metrics at step 2: ")
    assert out.err.count("warning: MLflow logging failed") == 1
    assert "MLflow logging failed during the run" in out.out  # reported again at the end
    unsent = [json.loads(ln) for ln in (run_dir / "mlflow_unsent.jsonl").read_text().splitlines()]
    assert {r["step"] for r in unsent if "train/loss" in r} == {2, 3}
    monkeypatch.undo()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    logged = client.get_metric_history(summary["mlflow_run_id"], "train/loss")
    assert sorted(m.step for m in logged) == [0, 1]  # what the server got before it died
