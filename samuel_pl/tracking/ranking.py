"""Rank MLflow run records: group them across seeds, statistics per metric, Markdown tables
(what ``sweep`` prints and ``report`` shows)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from samuel_pl.tracking.runs import STATE, RunRecord

# Params that differ between any two runs but say nothing about the configuration.
IGNORED_PARAMS = ("run.dir", "run.name", "resume", "tracking.", "data.cache_dir", "trainer.enable")
DEFAULT_COLUMNS = (
    "eval/fd_mel",
    "eval/consonance_share",
    "eval/consonance_gain",
    "val/loss",
    "eval/rtf",
    "fit/global_step",
    "fit/wall_time_s",
)


@dataclass
class Group:
    """Runs that differ only by seed, with per-metric statistics across them."""

    values: dict[str, str]
    runs: list[RunRecord]
    stats: dict[str, tuple[float, float, float, int]] = field(default_factory=dict)
    """metric -> (mean, low, high, n); low/high: 95% t-interval across seeds (n >= 2) or the
    run's own interval (``<metric>.low``/``.high``, e.g. a bootstrap over songs) when n == 1."""


def varied_keys(runs: list[RunRecord]) -> list[str]:
    """Config keys whose values differ between the runs (``seed`` last), ignoring run paths."""
    full = [r for r in runs if r.ok] or runs
    keys = sorted({k for r in full for k in r.params})
    out = []
    for k in keys:
        if k.startswith(IGNORED_PARAMS):
            continue
        if len({r.params.get(k, "") for r in full}) > 1:
            out.append(k)
    return sorted(out, key=lambda k: (k == "seed", k))


def _t95(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def aggregate(runs: list[RunRecord], keys: list[str], metrics: list[str]) -> list[Group]:
    """Group completed runs by the values of ``keys`` except ``seed``; statistics per metric."""
    group_keys = [k for k in keys if k != "seed"]
    groups: dict[tuple[str, ...], Group] = {}
    for r in runs:
        if not r.ok:
            continue
        values = tuple(r.params.get(k, "") for k in group_keys)
        groups.setdefault(values, Group(dict(zip(group_keys, values)), [])).runs.append(r)
    for g in groups.values():
        for m in metrics:
            vals = np.array([r.metrics[m] for r in g.runs if m in r.metrics], dtype=np.float64)
            if vals.size == 0:
                continue
            mean = float(vals.mean())
            if vals.size >= 2:
                half = _t95(vals.size) * float(vals.std(ddof=1)) / math.sqrt(vals.size)
                g.stats[m] = (mean, mean - half, mean + half, int(vals.size))
            else:
                r = next(r for r in g.runs if m in r.metrics)
                lo, hi = r.metrics.get(f"{m}.low", mean), r.metrics.get(f"{m}.high", mean)
                g.stats[m] = (mean, lo, hi, 1)
    return list(groups.values())


def rank(groups: list[Group], metric: str, mode: str) -> list[Group]:
    """Best first by the mean of ``metric``; groups without it last."""
    sign = 1.0 if mode == "min" else -1.0
    return sorted(
        groups,
        key=lambda g: (
            metric not in g.stats,
            sign * g.stats[metric][0] if metric in g.stats else 0,
        ),
    )


def fmt(v: float) -> str:
    return f"{v:.4g}"


def cell(stat: tuple[float, float, float, int] | None) -> str:
    """``mean ± half (n=3)`` across seeds, ``value [lo, hi]`` with a per-run interval."""
    if stat is None:
        return ""
    mean, lo, hi, n = stat
    if n >= 2:
        return f"{fmt(mean)} ± {fmt((hi - lo) / 2)} (n={n})"
    return fmt(mean) if lo == hi else f"{fmt(mean)} [{fmt(lo)}, {fmt(hi)}]"


def short_value(key: str, value: str) -> str:
    return value.replace("|", "/")


def columns_for(runs: list[RunRecord], metric: str, extra: list[str] | None = None) -> list[str]:
    """The ranked metric, the requested extras, then the default columns the runs have."""
    present = {m for r in runs for m in r.metrics}
    cols = [metric, *(extra or []), *(c for c in DEFAULT_COLUMNS if c in present)]
    return list(dict.fromkeys(cols))


def ranked_rows(
    runs: list[RunRecord], metric: str, mode: str, extra: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the ranked table (completed runs grouped across seeds)."""
    keys = varied_keys(runs)
    cols = columns_for(runs, metric, extra)
    groups = rank(aggregate(runs, keys, cols), metric, mode)
    shown = [k for k in keys if k != "seed"]
    header = ["rank", "runs", *shown, "seeds", *cols]
    rows = []
    for i, g in enumerate(groups, 1):
        ids = " ".join(r.run_id[:8] for r in g.runs)
        seeds = ",".join(sorted({r.params.get("seed", "?") for r in g.runs}))
        vals = [short_value(k, g.values[k]) for k in shown]
        rows.append([str(i), ids, *vals, seeds, *(cell(g.stats.get(c)) for c in cols)])
    return header, rows


def failed_rows(runs: list[RunRecord]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the runs that did not complete, with their errors."""
    header = ["run", "name", "status", "error"]
    rows = []
    for r in runs:
        if r.ok:
            continue
        err = r.error.replace("|", "/").replace("\n", " ")[:300] or "-"
        state = r.tags.get(STATE) or r.status
        rows.append([r.run_id[:8], r.name, state, err])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def ranked_markdown(
    runs: list[RunRecord], metric: str, mode: str, extra: list[str] | None = None
) -> str:
    """Ranked table of completed runs, then the failed ones (what ``sweep`` prints)."""
    header, rows = ranked_rows(runs, metric, mode, extra)
    text = markdown_table(header, rows) if rows else "(no completed runs)\n"
    fh, frows = failed_rows(runs)
    if frows:
        text += "\nFailed:\n\n" + markdown_table(fh, frows)
    return text
