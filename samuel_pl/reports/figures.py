"""Report figures (matplotlib, Agg): loss curves, metric vs parameter, quality vs speed (Pareto),
mixing weights over diffusion time (spectrograms: :func:`samuel_pl.plots.mel_spectrograms`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.plots import plt, save_figure


def loss_curves(histories: dict[str, dict[str, list[tuple[int, float]]]], path: Path) -> Path:
    """Train and validation loss per run: ``{label: {"train/loss": [(step, v)], ...}}``."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=False)
    for ax, key in zip(axes, ("train/loss", "val/loss")):
        for label, series in histories.items():
            pts = series.get(key) or []
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, label=label, marker="o" if len(pts) < 4 else None, lw=1.2)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)


def _as_numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def metric_vs_param(
    points: dict[str, list[tuple[str, float, float, float]]], metric: str, path: Path
) -> Path:
    """One panel per parameter: each run's ``metric`` (with its own interval) at the
    parameter's value, and the mean per value.

    ``points``: ``{param: [(value, metric, low, high), ...]}``.
    """
    n = len(points)
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.8), squeeze=False)
    for ax, (param, pts) in zip(axes[0], points.items()):
        values = sorted({p[0] for p in pts})
        nums = _as_numbers(values)
        if nums is not None:
            values = [values[i] for i in np.argsort(nums)]
        pos = {v: i for i, v in enumerate(values)}
        xs = np.array([pos[p[0]] for p in pts], dtype=float)
        ys = np.array([p[1] for p in pts])
        err = np.array([[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]])
        ax.errorbar(xs, ys, yerr=np.maximum(err, 0), fmt="o", alpha=0.7, capsize=3, label="run")
        means = [float(np.mean([p[1] for p in pts if p[0] == v])) for v in values]
        ax.plot(range(len(values)), means, "s", color="tab:red", label="mean")
        ax.set_xticks(range(len(values)), values, rotation=30, ha="right")
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    return save_figure(fig, path)


def pareto_front(points: list[tuple[str, float, float]], mode: str) -> list[int]:
    """Indices of non-dominated points (x: lower is faster; y: better by ``mode``)."""
    sign = 1.0 if mode == "min" else -1.0
    front = []
    for i, (_, x, y) in enumerate(points):
        dominated = any(
            x2 <= x and sign * y2 <= sign * y and (x2 < x or sign * y2 < sign * y)
            for j, (_, x2, y2) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front


def pareto(
    points: list[tuple[str, float, float]], mode: str, xlabel: str, ylabel: str, path: Path
) -> Path:
    """Quality vs speed scatter with the Pareto front drawn through the non-dominated runs."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    front = set(pareto_front(points, mode))
    for i, (label, x, y) in enumerate(points):
        ax.scatter(x, y, color="tab:red" if i in front else "tab:gray", zorder=3)
        ax.annotate(label, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    fp = sorted((points[i][1], points[i][2]) for i in front)
    if len(fp) > 1:
        ax.plot(*zip(*fp), "--", color="tab:red", alpha=0.6, label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} ({'lower' if mode == 'min' else 'higher'} is better)")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def mixing(curves: dict[str, dict[str, Any]], path: Path) -> Path:
    """w_global (solid) and w_local (dashed) over the diffusion step, one panel per layer."""
    layers = sorted({name for c in curves.values() for name in c["layers"]})
    fig, axes = plt.subplots(1, len(layers), figsize=(6 * len(layers), 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, layer in zip(axes[0], layers):
        for i, (label, c) in enumerate(curves.items()):
            w = c["layers"].get(layer)
            if not w:
                continue
            color = colors[i % len(colors)]
            ax.plot(c["t"], w["global"], color=color, label=f"{label}")
            ax.plot(c["t"], w["local"], color=color, ls="--", alpha=0.7)
        ax.set_title(f"{layer}: w_global (solid), w_local (dashed)")
        ax.set_xlabel("diffusion step t (0 = clean)")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7)
    return save_figure(fig, path)
