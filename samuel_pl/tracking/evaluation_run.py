"""The MLflow run of an evaluation: metrics with their bootstrap intervals, the suite's settings,
the git commit, and a link to the training run of the checkpoint that was evaluated."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from samuel_pl.tracking.experiments import client_for, ensure_experiment
from samuel_pl.tracking.mlflow_logger import (
    git_commit,
    normalise_uri,
    read_run_record,
    run_url,
)
from samuel_pl.tracking.run_io import finish_run, log_metrics, set_tags, start_run, upload_file

# MLflow metric names allow letters, digits, "_", "-", ".", " " and "/"; "/" separates the
# generator from the metric, so generator names lose their dots ("cfg1.5" -> "cfg1_5").
_UNSAFE = re.compile(r"[^A-Za-z0-9_\- ]")


def metric_key(generator: str, metric: str) -> str:
    """``<generator>/<metric>`` with the generator name made safe (no dots, no slashes)."""
    return f"{_UNSAFE.sub('_', generator)}/{metric}"


def training_run(ckpt: str | Path | None) -> dict[str, str] | None:
    """The MLflow record (run_id, uri, experiment) of the run whose folder holds ``ckpt``
    (``<run>/checkpoints/<file>.ckpt`` beside ``<run>/mlflow_run.json``), if any."""
    if not ckpt:
        return None
    return read_run_record(Path(ckpt).resolve().parent.parent)


def evaluation_metrics(result: dict[str, Any]) -> dict[str, float]:
    """Finite metrics of a result as MLflow keys, plus ``<key>_ci_low``/``_ci_high`` for every
    metric with a bootstrap interval (low < high)."""
    out: dict[str, float] = {}
    for name, value in result["metrics"].items():
        generator, metric = name.split("/", 1)
        key = metric_key(generator, metric)
        if math.isfinite(value):
            out[key] = float(value)
        low, high = result.get("ci95", {}).get(name, (value, value))
        if math.isfinite(low) and math.isfinite(high) and low < high:
            out[f"{key}_ci_low"], out[f"{key}_ci_high"] = float(low), float(high)
    return out


def log_evaluation(
    uri: str, experiment: str, suite_name: str, out: Path, result: dict[str, Any]
) -> tuple[str, str, str]:
    """Log an evaluation to MLflow; return (run id, UI URL, command that serves the UI or '').

    Tags: ``git_commit`` (and ``mlflow.source.git.commit``), ``checkpoint``, and, when the
    checkpoint's run folder records its training run, ``training_run_id`` /
    ``training_experiment`` plus ``mlflow.parentRunId`` when that run is in the same store (the
    training run gets an ``evaluation.<suite>`` tag back).
    """
    uri = normalise_uri(uri)
    client = client_for(uri)
    exp_id = ensure_experiment(client, uri, experiment)
    commit = git_commit()
    tags = {"git_commit": commit, "suite": suite_name, "checkpoint": str(result["checkpoint"])}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit.removesuffix("-dirty")
    parent = training_run(result.get("checkpoint"))
    if parent is not None:
        tags["training_run_id"] = parent["run_id"]
        tags["training_experiment"] = parent["experiment"]
        tags["training_tracking_uri"] = parent["uri"]
        if normalise_uri(parent["uri"]) == uri:
            tags["mlflow.parentRunId"] = parent["run_id"]
    params = {key: result[key] for key in ("split", "songs", "clip_seconds")}
    params["checkpoint"] = str(result["checkpoint"])
    rid = start_run(client, exp_id, f"eval-{suite_name}", tags, params)
    log_metrics(client, rid, evaluation_metrics(result))
    upload_file(client, rid, out / "metrics.json")
    upload_file(client, rid, out / "table.md")
    finish_run(client, rid)
    if "mlflow.parentRunId" in tags:
        set_tags(client, tags["mlflow.parentRunId"], {f"evaluation.{suite_name}": rid})
    url, command = run_url(uri, exp_id, rid)
    return rid, url, command
