"""Frechet distance between Gaussians fitted to embeddings (FAD; Kilgour et al. 2019).

``d^2 = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)``, computed in float64.

Besides the plain distance this module gives FAD-inf (Gui et al. 2024, "Adapting Frechet Audio
Distance for Generative Music Evaluation": FAD on random subsets of N generated embeddings,
a line fitted to FAD against 1/N, the intercept reported), per-song FAD and a bootstrap
confidence interval over generated songs. All of them take embedding arrays ``(M, D)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Stats = tuple[np.ndarray, np.ndarray]  # (mu (D,), sigma (D, D))


def gaussian_stats(emb: np.ndarray) -> Stats:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of embeddings ``(M, D)``, float64."""
    x = np.asarray(emb, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need embeddings (M >= 2, D), got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), float64.

    ``tr((S1 S2)^1/2)`` is computed as ``sum(sqrt(eig(S1^1/2 S2 S1^1/2)))``: the matrix is
    symmetric PSD, so there are no imaginary parts to drop and singular covariances (fewer
    samples than dimensions) are fine. If the eigen-decomposition does not converge, ``eps`` is
    added to both diagonals and it is tried again.

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: covariances, shape (D, D).
        eps: diagonal offset used only for a covariance on which the decomposition fails.
    """
    m1, m2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    d = m1.shape[0]
    if m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"shape mismatch: mu1 {m1.shape}, sigma1 {s1.shape}, mu2 {m2.shape}, sigma2 {s2.shape}"
        )
    if not all(np.isfinite(a).all() for a in (m1, m2, s1, s2)):
        raise ValueError("statistics contain NaN or inf")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    try:
        r1 = _psd_sqrt(s1)
        cross = np.linalg.eigvalsh(r1 @ s2 @ r1)
    except np.linalg.LinAlgError:
        off = eps * np.eye(d)
        r1 = _psd_sqrt(s1 + off)
        cross = np.linalg.eigvalsh(r1 @ (s2 + off) @ r1)
    tr_covmean = float(np.sqrt(np.clip(cross, 0.0, None)).sum())
    diff = m1 - m2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def _as_stats(reference: np.ndarray | Stats) -> Stats:
    if isinstance(reference, tuple):
        return np.asarray(reference[0], np.float64), np.asarray(reference[1], np.float64)
    return gaussian_stats(reference)


def fad_from_embeddings(reference: np.ndarray | Stats, generated: np.ndarray) -> float:
    """FAD between reference embeddings ``(M, D)`` (or (mu, sigma)) and generated ``(K, D)``."""
    return frechet_distance(*_as_stats(reference), *gaussian_stats(generated))


@dataclass(frozen=True)
class FadInfResult:
    """FAD-inf: the intercept of FAD against 1/N; ``slope`` and ``r2`` of that fit; the points."""

    fad_inf: float
    slope: float
    r2: float
    sizes: tuple[int, ...]
    values: tuple[float, ...]


def fad_inf(
    reference: np.ndarray | Stats,
    generated: np.ndarray,
    steps: int = 25,
    min_n: int = 500,
    seed: int = 0,
) -> FadInfResult:
    """FAD extrapolated to infinitely many generated embeddings (Gui et al. 2024).

    For ``steps`` sizes N evenly spaced in ``[min_n, K]`` a random subset of N of the K generated
    embeddings (without replacement) is scored against the reference statistics; FAD is
    linear in 1/N to first order, so the least-squares intercept estimates the unbiased FAD.

    Args:
        reference: reference embeddings (M, D), or their (mu (D,), sigma (D, D)).
        generated: all generated embeddings (K, D), every frame of every song.
        steps: number of subset sizes.
        min_n: smallest subset size; clipped to [D + 1, K // 2].
        seed: seed of the subset draws.
    """
    mu_r, s_r = _as_stats(reference)
    gen = np.asarray(generated, np.float64)
    k, dim = gen.shape
    lo = int(min(max(min_n, dim + 1), k // 2))
    if lo < 2 or steps < 2:
        raise ValueError(f"FAD-inf needs more generated embeddings than {k} for D={dim}")
    sizes = np.unique(np.linspace(lo, k, steps).astype(int))
    rng = np.random.default_rng(seed)
    values = []
    for n in sizes:
        sub = gen[rng.choice(k, size=int(n), replace=False)]
        values.append(frechet_distance(mu_r, s_r, *gaussian_stats(sub)))
    xs, ys = 1.0 / sizes, np.asarray(values)
    slope, intercept = np.polyfit(xs, ys, 1)
    pred = intercept + slope * xs
    ss_tot = float(((ys - ys.mean()) ** 2).sum())
    r2 = 1.0 - float(((ys - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else 1.0
    return FadInfResult(
        float(intercept), float(slope), r2, tuple(int(n) for n in sizes), tuple(values)
    )


def per_song_fad(reference: np.ndarray | Stats, songs: Sequence[np.ndarray]) -> np.ndarray:
    """FAD of each generated song's embeddings ``(frames_i, D)`` against the reference: ``(S,)``.

    A song with fewer frames than D has a singular covariance; the distance is still defined.
    """
    mu_r, s_r = _as_stats(reference)
    return np.array([frechet_distance(mu_r, s_r, *gaussian_stats(s)) for s in songs])


@dataclass(frozen=True)
class BootstrapCI:
    """Point estimate (all songs pooled) and the percentile interval of bootstrap replicates."""

    fad: float
    low: float
    high: float
    level: float
    replicates: int


def bootstrap_fad_ci(
    reference: np.ndarray | Stats,
    songs: Sequence[np.ndarray],
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap CI of FAD, resampling generated songs with replacement.

    Songs (not frames) are the resampling unit because frames of one song are correlated.
    FAD is biased upward for small sets, so the replicates lean above the point estimate; the
    interval describes the spread over song sets, not a bias-corrected FAD (use FAD-inf for that).

    Args:
        reference: reference embeddings (M, D), or their (mu, sigma).
        songs: per-song generated embeddings, each (frames_i, D); at least 2 songs.
        n_boot: bootstrap replicates.
        level: coverage of the interval, e.g. 0.95.
        seed: seed of the resampling.
    """
    if len(songs) < 2:
        raise ValueError("bootstrap needs at least 2 generated songs")
    mu_r, s_r = _as_stats(reference)
    point = frechet_distance(mu_r, s_r, *gaussian_stats(np.concatenate(songs)))
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(songs), size=len(songs))
        pooled = np.concatenate([songs[i] for i in pick])
        reps.append(frechet_distance(mu_r, s_r, *gaussian_stats(pooled)))
    alpha = (1.0 - level) / 2
    low, high = np.quantile(np.asarray(reps), [alpha, 1.0 - alpha])
    return BootstrapCI(point, float(low), float(high), level, n_boot)
