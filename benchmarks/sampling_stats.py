"""Statistics of the sampler quality table (benchmarks/sampling.py): Frechet distances between
per-frame latent vectors with song-jackknife intervals, and the table pivoted.

Every sampler row, and the noise floor, is an independent draw compared against one reference
draw of ancestral-800 (other seeds): an exact sampler's distance is the floor in expectation.
A Frechet distance between finite samples is biased up by about the floor, which shrinks as the
number of frames grows; so the ratio to the floor (the 'within 1.5x' bar) grows with the data
for any sampler that is not exact, and the excess (distance minus floor) is the
sample-size-free part. Frames of one song are correlated, so songs are the unit of the
intervals: the delete-one-song jackknife (each replicate leaves one test song out of every
row, the floor included), 95% = point +- 1.96 jackknife standard errors. (A song bootstrap
would draw songs twice, which raises every replicate's Frechet bias: its intervals sit above
the point estimate.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from samuel_pl.metrics.frechet import frechet_distance

BAR = 1.5
"""The 'equal quality' bar of issue 21: Frechet distance <= 1.5 x the noise floor."""


@dataclass
class SongStats:
    """Per-song sufficient statistics of frame vectors: counts (S,), sums (S, C), outer-product
    sums (S, C, C), all float64; pooling them with weights is pooling the frames."""

    n: np.ndarray
    sums: np.ndarray
    outer: np.ndarray

    @classmethod
    def of(cls, z: np.ndarray, song_of_clip: np.ndarray, n_songs: int) -> SongStats:
        """Statistics of latents ``z (K, C, W)`` whose clip k belongs to song
        ``song_of_clip[k]`` (K = seeds x clips; frames are the W time steps)."""
        c = z.shape[1]
        n = np.zeros(n_songs)
        sums, outer = np.zeros((n_songs, c)), np.zeros((n_songs, c, c))
        for k, s in enumerate(song_of_clip):
            f = np.asarray(z[k], np.float64).T  # (W, C)
            n[s] += f.shape[0]
            sums[s] += f.sum(0)
            outer[s] += f.T @ f
        return cls(n, sums, outer)

    def pooled(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean (C,) and unbiased covariance (C, C) of the frames with song weights ``w (S,)``
        (jackknife: one song 0; all ones: every frame once)."""
        total = float(w @ self.n)
        mu = (w @ self.sums) / total
        cov = (np.tensordot(w, self.outer, 1) - total * np.outer(mu, mu)) / (total - 1)
        return mu, cov


def jackknife_weights(n_songs: int) -> np.ndarray:
    """(n_songs + 1, n_songs) song weights: row 0 all ones (the point estimate), then each song
    left out once (none with fewer than 3 songs)."""
    rows = [np.ones(n_songs)]
    if n_songs >= 3:
        rows += [1.0 - np.eye(n_songs)[i] for i in range(n_songs)]
    return np.stack(rows)


def fd_replicates(case: SongStats, ref: SongStats, weights: np.ndarray) -> np.ndarray:
    """Frechet distance of ``case`` to ``ref`` for each weight row (reps + 1,)."""
    out = []
    for w in weights:
        out.append(frechet_distance(*case.pooled(w), *ref.pooled(w)))
    return np.asarray(out)


def interval(values: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Point ``values[0]`` +- z jackknife standard errors of the leave-one-out ``values[1:]``."""
    reps = values[1:]
    if reps.size == 0:
        return float("nan"), float("nan")
    n = reps.size
    se = float(np.sqrt((n - 1) / n * np.sum((reps - reps.mean()) ** 2)))
    return float(values[0] - z * se), float(values[0] + z * se)


def summarize(fd: np.ndarray, floor: np.ndarray) -> dict[str, Any]:
    """Point and 95% interval of a row's distance, its excess over the floor and its ratio to
    the floor (jackknife replicates ``(n + 1,)``, row 0 the point), and the verdict against
    :data:`BAR` (yes: the whole ratio interval <= bar; no: all of it above; else unclear)."""
    ratio = fd / floor
    lo, hi = interval(fd)
    elo, ehi = interval(fd - floor)
    rlo, rhi = interval(ratio)
    verdict = "yes" if rhi <= BAR else "no" if rlo > BAR else "unclear"
    if np.isnan(rhi):
        verdict = "yes" if ratio[0] <= BAR else "no"
    return {
        "frechet_to_anc800": float(fd[0]),
        "frechet_ci": [lo, hi],
        "excess_over_floor": float(fd[0] - floor[0]),
        "excess_ci": [elo, ehi],
        "ratio_to_floor": float(ratio[0]),
        "ratio_ci": [rlo, rhi],
        f"within_{BAR}x": verdict,
    }


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Distance of row a minus row b, point and paired 95% jackknife interval."""
    d = a - b
    lo, hi = interval(d)
    return {"difference": round(float(d[0]), 4), "ci": [round(lo, 4), round(hi, 4)]}


def _cell(r: dict[str, Any]) -> str:
    lo, hi = r["ratio_ci"]
    ci = "" if np.isnan(lo) else f" [{lo:.2f}, {hi:.2f}]"
    return f"{r['ratio_to_floor']:.2f}{ci}"


def pivot_rows(quality: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (sampler, spacing): per step count, the Frechet distance to ancestral-800
    and its ratio to the noise floor with the 95% jackknife interval; then the floor."""
    floor = next(r for r in quality if "noise floor" in r["sampler"])
    fast = [r for r in quality if not r["sampler"].startswith("ancestral")]
    steps = sorted({r["steps"] for r in fast})
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in fast:
        blank = {f"{k} steps": None for k in steps} | {f"{k}/floor [95% CI]": None for k in steps}
        row = rows.setdefault((r["sampler"], r["spacing"]), {"sampler": r["sampler"],
                              "spacing": r["spacing"], **blank})  # fmt: skip
        row[f"{r['steps']} steps"] = round(r["frechet_to_anc800"], 3)
        row[f"{r['steps']}/floor [95% CI]"] = _cell(r)
    out = list(rows.values())
    lo, hi = floor["frechet_ci"]
    ci = "" if np.isnan(lo) else f" [{lo:.3f}, {hi:.3f}]"
    value = f"{floor['frechet_to_anc800']:.3f}{ci}"
    out.append({"sampler": "noise floor: ancestral-800 vs ancestral-800, other seeds",
                "spacing": "-", f"{steps[0]} steps": value})  # fmt: skip
    return out
