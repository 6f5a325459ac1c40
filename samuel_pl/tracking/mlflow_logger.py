"""MLflow: tracking URI handling, Lightning's MLFlowLogger, tags and artifacts.

Faults: :func:`resolve_tracking_uri` checks the store before a run starts (an unreachable server
is a clear error, or with ``tracking.fallback=local`` a warning and a local sqlite store). The
logger never lets a tracking failure stop training: after the first failed call it keeps the
metrics in memory, writes them to ``mlflow_unsent.jsonl`` in the run folder at the end, and
reports the failure (``tracking_error``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samuel_pl.errors import SamuelError
from samuel_pl.files import ensure_writable_dir, write_json, write_text
from samuel_pl.tracking.run_io import finite_metrics

FALLBACKS = ("none", "local")
UNSENT_FILE = "mlflow_unsent.jsonl"
# A dead server should cost seconds, not MLflow's default of minutes of retries per call.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}

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


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def tracking_problem(uri: str, timeout: float = 5.0) -> str:
    """'' when the tracking store at ``uri`` can be used now, else the reason it cannot."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
                return ""
        except urllib.error.HTTPError:
            return ""  # the server answered (a proxy or an older server without /health)
        except (OSError, ValueError) as exc:
            return f"unreachable: {_short(exc)}"
    if uri.startswith("sqlite:///"):
        try:
            ensure_writable_dir(Path(uri[len("sqlite:///") :]).parent, "tracking folder")
        except SamuelError as exc:
            return str(exc)
    return ""


def resolve_tracking_uri(uri: str, fallback: str, local_dir: str | Path) -> str:
    """The store to log to: ``uri`` when usable; else ``sqlite:///<local_dir>/mlruns.db`` with a
    warning when ``fallback == "local"``; else a SamuelError saying what to do."""
    if fallback not in FALLBACKS:
        raise SamuelError(f"tracking.fallback={fallback!r}: use one of {', '.join(FALLBACKS)}")
    full = normalise_uri(uri)
    problem = tracking_problem(full)
    if not problem:
        return full
    if fallback == "local":
        local = normalise_uri(f"sqlite:///{Path(local_dir) / 'mlruns.db'}")
        sys.stderr.write(
            f"warning: MLflow at {full} {problem}; logging to the local store {local} instead\n"
        )
        return local
    raise SamuelError(
        f"tracking.uri={full}: MLflow {problem}; start the server or fix tracking.uri, or set "
        "tracking.fallback=local (log to a local sqlite file) or tracking.enabled=false"
    )


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
    data = {"run_id": run_id, "uri": uri, "experiment": experiment}
    write_json(run_dir / RUN_FILE, data, indent=None)


def read_run_id(run_dir: Path, uri: str | None = None) -> str | None:
    """The MLflow run id remembered in ``run_dir``, if any (and if it lives on ``uri``)."""
    p = run_dir / RUN_FILE
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text())
        if uri is not None and data.get("uri") not in (None, uri):
            return None  # that run is in another store (e.g. a local fallback)
        return str(data["run_id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_run_record(run_dir: Path) -> dict[str, str] | None:
    """``{"run_id", "uri", "experiment"}`` of the MLflow run that trained ``run_dir``, if known."""
    try:
        data = json.loads((run_dir / RUN_FILE).read_text())
        return {k: str(data[k]) for k in ("run_id", "uri", "experiment")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


UI_PORT = 5000  # where `mlflow ui` listens by default


def run_url(uri: str, experiment_id: str, run_id: str) -> tuple[str, str]:
    """(URL of the run in the MLflow UI, the command that serves that UI or '').

    A tracking server serves its own UI; a sqlite store needs ``mlflow ui`` on it first.
    """
    path = f"#/experiments/{experiment_id}/runs/{run_id}"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{path}", ""
    command = f"mlflow ui --backend-store-uri {uri} --port {UI_PORT}"
    return f"http://127.0.0.1:{UI_PORT}/{path}", command


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
    spool_dir: str | Path | None = None,
) -> Any:
    """An MLflow logger on ``uri`` (continuing ``run_id`` when given); params as dotted keys.

    Tracking failures never raise: see the module docstring (``spool_dir`` receives
    ``mlflow_unsent.jsonl``).
    """
    from lightning.pytorch.loggers import MLFlowLogger
    from lightning.pytorch.utilities import rank_zero_only

    class _Logger(MLFlowLogger):
        """Logs the resolved config as dotted params; on resume, only new/changed keys (as tags)."""

        uri = ""
        tracking_error = ""
        unsent: list[dict[str, Any]]
        spool: Path | None = None

        def record_failure(self, what: str, exc: BaseException) -> None:
            """Remember the first failure and say once that training goes on without MLflow."""
            if self.tracking_error:
                return
            self.tracking_error = f"{what}: {_short(exc)}"
            where = f"; metrics go to {self.spool / UNSENT_FILE}" if self.spool else ""
            sys.stderr.write(
                f"warning: MLflow logging failed ({self.tracking_error}); training continues "
                f"without it{where}\n"
            )

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
            numbers = {k: v for k, v in metrics.items() if not isinstance(v, str)}
            values, nonfinite = finite_metrics(numbers, step)
            if not self.tracking_error:
                try:
                    super().log_metrics(values, step)
                    for key, why in nonfinite.items():  # MLflow gets finite numbers only
                        self.experiment.set_tag(self.run_id, key, why)
                    return
                except Exception as exc:  # noqa: BLE001 - tracking must not stop training
                    self.record_failure(f"logging metrics at step {step}", exc)
            self.unsent.append({"step": step, **values, **nonfinite})

        @rank_zero_only
        def finalize(self, status: str = "success") -> None:
            if not self.tracking_error:
                try:
                    super().finalize(status)
                except Exception as exc:  # noqa: BLE001
                    self.record_failure("closing the run", exc)
            if self.unsent and self.spool is not None:
                lines = "".join(json.dumps(m) + "\n" for m in self.unsent)
                try:
                    write_text(self.spool / UNSENT_FILE, lines)
                except SamuelError as exc:
                    sys.stderr.write(f"warning: {exc}\n")

        @rank_zero_only
        def log_hyperparams(self, params: Any) -> None:
            try:
                self._log_params(params)
            except Exception as exc:  # noqa: BLE001
                self.record_failure("logging parameters", exc)

        def _log_params(self, params: Any) -> None:
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
    if full_uri.startswith(("http://", "https://")):
        for key, value in _HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
    logger = _Logger(
        experiment_name=experiment,
        run_name=run_name,
        tracking_uri=full_uri,
        tags=tags,
        run_id=run_id,
        log_model=False,
        artifact_location=artifact_location(full_uri, experiment),
    )
    logger.uri, logger.unsent = full_uri, []
    logger.spool = Path(spool_dir) if spool_dir is not None else None
    return logger


def log_artifact(logger: Any, path: str | Path, artifact_path: str | None = None) -> None:
    """Upload one file to the logger's MLflow run (no-op without an MLflow logger, or once the
    logger has recorded a tracking failure; a new failure is recorded, not raised)."""
    if logger is None or not hasattr(logger, "experiment") or not hasattr(logger, "run_id"):
        return
    if getattr(logger, "tracking_error", ""):
        return
    try:
        logger.experiment.log_artifact(logger.run_id, str(path), artifact_path)
    except Exception as exc:
        if not hasattr(logger, "record_failure"):
            raise
        logger.record_failure(f"uploading {Path(path).name}", exc)
