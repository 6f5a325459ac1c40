"""Matplotlib figures (Agg backend, files only): latent/spectrogram panels, curves."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` atomically (temp name + rename) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def latent_panels(
    panels: dict[str, np.ndarray], path: str | Path, title: str = "", frame_rate: float = 0.0
) -> Path:
    """One image row per (C, T) latent/spectrogram (e.g. vocals / generated / ground truth)."""
    n = len(panels)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.2 * n), squeeze=False, sharex=True)
    lo = min(float(np.nanmin(p)) for p in panels.values())
    hi = max(float(np.nanmax(p)) for p in panels.values())
    for ax, (name, arr) in zip(axes[:, 0], panels.items()):
        t_max = arr.shape[-1] / frame_rate if frame_rate > 0 else arr.shape[-1]
        im = ax.imshow(
            arr,
            origin="lower",
            aspect="auto",
            vmin=lo,
            vmax=hi,
            cmap="magma",
            extent=(0.0, t_max, 0, arr.shape[0]),
        )
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("seconds" if frame_rate > 0 else "frames")
    fig.colorbar(im, ax=axes[:, 0].tolist(), shrink=0.8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def curves(series: dict[str, list[tuple[int, float]]], path: str | Path, ylabel: str) -> Path:
    """Line plot of named (step, value) series."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, pts in series.items():
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
