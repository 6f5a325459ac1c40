"""Sweeps: a grid / random / Optuna search of fit + evaluate trials, tracked as MLflow
parent/child runs (``python -m samuel_pl.sweep experiments/sweeps/debug.yaml``)."""

from samuel_pl.sweeps.runner import SweepResult, run_sweep
from samuel_pl.sweeps.spec import SweepConfig, Trial, expand, load_sweep

__all__ = ["SweepConfig", "SweepResult", "Trial", "expand", "load_sweep", "run_sweep"]
