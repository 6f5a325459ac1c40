"""Every MLflow access: store URIs and setup, the Lightning logger, experiments (get or
create), run records and search, what goes into and out of one run (run_io), ranking runs across
seeds, evaluation runs. Other packages pass the client handle along; only tracking/ calls it."""

from samuel_pl.tracking.experiments import client_for, ensure_experiment, experiment_id
from samuel_pl.tracking.mlflow_logger import (
    git_commit,
    log_artifact,
    make_logger,
    normalise_uri,
    read_run_id,
    write_run_id,
)

__all__ = [
    "client_for",
    "ensure_experiment",
    "experiment_id",
    "git_commit",
    "log_artifact",
    "make_logger",
    "normalise_uri",
    "read_run_id",
    "write_run_id",
]
