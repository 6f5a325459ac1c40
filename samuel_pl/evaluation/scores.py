"""Per-song scores of accompaniments against the suite's vocals (alignment, harmonic fit), and
their summaries (mean with a 95% bootstrap interval over songs)."""

from __future__ import annotations

import numpy as np

from samuel_pl.metrics import (
    ALIGNMENT_KEYS,
    HARMONY_KEYS,
    LOWER_IS_BETTER,
    VocalAnalysis,
    alignment_scores,
    analyse_vocal,
    harmonic_fit,
)

# Per-song metric families of a suite's ``metrics`` list and the names they are reported under.
PER_SONG = {
    "alignment": tuple(f"align_{k}" for k in ALIGNMENT_KEYS),
    "harmony": HARMONY_KEYS,
}
LOWER = frozenset(f"align_{k}" for k in LOWER_IS_BETTER)


def mean_ci(values: list[float], n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval over songs (NaN scores left out)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float("nan"), float("nan"), float("nan")
    if arr.size == 1 or n_boot < 2:
        return float(arr.mean()), float(arr.mean()), float(arr.mean())
    rng = np.random.default_rng(seed)
    reps = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    return float(arr.mean()), float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))


class SongScorer:
    """Scores accompaniments against fixed vocals; each vocal's pyin analysis is done once.

    Args:
        vocals: song id -> mono vocal clip ``(1, N)``.
        sample_rate: rate of the vocals and of every scored clip.
        families: per-song metric families to compute (keys of ``PER_SONG``).
    """

    def __init__(
        self, vocals: dict[str, np.ndarray], sample_rate: int, families: list[str]
    ) -> None:
        self.vocals = vocals
        self.sample_rate = sample_rate
        self.families = [f for f in PER_SONG if f in families]
        self._analyses: dict[str, VocalAnalysis] = {}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for f in self.families for k in PER_SONG[f])

    def vocal_analysis(self, song_id: str) -> VocalAnalysis:
        """The pyin analysis of a song's vocal (computed on first use)."""
        if song_id not in self._analyses:
            self._analyses[song_id] = analyse_vocal(self.vocals[song_id][0], self.sample_rate)
        return self._analyses[song_id]

    def score(self, clips: dict[str, np.ndarray]) -> dict[str, list[float]]:
        """``{metric: [score per song, in the order of the vocals]}`` for clips ``(1, N)``."""
        out: dict[str, list[float]] = {k: [] for k in self.keys}
        for song_id, vocal in self.vocals.items():
            v, a = vocal[0], clips[song_id][0]
            if "alignment" in self.families:
                s = alignment_scores(v, a, self.sample_rate)
                for k in ALIGNMENT_KEYS:
                    out[f"align_{k}"].append(s[k])
            if "harmony" in self.families:
                h = harmonic_fit(v, a, self.sample_rate, self.vocal_analysis(song_id))
                for k in HARMONY_KEYS:
                    out[k].append(h[k])
        return out
