"""MLflow run records: the sweep tags, :class:`RunRecord`, and searching an experiment's runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from samuel_pl.errors import SamuelError

# Tags written by the sweep runner (samuel_pl.sweeps).
KIND, SWEEP, KEY, STATE, ERROR = (
    "samuel.kind",
    "sweep.name",
    "sweep.trial_key",
    "sweep.state",
    "sweep.error",
)
PARENT = "mlflow.parentRunId"


@dataclass
class RunRecord:
    """One MLflow run, flattened."""

    run_id: str
    name: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    start_time: int = 0
    artifact_uri: str = ""

    @property
    def key(self) -> str:
        """Trial key for sweep runs (re-runs of a point share it), else the run id."""
        return self.tags.get(KEY) or self.run_id

    @property
    def ok(self) -> bool:
        """Completed: a sweep trial marked done, or a plain run that FINISHED."""
        state = self.tags.get(STATE)
        return state == "done" if state else self.status == "FINISHED"

    @property
    def error(self) -> str:
        return self.tags.get(ERROR, "")


def _record(run: Any) -> RunRecord:
    return RunRecord(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id[:8],
        status=run.info.status,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        start_time=int(run.info.start_time or 0),
        artifact_uri=run.info.artifact_uri or "",
    )


def search(client: Any, exp_id: str, filter_string: str = "") -> list[RunRecord]:
    """Every run of an experiment matching ``filter_string`` (all pages)."""
    out: list[RunRecord] = []
    token = None
    while True:
        page = client.search_runs(
            [exp_id], filter_string, max_results=1000, page_token=token, order_by=["start_time"]
        )
        out += [_record(r) for r in page]
        token = page.token
        if not token:
            return out


def load_runs(
    client: Any, exp_id: str, run_ids: list[str] | None = None, parent: str | None = None
) -> list[RunRecord]:
    """Runs to compare: no sweep parents or report runs; children of ``parent`` if given;
    only ``run_ids`` (ids, id prefixes or names) if given; one run per trial key (the completed
    one, else the latest attempt)."""
    runs = [r for r in search(client, exp_id) if r.tags.get(KIND) not in ("sweep", "report")]
    if parent:
        runs = [r for r in runs if r.tags.get(PARENT) == parent]
    if run_ids:
        wanted = set(run_ids)
        runs = [r for r in runs if r.name in wanted or any(r.run_id.startswith(w) for w in wanted)]
        if not runs:
            raise SamuelError(f"none of the runs {', '.join(run_ids)} is in this experiment")
    best: dict[str, RunRecord] = {}
    for r in runs:  # oldest first
        cur = best.get(r.key)
        if cur is None or r.ok or not cur.ok:
            best[r.key] = r
    return list(best.values())


def find_sweep_parent(client: Any, exp_id: str, name: str) -> RunRecord | None:
    """The latest parent run of sweep ``name`` in the experiment, if any."""
    runs = search(client, exp_id, f"tags.`{KIND}` = 'sweep' and tags.`{SWEEP}` = '{name}'")
    return runs[-1] if runs else None
