"""Sweep files: validation errors name the file and key; grids, seeds and random draws expand
into stable trials; the shipped sweep files validate; grouping, intervals and Pareto fronts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from samuel_pl.config import ConfigError
from samuel_pl.sweeps import expand, load_sweep
from tests.conftest import REPO

SWEEPS = sorted((REPO / "experiments" / "sweeps").glob("*.yaml"))


def _write(tmp_path: Path, **fields: object) -> Path:
    spec = {
        "name": "t",
        "base": "experiments/debug.yaml",
        "params": {"model.window": [4, 8]},
        "suite": "evaluation/suites/debug.yaml",
        **fields,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_shipped_sweeps_validate() -> None:
    assert {"debug.yaml", "soft_attention.yaml"} <= {p.name for p in SWEEPS}
    for path in SWEEPS:
        spec = load_sweep(path)
        trials = expand(spec, str(path))
        assert trials or spec.method == "optuna", path
        assert len({t.key for t in trials}) == len(trials)


def test_soft_attention_sweep_covers_every_schedule() -> None:
    from samuel_pl.nn.attention_mixing import MIX_SCHEDULES

    spec = load_sweep(REPO / "experiments" / "sweeps" / "soft_attention.yaml")
    trials = expand(spec)
    assert {t.params["model.mix_schedule"] for t in trials} == set(MIX_SCHEDULES)
    windows = {t.params["model.window"] for t in trials if "model.window" in t.params}
    assert {8, 16, 32} <= windows


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"params": {"model.windw": [4]}}, "model.windw"),
        ({"params": {"model.window": ["x"]}}, "model.window"),
        ({"params": {"model.window": 4}}, "params.model.window"),
        ({"params": {"model.window": {"low": 2, "high": 8}}}, "method random or optuna"),
        ({"method": "bayes"}, "method 'bayes'"),
        ({"mode": "lowest"}, "mode 'lowest'"),
        ({"metric": "fd_mel"}, "metric 'fd_mel'"),
        ({"metric": "eval/align_chroma_cosine", "suite_overrides": ["metrics=[fd]"]}, "alignment"),
        ({"metric": "eval/consonance_gain", "suite_overrides": ["metrics=[fd]"]}, "'harmony'"),
        (
            {"columns": ["eval/align_beat_f1"], "suite_overrides": ["metrics=[fd, alignment]"]},
            "columns[0]",
        ),  # fmt: skip
        ({"base": "experiments/nope.yaml"}, "base"),
        ({"overrides": ["trainer.max_step=3"]}, "trainer.max_step"),
        ({"suite_overrides": ["clip_second=3"]}, "clip_second"),
        ({"method": "random"}, "budget"),
        ({"seedz": [1]}, "seedz"),
    ],
)
def test_bad_sweep_files_name_file_and_key(tmp_path: Path, fields: dict, needle: str) -> None:
    path = _write(tmp_path, **fields)
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_cli_reports_bad_sweep_in_one_line(tmp_path: Path, capsys) -> None:
    from samuel_pl.cli.main import main

    path = _write(tmp_path, params={"model.windw": [4]})
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.windw" in err[0] and str(path) in err[0]


def test_grid_union_seeds_and_stable_keys(tmp_path: Path) -> None:
    grids = [
        {"model.mix_schedule": ["reference", "linear"], "model.window": [4]},
        {"model.mix_schedule": ["reference"], "model.window": [4, 8]},
    ]
    spec = load_sweep(_write(tmp_path, params=grids, seeds=[0, 1]))
    trials = expand(spec)
    points = {(t.params["model.mix_schedule"], t.params["model.window"]) for t in trials}
    assert points == {("reference", 4), ("linear", 4), ("reference", 8)}
    assert len(trials) == 3 * 2  # the repeated (reference, 4) point runs once per seed
    again = expand(load_sweep(_write(tmp_path, params=list(reversed(grids)), seeds=[0, 1])))
    assert {t.key for t in again} == {t.key for t in trials}
    assert all(t.overrides()[-1].startswith("seed=") for t in trials)


def test_random_search_is_seeded_and_in_range(tmp_path: Path) -> None:
    params = {"optim.lr": {"low": 1e-4, "high": 1e-2, "log": True}, "model.window": [4, 8]}
    spec = load_sweep(_write(tmp_path, params=params, method="random", budget=6))
    trials = expand(spec)
    assert len(trials) == 6
    assert all(1e-4 <= t.params["optim.lr"] <= 1e-2 for t in trials)
    assert all(t.params["model.window"] in (4, 8) for t in trials)
    assert [t.key for t in expand(spec)] == [t.key for t in trials]
    other = expand(load_sweep(_write(tmp_path, params=params, method="random", budget=6,
                                     search_seed=1)))  # fmt: skip
    assert [t.key for t in other] != [t.key for t in trials]


def _record(run_id: str, window: str, seed: str, value: float, ok: bool = True):
    from samuel_pl.tracking.runs import RunRecord

    return RunRecord(
        run_id=run_id,
        name=run_id,
        status="FINISHED" if ok else "FAILED",
        params={"model.window": window, "seed": seed, "run.dir": f"/x/{run_id}"},
        metrics={"eval/fd_mel": value},
        tags={},
    )


def test_groups_across_seeds_with_t_interval() -> None:
    import numpy as np
    from scipy import stats

    from samuel_pl.tracking.ranking import aggregate, rank, ranked_rows, varied_keys

    vals = [3.0, 4.0, 8.0]
    runs = [_record(f"a{i}", "4", str(i), v) for i, v in enumerate(vals)]
    runs += [_record("b0", "8", "0", 1.0), _record("c0", "16", "0", 0.5, ok=False)]
    assert varied_keys(runs) == ["model.window", "seed"]  # run.dir ignored
    groups = rank(aggregate(runs, varied_keys(runs), ["eval/fd_mel"]), "eval/fd_mel", "min")
    assert [g.values["model.window"] for g in groups] == ["8", "4"]  # failed run left out
    mean, lo, hi, n = groups[1].stats["eval/fd_mel"]
    ref = stats.t.interval(0.95, len(vals) - 1, loc=np.mean(vals), scale=stats.sem(vals))
    assert n == 3 and mean == pytest.approx(5.0)
    assert (lo, hi) == pytest.approx(ref)
    header, rows = ranked_rows(runs, "eval/fd_mel", "max")
    assert rows[0][header.index("model.window")] == "4" and "(n=3)" in rows[0][4]


def test_pareto_front() -> None:
    from samuel_pl.reports.figures import pareto_front

    pts = [
        ("fast-bad", 0.1, 9.0),
        ("slow-good", 1.0, 1.0),
        ("dominated", 1.2, 5.0),
        ("mid", 0.5, 4.0),
    ]
    assert sorted(pareto_front(pts, "min")) == [0, 1, 3]
    assert pareto_front(pts, "max") == [0]  # fastest and highest


def test_optuna_search_resumes_from_done_trials(tmp_path: Path) -> None:
    from samuel_pl.sweeps.search import optuna_search
    from samuel_pl.sweeps.trial import Outcome
    from samuel_pl.tracking.runs import RunRecord

    params = {"model.window": [4, 8], "optim.lr": {"low": 1e-4, "high": 1e-2, "log": True}}
    spec = load_sweep(_write(tmp_path, params=params, method="optuna", budget=4, seeds=[0, 1]))

    def score(p: dict) -> float:
        return p["optim.lr"] * 100 + p["model.window"]

    class FakeRunner:
        workers = 2

        def __init__(self) -> None:
            self.calls: list = []

        def __call__(self, trials: list) -> list:
            self.calls.append(trials)
            return [
                Outcome(t.key, t.slug, "done", metrics={"eval/fd_mel": score(t.params)})
                for t in trials
            ]

    first = FakeRunner()
    ran = optuna_search(spec, [], first)
    assert len(ran) == 4 * 2  # budget points x seeds
    assert [len(c) for c in first.calls] == [4, 4]  # two batches of 2 points x 2 seeds
    # resume: the completed trials are told to the study, nothing runs again
    done = []
    for o, t in zip(ran, [t for c in first.calls for t in c]):
        tags = {"sweep.trial_key": t.key, "sweep.state": "done"}
        tags.update({f"sweep.param.{k}": json.dumps(v) for k, v in t.params.items()})
        done.append(RunRecord(o.key, o.slug, "FINISHED", {}, dict(o.metrics), tags))
    again = FakeRunner()
    assert optuna_search(spec, done, again) == [] and again.calls == []
    bigger = load_sweep(_write(tmp_path, params=params, method="optuna", budget=5, seeds=[0, 1]))
    more = FakeRunner()
    assert len(optuna_search(bigger, done, more)) == 2 and len(more.calls) == 1
