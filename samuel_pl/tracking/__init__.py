"""MLflow setup, tags and artifact helpers (rank-zero only where it writes)."""

from samuel_pl.tracking.mlflow_utils import (
    git_commit,
    log_artifact,
    make_logger,
    normalise_uri,
    read_run_id,
    write_run_id,
)

__all__ = [
    "git_commit",
    "log_artifact",
    "make_logger",
    "normalise_uri",
    "read_run_id",
    "write_run_id",
]
