"""MLflow clients and experiments: one client per store, get-or-create, look-up by name."""

from __future__ import annotations

from typing import Any

from samuel_pl.errors import SamuelError
from samuel_pl.tracking.mlflow_logger import artifact_location


def client_for(uri: str) -> Any:
    """An ``MlflowClient`` on the store at ``uri`` (already normalised by the caller)."""
    import mlflow

    return mlflow.MlflowClient(uri)


def ensure_experiment(client: Any, uri: str, name: str) -> str:
    """Id of experiment ``name``, created with fit's artifact location when missing."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location(uri, name)))
    except Exception:  # noqa: BLE001 - created meanwhile by a parallel worker
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return str(exp.experiment_id)


def experiment_id(client: Any, experiment: str) -> str:
    """Id of the existing experiment ``experiment``; a SamuelError listing the others if absent."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise SamuelError(
            f"MLflow experiment '{experiment}' not found; experiments: {', '.join(names) or '-'}"
        )
    return str(exp.experiment_id)
