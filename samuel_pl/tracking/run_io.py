"""What goes into and comes out of one MLflow run: start, reopen and finish it; tags, params,
metrics and files in; metric histories, artifact listings and downloads out.

``client`` is the handle from :func:`samuel_pl.tracking.client_for`; callers outside tracking/
pass it along and never call its methods.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _quiet() -> None:
    """No MLflow progress bars on artifact transfers (reports and sweep logs stay readable)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def start_run(
    client: Any,
    exp_id: str,
    name: str,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> str:
    """A new RUNNING run ``name`` in experiment ``exp_id`` with ``tags`` and ``params``; its id."""
    run = client.create_run(exp_id, run_name=name, tags=tags)
    run_id = str(run.info.run_id)
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    return run_id


def reopen_run(client: Any, run_id: str) -> None:
    """Mark a finished or failed run RUNNING again (a resumed sweep's parent)."""
    client.update_run(run_id, status="RUNNING")


def finish_run(client: Any, run_id: str, status: str = "FINISHED") -> None:
    """End the run with ``status`` (FINISHED, FAILED or KILLED)."""
    client.set_terminated(run_id, status)


def set_tags(client: Any, run_id: str, tags: dict[str, str]) -> None:
    """Set each of ``tags`` on the run (overwriting earlier values)."""
    for key, value in tags.items():
        client.set_tag(run_id, key, value)


NONFINITE_TAG = "nonfinite."
"""Tag prefix: ``nonfinite.<metric>`` says why a metric was not logged (MLflow gets only finite
numbers: its REST API and strict JSON readers reject NaN and Infinity)."""


def finite_metrics(
    metrics: Mapping[str, float], step: int | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """(the finite ``metrics``, ``{nonfinite.<key>: reason}`` tags for the others)."""
    finite: dict[str, float] = {}
    tags: dict[str, str] = {}
    for key, value in metrics.items():
        v = float(value)
        if math.isfinite(v):
            finite[key] = v
        else:
            at = "" if step is None else f" at step {step}"
            tags[NONFINITE_TAG + key] = f"{v}{at}: not logged (not a finite number)"
    return finite, tags


def log_metrics(client: Any, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    """Log ``metrics`` to ``run_id`` at ``step`` in batches (MLflow accepts 1000 per call); a NaN
    or infinite value is not logged but named in a ``nonfinite.<key>`` tag."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    finite, tags = finite_metrics(metrics, step)
    batch = [Metric(k, v, now, step) for k, v in finite.items()]
    for i in range(0, len(batch), 500):
        client.log_batch(run_id, metrics=batch[i : i + 500])
    set_tags(client, run_id, tags)


def upload_file(client: Any, run_id: str, path: str | Path, folder: str | None = None) -> None:
    """Store the file ``path`` as an artifact of the run (under ``folder`` if given)."""
    _quiet()
    client.log_artifact(run_id, str(path), folder)


def upload_folder(client: Any, run_id: str, path: str | Path, folder: str) -> None:
    """Store every file under the directory ``path`` as artifacts under ``folder``."""
    _quiet()
    client.log_artifacts(run_id, str(path), folder)


def download_artifact(client: Any, run_id: str, path: str, dst: Path) -> Path | None:
    """The run's artifact ``path`` (a file or a folder) copied under ``dst``; None when the
    run has no such artifact (or the store cannot deliver it)."""
    _quiet()
    try:
        return Path(client.download_artifacts(run_id, path, str(dst)))
    except Exception:  # noqa: BLE001 - a run without that artifact
        return None


def artifact_folders(client: Any, run_id: str, path: str) -> list[str]:
    """Paths (relative to the run's artifact root) of the folders directly under ``path``."""
    return [a.path for a in client.list_artifacts(run_id, path) if a.is_dir]


def metric_history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    """Every logged ``(step, value)`` of metric ``key`` of the run, in logging order."""
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
