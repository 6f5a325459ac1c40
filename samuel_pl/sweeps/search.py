"""Optuna (TPE) search over a sweep's parameter space; resumes from the parent's done trials."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from samuel_pl.config import ConfigError
from samuel_pl.errors import SamuelError
from samuel_pl.sweeps.spec import SweepConfig, Trial, choices, make_trial
from samuel_pl.sweeps.trial import Outcome
from samuel_pl.tracking.runs import RunRecord


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise SamuelError(
            "method: optuna needs Optuna: pip install 'samuel_pl[sweep]' (or pip install optuna)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distributions(spec: SweepConfig) -> dict[str, Any]:
    """Optuna distributions of the sweep's single parameter mapping."""
    optuna = _import_optuna()
    if not isinstance(spec.params, dict):
        raise ConfigError("method optuna: params must be one mapping (not a list of grids)")
    out: dict[str, Any] = {}
    for key, values in spec.params.items():
        listed = choices(values)
        if listed is not None:
            if any(isinstance(v, list | dict) for v in listed):
                raise ConfigError(f"params.{key}: optuna choices must be scalars")
            out[key] = optuna.distributions.CategoricalDistribution(listed)
        elif values.get("int"):
            lo, hi = int(values["low"]), int(values["high"])
            out[key] = optuna.distributions.IntDistribution(lo, hi, log=bool(values.get("log")))
        else:
            flo, fhi = float(values["low"]), float(values["high"])
            out[key] = optuna.distributions.FloatDistribution(flo, fhi, log=bool(values.get("log")))
    return out


def _point_of(run: RunRecord, keys: list[str]) -> dict[str, Any] | None:
    try:
        return {k: json.loads(run.tags[f"sweep.param.{k}"]) for k in keys}
    except (KeyError, ValueError):
        return None


def optuna_search(
    spec: SweepConfig, done: list[RunRecord], execute: Callable[[list[Trial]], list[Outcome]]
) -> list[Outcome]:
    """Ask/tell loop: ``budget`` points (each run for every seed, value = mean over seeds),
    ``batch`` = parallel workers; completed points of earlier runs are told first."""
    optuna = _import_optuna()
    dists = distributions(spec)
    direction = "minimize" if spec.mode == "min" else "maximize"
    values: dict[str, list[float]] = {}
    points: dict[str, dict[str, Any]] = {}
    for run in done:
        point = _point_of(run, list(dists))
        if point is None or spec.metric not in run.metrics:
            continue
        gk = json.dumps(point, sort_keys=True)
        points[gk] = point
        values.setdefault(gk, []).append(run.metrics[spec.metric])
    # A resumed search must not replay the random start-up draws of the first run.
    sampler = optuna.samplers.TPESampler(seed=spec.search_seed + len(points))
    study = optuna.create_study(direction=direction, sampler=sampler)
    for gk, point in points.items():
        trial = optuna.trial.create_trial(
            params=point, distributions=dists, value=float(np.mean(values[gk]))
        )
        study.add_trial(trial)
    finished = {r.key for r in done}
    ran: list[Outcome] = []
    batch = max(1, getattr(execute, "workers", 1))
    while len(study.trials) < spec.budget:
        asked = [study.ask(dists) for _ in range(min(batch, spec.budget - len(study.trials)))]
        plan = {ft.number: [make_trial(ft.params, s) for s in spec.seeds] for ft in asked}
        todo = [t for ts in plan.values() for t in ts if t.key not in finished]
        outcomes = {o.key: o for o in execute(todo)}
        ran += outcomes.values()
        for ft in asked:
            got = [outcomes[t.key] for t in plan[ft.number] if t.key in outcomes]
            vals = [o.metrics[spec.metric] for o in got if spec.metric in o.metrics]
            vals += [
                r.metrics[spec.metric]
                for r in done
                if r.key in {t.key for t in plan[ft.number]} and spec.metric in r.metrics
            ]
            if vals:
                study.tell(ft, float(np.mean(vals)))
            else:
                study.tell(ft, state=optuna.trial.TrialState.FAIL)
        finished |= {o.key for o in outcomes.values() if o.status == "done"}
    return ran
