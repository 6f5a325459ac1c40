"""One sweep trial, in the calling process: fit, evaluate, and log everything to one MLflow run.

The trial's run is the fit's own MLflow run (loss curves, config params, artifacts), made a
child of the sweep's parent run and given the evaluation metrics (``eval/<metric>`` for the
suite's SAMUeL row, ``ref/<generator>/<metric>`` for the others), example audio, and the
local/global mixing weights over diffusion time. A trial that raises is recorded as a FAILED
child run with its error and traceback; it never raises itself.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.files import write_json
from samuel_pl.sweeps.spec import SweepConfig, Trial, experiment_name, trial_config
from samuel_pl.tracking import client_for, ensure_experiment, read_run_id
from samuel_pl.tracking.run_io import finish_run, log_metrics, set_tags, start_run, upload_file
from samuel_pl.tracking.runs import ERROR, KEY, KIND, PARENT, STATE, SWEEP


@dataclass
class Outcome:
    """What the runner learns about a finished trial."""

    key: str
    slug: str
    status: str  # done | failed
    run_id: str = ""
    seconds: float = 0.0
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def _samuel_row(suite: Any, result: dict[str, Any]) -> str:
    names = result.get("generators") or []
    for gen_cfg, name in zip(suite.generators, names):
        if gen_cfg.type == "samuel":
            return str(name)
    raise ValueError("the suite has no samuel generator")


def eval_metrics(suite: Any, result: dict[str, Any]) -> dict[str, float]:
    """Flatten an evaluation result: SAMUeL's row as ``eval/<m>`` (+ ``.low``/``.high`` CI
    bounds where they differ), other generators as ``ref/<generator>/<m>``."""
    own = _samuel_row(suite, result)
    out: dict[str, float] = {}
    for key, value in result["metrics"].items():
        gen, metric = key.split("/", 1)
        if value is None or not np.isfinite(value):
            continue
        name = f"eval/{metric}" if gen == own else f"ref/{gen}/{metric}"
        out[name] = float(value)
        lo, hi = result["ci95"].get(key, [value, value])
        if gen == own and lo != hi and np.isfinite(lo) and np.isfinite(hi):
            out[f"{name}.low"], out[f"{name}.high"] = float(lo), float(hi)
    out["eval/wall_time_s"] = float(result.get("wall_time_s", 0.0))
    return out


def _examples(suite: Any, result: dict[str, Any], eval_dir: Path, dest: Path) -> list[Path]:
    """Vocals, generated and target audio of the suite's first song (for the report)."""
    from samuel_pl.audio import write_audio
    from samuel_pl.data.clips import load_clips

    vocals, refs = load_clips(suite)
    song = next(iter(vocals))
    own = _samuel_row(suite, result)
    generated = sorted((eval_dir / "generated").glob(f"{own}-*/{song}.wav"))
    if not generated:
        return []
    from samuel_pl.audio import read_audio

    gen, _ = read_audio(generated[0], sample_rate=suite.sample_rate, channels=1)
    files = []
    for role, audio in (("vocals", vocals[song]), ("generated", gen), ("target", refs[song])):
        path = dest / f"{song}_{role}.wav"
        write_audio(path, audio, suite.sample_rate, normalize=0.95)
        files.append(path)
    return files


def _run_file_stamp(run_dir: Path) -> int | None:
    p = run_dir / "mlflow_run.json"
    return p.stat().st_mtime_ns if p.is_file() else None


def _record_failure(
    spec: SweepConfig,
    trial: Trial,
    parent_id: str,
    run_dir: Path,
    exc: BaseException,
    stamp: int | None,
) -> str:
    """Mark the trial's run FAILED with the error and traceback: the run this attempt's fit
    created (``mlflow_run.json`` written since ``stamp``), else a new run."""
    client = client_for(spec.tracking.uri)
    fresh = _run_file_stamp(run_dir) not in (None, stamp)
    run_id = read_run_id(run_dir) if fresh else None
    if run_id is None:
        exp_id = ensure_experiment(client, spec.tracking.uri, experiment_name(spec))
        params = {
            k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in trial.params.items()
        }
        run_id = start_run(client, exp_id, f"{spec.name}-{trial.slug}", params=params)
    error = f"{type(exc).__name__}: {str(exc).strip()}"[:4000]
    _tag(client, run_id, spec, trial, parent_id, "failed")
    set_tags(client, run_id, {ERROR: error})
    tb = "".join(traceback.format_exception(exc))
    path = write_json(run_dir / "error.json", {"error": error, "traceback": tb})
    upload_file(client, run_id, path)
    finish_run(client, run_id, "FAILED")
    return str(run_id)


def _tag(client: Any, run_id: str, spec: SweepConfig, t: Trial, parent: str, state: str) -> None:
    tags = {PARENT: parent, KIND: "trial", SWEEP: spec.name, KEY: t.key, STATE: state}
    tags.update({f"sweep.param.{k}": json.dumps(v) for k, v in t.params.items()})
    set_tags(client, run_id, tags)


# Set by the sweep's SIGTERM handler (sweeps.runner.stop_on_sigterm): stop after this trial.
STOP = threading.Event()


def run_trial(spec: SweepConfig, trial: Trial, parent_id: str, out: Path) -> Outcome:
    """Fit + evaluate one trial and log it as a child of ``parent_id``; failures are recorded."""
    t0 = time.time()
    run_dir = out / trial.slug
    stamp = _run_file_stamp(run_dir)
    sigint = signal.getsignal(signal.SIGINT)
    try:
        outcome = _run(spec, trial, parent_id, out, t0)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a failing trial must not stop the sweep
        # Lightning turns Ctrl-C inside fit into sys.exit(1) and SIGTERM into its own
        # exception: an interrupted trial stops the sweep instead of counting as failed.
        if STOP.is_set() or isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt(f"{trial.slug}: interrupted") from exc
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        try:
            run_id = _record_failure(spec, trial, parent_id, run_dir, exc, stamp)
        except Exception as log_exc:  # noqa: BLE001
            run_id, error = "", f"{error} (and recording it failed: {log_exc})"
        return Outcome(trial.key, trial.slug, "failed", run_id, time.time() - t0, error)
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)  # Lightning ignores Ctrl-C after catching one
    if STOP.is_set():
        raise KeyboardInterrupt(f"{trial.slug}: interrupted")
    return outcome


def _run(spec: SweepConfig, trial: Trial, parent_id: str, out: Path, t0: float) -> Outcome:
    from samuel_pl.config import load_config
    from samuel_pl.config.suite import SuiteConfig
    from samuel_pl.generation import attention_mixing_weights
    from samuel_pl.training import fit

    cfg = trial_config(spec, trial, out)
    run_dir = Path(cfg.run.dir)
    summary = fit(cfg)
    run_id = summary.get("mlflow_run_id")
    if not run_id or not summary.get("checkpoint"):
        raise RuntimeError("fit produced no MLflow run or no checkpoint")
    client = client_for(spec.tracking.uri)
    _tag(client, run_id, spec, trial, parent_id, "running")
    metrics: dict[str, float] = {
        "fit/global_step": float(summary["global_step"]),
        "fit/wall_time_s": float(summary["wall_time_s"]),
        "fit/train_samples_per_s": float(summary["train_samples_per_s"]),
    }
    for name in ("last_val_loss", "last_train_loss"):
        if summary.get(name) is not None:
            metrics[f"fit/{name}"] = float(summary[name])
    weights = write_json(
        run_dir / "mixing" / "weights.json",
        attention_mixing_weights.from_checkpoint(summary["checkpoint"]),
    )
    upload_file(client, run_id, weights, "mixing")
    if spec.suite:
        suite = load_config(Path(spec.suite), list(spec.suite_overrides), SuiteConfig)
        from samuel_pl.evaluation import evaluate

        eval_dir = run_dir / "eval"
        result = evaluate(suite, summary["checkpoint"], eval_dir, progress=False)
        metrics.update(eval_metrics(suite, result))
        upload_file(client, run_id, eval_dir / "metrics.json", "eval")
        upload_file(client, run_id, eval_dir / "table.md", "eval")
        for path in _examples(suite, result, eval_dir, run_dir / "examples"):
            upload_file(client, run_id, path, "examples")
    metrics["trial/wall_time_s"] = time.time() - t0
    log_metrics(client, run_id, metrics, int(summary["global_step"]))
    set_tags(client, run_id, {STATE: "done"})
    finish_run(client, run_id)
    return Outcome(trial.key, trial.slug, "done", run_id, time.time() - t0, "", metrics)
