"""MLflow: tracking URI handling, Lightning's MLFlowLogger, tags and artifacts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from samuel_pl.errors import SamuelError

RUN_FILE = "mlflow_run.json"


def normalise_uri(uri: str) -> str:
    """Make a relative ``sqlite:///x.db`` absolute (so runs started elsewhere find the same DB)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    if uri.startswith(("file:", "./", "/")) or "://" not in uri:
        raise SamuelError(
            f"tracking.uri={uri!r}: MLflow's file store is deprecated; use sqlite:///mlruns.db "
            "or http://host:port"
        )
    return uri


def git_commit(cwd: str | Path | None = None) -> str:
    """The checkout's commit hash (with ``-dirty`` when there are local edits), else ``unknown``."""
    where = Path(cwd or Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if dirty else "")) if sha else "unknown"


def write_run_id(run_dir: Path, run_id: str, uri: str, experiment: str) -> None:
    """Remember the MLflow run of ``run_dir`` (for ``resume=auto``), atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "uri": uri, "experiment": experiment}))
    os.replace(tmp, run_dir / RUN_FILE)


def read_run_id(run_dir: Path) -> str | None:
    """The MLflow run id remembered in ``run_dir``, if any."""
    p = run_dir / RUN_FILE
    if not p.is_file():
        return None
    try:
        return str(json.loads(p.read_text())["run_id"])
    except (ValueError, KeyError):
        return None


def artifact_location(uri: str, experiment: str) -> str | None:
    """For a sqlite store, artifacts go next to the database (``mlartifacts/<experiment>``)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    db = Path(uri[len(prefix) :])
    return str((db.parent / "mlartifacts" / experiment).resolve())


def flatten_params(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config dict -> ``{"model.window": "16", ...}`` (MLflow params)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_params(v, key + "."))
        else:
            out[key] = str(v)[:500]
    return out


def make_logger(
    uri: str,
    experiment: str,
    run_name: str,
    run_id: str | None = None,
    tags: dict[str, Any] | None = None,
) -> Any:
    """An MLflow logger on ``uri`` (continuing ``run_id`` when given); params as dotted keys."""
    from lightning.pytorch.loggers import MLFlowLogger
    from lightning.pytorch.utilities import rank_zero_only

    class _Logger(MLFlowLogger):
        """Logs the resolved config as dotted params; on resume, only new/changed keys (as tags)."""

        @rank_zero_only
        def log_hyperparams(self, params: Any) -> None:
            from mlflow.entities import Param, RunTag

            raw = dict(params) if not isinstance(params, dict) else params
            flat = flatten_params(raw.get("config", raw))
            existing = self.experiment.get_run(self.run_id).data.params
            new = [Param(k, v) for k, v in flat.items() if k not in existing]
            changed = [
                RunTag(f"resumed_with.{k}", v)
                for k, v in flat.items()
                if k in existing and existing[k] != v
            ]
            for i in range(0, len(new), 100):
                self.experiment.log_batch(self.run_id, params=new[i : i + 100])
            if changed:
                self.experiment.log_batch(self.run_id, tags=changed)

    full_uri = normalise_uri(uri)
    return _Logger(
        experiment_name=experiment,
        run_name=run_name,
        tracking_uri=full_uri,
        tags=tags,
        run_id=run_id,
        log_model=False,
        artifact_location=artifact_location(full_uri, experiment),
    )


def log_artifact(logger: Any, path: str | Path, artifact_path: str | None = None) -> None:
    """Upload one file to the logger's MLflow run (no-op without an MLflow logger)."""
    if logger is None or not hasattr(logger, "experiment") or not hasattr(logger, "run_id"):
        return
    logger.experiment.log_artifact(logger.run_id, str(path), artifact_path)
