"""The debug sweep end to end: MLflow parent/child runs, a failing trial recorded while the others
complete, and a re-run that skips the completed trials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.sweep.conftest import (
    FAILING,
    SweepRun,
    failing_schedule_accepted,
    run_cli,
    write_sweep,
)


def _runs(run: SweepRun) -> tuple[MlflowClient, list, list]:
    client = MlflowClient(run.uri)
    exp = client.get_experiment_by_name(run.experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("samuel.kind") == "sweep"]
    children = [r for r in runs if r not in parents]
    return client, parents, children


def test_parent_and_child_runs(debug_sweep: SweepRun) -> None:
    assert debug_sweep.code == 1, debug_sweep.stdout  # a trial failed; the sweep went on
    client, parents, children = _runs(debug_sweep)
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert len(children) == 3
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    done = [c for c in children if c.data.tags.get("sweep.state") == "done"]
    assert sorted(c.data.params["model.mix_schedule"] for c in done) == ["learned", "reference"]
    for c in done:
        assert c.info.status == "FINISHED"
        assert c.data.metrics["eval/fd_mel"] > 0
        assert c.data.metrics["fit/global_step"] == 4
        assert client.get_metric_history(c.info.run_id, "train/loss")  # the fit's own curves
        files = {a.path for a in client.list_artifacts(c.info.run_id, "examples")}
        assert any(f.endswith("_generated.wav") for f in files), files
        local = Path(client.download_artifacts(c.info.run_id, "mixing/weights.json"))
        weights = json.loads(local.read_text())
        assert weights["schedule"] == c.data.params["model.mix_schedule"]
    assert parent.data.metrics["sweep/trials_done"] == 2
    assert parent.data.metrics["best/eval/fd_mel"] == min(
        c.data.metrics["eval/fd_mel"] for c in done
    )
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"ranked.md", "sweep.yaml"} <= names


def test_failing_trial_is_recorded_and_the_next_one_runs(debug_sweep: SweepRun) -> None:
    client, _, children = _runs(debug_sweep)
    failed = [c for c in children if c.data.tags.get("sweep.state") == "failed"]
    assert len(failed) == 1
    bad = failed[0]
    assert bad.info.status == "FAILED"
    assert FAILING in bad.data.tags["sweep.error"]
    assert json.loads(bad.data.tags["sweep.param.model.mix_schedule"]) == FAILING
    assert "error.json" in {a.path for a in client.list_artifacts(bad.info.run_id)}
    # the trial listed after the failing one still completed
    learned = [c for c in children if c.data.params.get("model.mix_schedule") == "learned"]
    assert learned and learned[0].data.tags["sweep.state"] == "done"
    assert bad.info.start_time < learned[0].info.start_time
    assert f"[failed] mix_schedule-{FAILING}" in debug_sweep.stdout
    assert "Failed:" in debug_sweep.stdout and FAILING in debug_sweep.stdout.split("Failed:")[1]


def test_ranked_table_is_printed_best_first(debug_sweep: SweepRun) -> None:
    _, _, children = _runs(debug_sweep)
    done = sorted(
        (c for c in children if c.data.tags.get("sweep.state") == "done"),
        key=lambda c: c.data.metrics["eval/fd_mel"],
    )
    table = debug_sweep.stdout.split("== sweep ranked by eval/fd_mel ==")[1].split("Failed:")[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert [r.split("|")[2].strip() for r in rows] == [c.info.run_id[:8] for c in done]


def test_rerun_skips_completed_trials(
    debug_sweep: SweepRun, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _, before = _runs(debug_sweep)
    done_before = {c.info.run_id for c in before if c.data.tags.get("sweep.state") == "done"}
    ckpts = sorted(debug_sweep.out.glob("*/checkpoints/last.ckpt"))
    assert len(ckpts) == 2
    stamps = [p.stat().st_mtime_ns for p in ckpts]
    with failing_schedule_accepted():
        args = ["sweep", "--threads", "1", "--no-progress", str(debug_sweep.path)]
        code, out = run_cli(args, capsys)
    assert code == 1  # the injected failure fails again
    assert "3 trials, 2 done before (skipped)" in out
    assert "[done]" not in out
    _, parents, after = _runs(debug_sweep)
    assert len(parents) == 1  # the same parent run was resumed
    done_after = {c.info.run_id for c in after if c.data.tags.get("sweep.state") == "done"}
    assert done_after == done_before
    assert [p.stat().st_mtime_ns for p in ckpts] == stamps  # nothing was trained again
    retried = [c for c in after if c.data.tags.get("sweep.state") == "failed"]
    assert len(retried) == 2  # the failed trial is retried, and recorded again


@pytest.mark.slow
def test_workers_run_trials_in_separate_processes(
    demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.sweep.conftest import failing_schedule_accepted, write_sweep

    extra = ("trainer.max_steps=2",)
    path = write_sweep(tmp_path, demo_root, ["linear", FAILING], name="parallel", extra=extra)
    args = ["sweep", "--workers", "2", "--threads", "1", "--no-progress", str(path)]
    with failing_schedule_accepted():  # the worker fails it at load or at build: either way
        code, out = run_cli(args, capsys)
    assert code == 1, out
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    exp = client.get_experiment_by_name("sweep-parallel")
    runs = client.search_runs([exp.experiment_id])
    states = {
        r.data.tags.get("sweep.param.model.mix_schedule"): r.data.tags.get("sweep.state")
        for r in runs
        if r.data.tags.get("samuel.kind") == "trial"
    }
    assert states == {'"linear"': "done", f'"{FAILING}"': "failed"}
    assert "2 worker(s) x 1 thread(s)" in out
    assert (tmp_path / "cache").is_dir()  # the workers used the test's data and cache
    assert len(list((tmp_path / "runs").glob("*linear*/checkpoints/last.ckpt"))) == 1


def test_failure_after_the_fit_run_exists_marks_that_run(
    demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trial failing after fit created its MLflow run: that run is marked FAILED (no second
    run), so the loss curves or params it has stay next to the error."""
    import yaml

    from tests.sweep.conftest import write_sweep

    path = write_sweep(tmp_path, demo_root, ["reference"], name="late")
    spec = yaml.safe_load(path.read_text())
    spec["params"]["trainer.strategy"] = ["not-a-strategy"]  # Lightning refuses it
    path.write_text(yaml.safe_dump(spec))
    code, out = run_cli(["sweep", "--threads", "1", "--no-progress", str(path)], capsys)
    assert code == 1, out
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    exp = client.get_experiment_by_name("sweep-late")
    trials = [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("samuel.kind") != "sweep"
    ]
    assert len(trials) == 1
    run = trials[0]
    assert run.info.status == "FAILED" and run.data.tags["sweep.state"] == "failed"
    assert "not-a-strategy" in run.data.tags["sweep.error"]
    assert run.data.tags["run_dir"].endswith(run.info.run_name)  # fit's own run, tagged by fit


def test_sigterm_stops_the_whole_sweep(
    demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM during the first trial (a scheduler's preemption) ends the sweep; it does not fail
    that trial and go on to the next one (Lightning catches SIGTERM inside a fit)."""
    import os
    import signal
    import threading

    long_fit = ("trainer.max_steps=100000", "trainer.max_time_s=60")
    path = write_sweep(tmp_path, demo_root, ["reference", "learned"], "sigterm", long_fit)
    stop = threading.Event()

    def preempt() -> None:  # SIGTERM 5 s after the first trial's folder appears
        while not stop.wait(0.2):
            if any(p.is_dir() for p in (tmp_path / "runs").glob("*")):
                if not stop.wait(5.0):
                    os.kill(os.getpid(), signal.SIGTERM)
                return

    watcher = threading.Thread(target=preempt, daemon=True)
    watcher.start()
    try:
        code, _ = run_cli(["sweep", "--threads", "1", "--no-progress", str(path)], capsys)
    finally:
        stop.set()
        watcher.join()
    assert code == 130  # interrupted, as after Ctrl-C
    run = SweepRun(path, f"sqlite:///{tmp_path / 'mlruns.db'}", "sweep-sigterm", tmp_path, 0, "")
    _, parents, children = _runs(run)
    assert [p.info.status for p in parents] == ["KILLED"]
    assert len(children) <= 1, [c.data.params for c in children]  # the second trial never began
