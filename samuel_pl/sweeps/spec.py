"""Sweep files: schema, validation (errors name the file and key) and expansion into trials.

A sweep file (``experiments/sweeps/*.yaml``) names a base fit config, the parameters to vary,
the metric to optimise and the evaluation suite. ``params`` is a mapping ``dotted.key: values``
(one grid) or a list of such mappings (the union of several grids). Values are a list (grid
points / random choices) or, for ``random`` and ``optuna``, a range ``{low, high, log, int}``.
Every point is repeated for each of ``seeds``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.config import ConfigError, FitConfig, load_config
from samuel_pl.config.suite import SuiteConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
METHODS = ("grid", "random", "optuna")
METRIC_PREFIXES = ("eval/", "val/", "train/", "fit/")


@dataclass
class SweepTracking:
    uri: str = "sqlite:///mlruns.db"
    """MLflow tracking URI of the parent and child runs."""
    experiment: str = ""
    """MLflow experiment (default: ``samuel-sweep-<name>``)."""


@dataclass
class SweepConfig:
    name: str = "sweep"
    """Sweep name: the parent run's name, the output folder and the default experiment."""
    base: str = "experiments/demo.yaml"
    """Fit config every trial starts from."""
    overrides: list[str] = field(default_factory=list)
    """``key=value`` overrides applied to the base config of every trial."""
    params: Any = None
    """Parameters to vary: ``{dotted.key: [values]}`` or a list of such grids; for random/optuna
    a value may be ``{low, high, log, int}`` (a range) instead of a list."""
    method: str = "grid"
    """grid | random (``budget`` draws) | optuna (TPE, ``budget`` trials; needs the sweep extra)."""
    budget: int = 0
    """random / optuna: parameter points to try (each run once per seed)."""
    search_seed: int = 0
    """Seed of the random / optuna search."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Training seeds (``seed=`` of the fit config); every point runs once per seed."""
    metric: str = "eval/fd_mel"
    """Metric to optimise: ``eval/<metric>`` (the suite's SAMUeL row), ``val/loss``, ``fit/...``."""
    mode: str = "min"
    """min | max."""
    columns: list[str] = field(default_factory=list)
    """Extra metrics shown in the ranked table."""
    suite: str = "evaluation/suites/demo.yaml"
    """Evaluation suite run on every trial's checkpoint ('' skips evaluation)."""
    suite_overrides: list[str] = field(default_factory=list)
    """``key=value`` overrides of the suite."""
    out: str = ""
    """Folder of the trial runs (default ``runs/sweeps/<name>``)."""
    threads: int = 0
    """Torch threads per trial (0: CPU cores / workers)."""
    tracking: SweepTracking = field(default_factory=SweepTracking)
    """Where the parent and child runs go."""


@dataclass(frozen=True)
class Trial:
    """One fit + evaluate: the varied values (``seed`` included), in a stable order."""

    values: tuple[tuple[str, Any], ...]

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.values)

    @property
    def key(self) -> str:
        """Stable id of the point (what resuming matches on)."""
        text = json.dumps(self.params, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    @property
    def slug(self) -> str:
        """Readable folder/run name: ``mix_schedule-linear_window-8_seed-0``."""
        parts = [f"{k.rsplit('.', 1)[-1]}-{_plain(v)}" for k, v in self.values]
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "", "_".join(parts))[:80]
        return f"{slug}-{self.key[:6]}" if slug else self.key

    def overrides(self) -> list[str]:
        """Dotlist overrides (values as JSON, which the config loader reads as YAML)."""
        return [f"{k}={json.dumps(v)}" for k, v in self.values]

    def group(self) -> tuple[tuple[str, Any], ...]:
        """The point without its seed (trials of one group differ only by seed)."""
        return tuple((k, v) for k, v in self.values if k != "seed")


def _plain(v: Any) -> str:
    return json.dumps(v) if isinstance(v, list | dict) else str(v)


def make_trial(params: dict[str, Any], seed: int) -> Trial:
    return Trial(tuple(sorted(params.items())) + (("seed", seed),))


def resolve_path(path: str, sweep_file: Path | None = None) -> Path:
    """A path as given if it exists, else relative to the sweep file's repository checkout."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    for root in ([sweep_file.resolve().parent.parent.parent] if sweep_file else []) + [REPO_ROOT]:
        if (root / p).exists():
            return root / p
    return p


def _grids(spec: SweepConfig, src: str) -> list[dict[str, Any]]:
    raw = spec.params
    if raw is None:
        return [{}]
    grids = raw if isinstance(raw, list) else [raw]
    for i, g in enumerate(grids):
        where = f"params[{i}]" if isinstance(raw, list) else "params"
        if not isinstance(g, dict):
            raise ConfigError(f"{src}: {where} must be a mapping of dotted.key: [values]")
        for key, values in g.items():
            if key == "seed":
                raise ConfigError(f"{src}: {where}.seed: list training seeds under 'seeds'")
            if isinstance(values, dict):
                extra = set(values) - {"low", "high", "log", "int", "values"}
                if extra:
                    raise ConfigError(f"{src}: {where}.{key}: unknown range keys {sorted(extra)}")
                if "values" not in values and not {"low", "high"} <= set(values):
                    raise ConfigError(f"{src}: {where}.{key}: a range needs low and high")
                if "values" not in values and spec.method == "grid":
                    raise ConfigError(
                        f"{src}: {where}.{key}: a range needs method random or optuna "
                        "(a grid lists its values)"
                    )
            elif not isinstance(values, list) or not values:
                raise ConfigError(f"{src}: {where}.{key}: expected a non-empty list of values")
    return grids


def choices(values: Any) -> list[Any] | None:
    """The listed values of a param (None for a range)."""
    if isinstance(values, list):
        return values
    if isinstance(values, dict) and "values" in values:
        return list(values["values"])
    return None


def _draw(values: Any, rng: np.random.Generator) -> Any:
    listed = choices(values)
    if listed is not None:
        return listed[int(rng.integers(len(listed)))]
    lo, hi = float(values["low"]), float(values["high"])
    x = (
        float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        if values.get("log")
        else rng.uniform(lo, hi)
    )
    return int(round(x)) if values.get("int") else float(x)


def expand(spec: SweepConfig, src: str = "sweep") -> list[Trial]:
    """The trials of a grid or random sweep (optuna proposes them as it goes: [] here)."""
    grids = _grids(spec, src)
    points: list[dict[str, Any]] = []
    if spec.method == "grid":
        for g in grids:
            keys = list(g)
            for combo in itertools.product(*(choices(g[k]) or [] for k in keys)):
                points.append(dict(zip(keys, combo)))
    elif spec.method == "random":
        rng = np.random.default_rng(spec.search_seed)
        for i in range(spec.budget):
            g = grids[i % len(grids)]
            points.append({k: _draw(v, rng) for k, v in g.items()})
    else:
        return []
    trials = [make_trial(p, s) for p in points for s in spec.seeds]
    return list(dict.fromkeys(trials))  # union of grids: drop repeated points


def _check_metric(name: str, src: str, key: str, spec: SweepConfig, suite: Any) -> None:
    """``name`` (the sweep's metric or a column) must be one the trials will log."""
    if not name.startswith(METRIC_PREFIXES):
        raise ConfigError(
            f"{src}: {key} '{name}' must start with one of {', '.join(METRIC_PREFIXES)} "
            "(e.g. eval/fd_mel, val/loss)"
        )
    if not name.startswith("eval/"):
        return
    if suite is None:
        raise ConfigError(f"{src}: {key} '{name}' needs a suite (suite is empty)")
    short = name.removeprefix("eval/").removesuffix(".low").removesuffix(".high")
    from samuel_pl.metrics.harmony import HARMONY_KEYS

    family = (
        "fd" if short.startswith(("fd_", "fad_")) else
        "alignment" if short.startswith("align_") else
        "harmony" if short in HARMONY_KEYS else
        "aesthetics" if short.startswith("aes_") else
        "efficiency" if short in ("rtf", "params") else ""
    )  # fmt: skip
    if family and family not in suite.metrics:
        raise ConfigError(
            f"{src}: {key} '{name}' needs '{family}' in the suite's metrics {suite.metrics}"
        )
    if family == "alignment":
        from samuel_pl.metrics.alignment import ALIGNMENT_KEYS

        if short.removeprefix("align_") not in ALIGNMENT_KEYS:
            valid = ", ".join(f"eval/align_{k}" for k in ALIGNMENT_KEYS)
            raise ConfigError(f"{src}: {key} '{name}' is not an alignment metric ({valid})")
    if not any(g.type == "samuel" for g in suite.generators):
        raise ConfigError(f"{src}: suite {spec.suite} has no samuel generator to score")


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Read and validate a sweep file; every trial's fit config and the suite must load.

    Raises:
        ConfigError: naming the sweep file and the offending key.
    """
    p = Path(path)
    src = str(p)
    try:
        spec: SweepConfig = load_config(p, list(overrides or []), SweepConfig)
    except ConfigError as exc:
        msg = str(exc)
        if msg.startswith("override: "):
            raise ConfigError(f"{src}: command-line {msg}") from None
        raise
    if spec.method not in METHODS:
        raise ConfigError(f"{src}: method '{spec.method}': choose one of {', '.join(METHODS)}")
    if spec.mode not in ("min", "max"):
        raise ConfigError(f"{src}: mode '{spec.mode}': choose min or max")
    if spec.method != "grid" and spec.budget <= 0:
        raise ConfigError(f"{src}: budget must be > 0 for method {spec.method}")
    if not spec.seeds:
        raise ConfigError(f"{src}: seeds must list at least one seed")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", spec.name):
        raise ConfigError(f"{src}: name '{spec.name}' may only use letters, digits, . _ -")
    base = resolve_path(spec.base, p)
    if not base.is_file():
        raise ConfigError(f"{src}: base: config file {spec.base} not found")
    spec.base = str(base)
    suite = None
    if spec.suite:
        suite_path = resolve_path(spec.suite, p)
        if not suite_path.is_file():
            raise ConfigError(f"{src}: suite: file {spec.suite} not found")
        spec.suite = str(suite_path)
        suite = _load(suite_path, spec.suite_overrides, SuiteConfig, src, "suite_overrides")
    _check_metric(spec.metric, src, "metric", spec, suite)
    for i, column in enumerate(spec.columns):
        _check_metric(column, src, f"columns[{i}]", spec, suite)
    _load(base, spec.overrides, FitConfig, src, "overrides")
    trials = expand(spec, src)
    for trial in trials or [make_trial(_first_point(spec, src), spec.seeds[0])]:
        _load(base, spec.overrides + trial.overrides(), FitConfig, src, "params")
    return spec


def _first_point(spec: SweepConfig, src: str) -> dict[str, Any]:
    """A representative point of an optuna space (for up-front validation of the keys)."""
    out = {}
    for g in _grids(spec, src):
        for k, v in g.items():
            listed = choices(v)
            out[k] = listed[0] if listed else (int(v["low"]) if v.get("int") else float(v["low"]))
    return out


def _load(path: Path, overrides: list[str], schema: type, src: str, section: str) -> Any:
    try:
        return load_config(path, overrides, schema)
    except ConfigError as exc:
        msg = str(exc).removeprefix("override: ")
        raise ConfigError(f"{src}: {section}: {msg}") from None


def trial_config(spec: SweepConfig, trial: Trial, out: Path) -> FitConfig:
    """The fit config of a trial: base + sweep overrides + the trial's values + run/tracking."""
    forced = [
        f"run.dir={json.dumps(str(out / trial.slug))}",
        f"run.name={json.dumps(f'{spec.name}-{trial.slug}')}",
        "resume=auto",
        f"tracking.uri={json.dumps(spec.tracking.uri)}",
        f"tracking.experiment={json.dumps(experiment_name(spec))}",
        "tracking.enabled=true",
        "trainer.enable_progress_bar=false",
    ]
    return load_config(Path(spec.base), [*spec.overrides, *trial.overrides(), *forced])


def experiment_name(spec: SweepConfig) -> str:
    return spec.tracking.experiment or f"samuel-sweep-{spec.name}"


def out_dir(spec: SweepConfig) -> Path:
    return Path(spec.out or Path("runs") / "sweeps" / spec.name)
