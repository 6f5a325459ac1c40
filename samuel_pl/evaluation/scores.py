"""A suite's metric objects and the figures they give per row (generator or control).

Every metric is a :class:`samuel_pl.metrics.EvalMetric` driven the same way:
``update(preds, targets, vocals=..., seconds=...)`` with all songs of the row, then
``compute()`` (values), ``intervals()`` (95% bootstrap over songs), ``per_clip()`` (per-song
scores of the families the control rows validate) and ``notes()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samuel_pl.config.suite import SuiteConfig
from samuel_pl.metrics import (
    ALIGNMENT_KEYS,
    HARMONY_KEYS,
    LOWER_IS_BETTER,
    AestheticsMetric,
    AestheticsScorer,
    AlignmentMetric,
    EvalMetric,
    FrechetAudioDistance,
    GenerationEfficiency,
    HarmonicFitMetric,
    VocalAnalyses,
    build_embedder,
)
from samuel_pl.metrics.realism import LOWER_IS_BETTER as REALISM_LOWER
from samuel_pl.metrics.realism import REALISM_KEYS, RealismMetric

# Per-song metric families of a suite's ``metrics`` list and the names they are reported under.
PER_SONG = {
    "alignment": tuple(f"align_{k}" for k in ALIGNMENT_KEYS),
    "harmony": HARMONY_KEYS,
    "realism": REALISM_KEYS,
}
LOWER = frozenset({*(f"align_{k}" for k in LOWER_IS_BETTER), *REALISM_LOWER})
FAMILIES = ("fd", "efficiency", "aesthetics", *PER_SONG)


@dataclass
class RowScores:
    """One row's figures: ``{metric: (value, ci low, ci high)}``, per-song scores, notes."""

    values: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    per_song: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class SuiteMetrics:
    """Builds the suite's metric objects for each row and reads their results.

    Args:
        suite: the suite (``metrics``, ``embedders``, ``sample_rate``, ``bootstrap``, ``seed``).
        vocals: song id -> mono vocal clip ``(1, N)``; every row is scored on these songs.
    """

    def __init__(self, suite: SuiteConfig, vocals: dict[str, np.ndarray]) -> None:
        self.suite, self.vocals = suite, vocals
        self.analyses = VocalAnalyses()  # each vocal's pyin once, for every row and the controls
        self.embedders = []
        if "fd" in suite.metrics:
            for name in suite.embedders:
                kwargs = {}
                if name in suite.embedder_weights:
                    kwargs["weights"] = suite.embedder_weights[name]
                self.embedders.append(build_embedder(name, **kwargs))
        self.aesthetics = None
        if "aesthetics" in suite.metrics:
            self.aesthetics = AestheticsScorer(suite.aesthetics_checkpoint or None)

    @property
    def unavailable(self) -> dict[str, str]:
        """Metrics that cannot run here, with the reason."""
        if self.aesthetics is not None and not self.aesthetics.available:
            return {"aesthetics": self.aesthetics.reason}
        return {}

    def vocal_key(self, song_id: str) -> tuple[int, str]:
        """The key (tonic 0=C, mode) of a song's vocal, from its pitch-class histogram."""
        return self.analyses.get(self.vocals[song_id][0], self.suite.sample_rate).key()

    def build(self, parameters: int | None) -> list[tuple[str, EvalMetric]]:
        """(family, metric object) for one row, in the order its figures are reported."""
        s, sr, boot = self.suite, self.suite.sample_rate, self.suite.bootstrap
        out: list[tuple[str, EvalMetric]] = []
        if "efficiency" in s.metrics and parameters:
            out.append(("efficiency", GenerationEfficiency(sr, parameters)))
        for emb in self.embedders:
            fad = FrechetAudioDistance(emb, sr, n_boot=boot, seed=s.seed, with_inf=True)
            out.append(("fd", fad))
        if "alignment" in s.metrics:
            out.append(("alignment", AlignmentMetric(sr, boot, s.seed, prefix="align_")))
        if "harmony" in s.metrics:
            out.append(("harmony", HarmonicFitMetric(sr, boot, s.seed, analyses=self.analyses)))
        if "realism" in s.metrics:
            out.append(("realism", RealismMetric(sr, boot, s.seed)))
        if self.aesthetics is not None and self.aesthetics.available:
            out.append(("aesthetics", AestheticsMetric(self.aesthetics, sr, boot, 0, "aes_")))
        return out

    def score(
        self,
        clips: dict[str, np.ndarray],
        references: dict[str, np.ndarray],
        seconds: dict[str, float],
        parameters: int | None,
    ) -> RowScores:
        """A row's figures from its clips ``(1, N)`` per song, the real accompaniments and the
        wall seconds each clip took to generate."""
        ids = list(self.vocals)
        preds, targets = [clips[i] for i in ids], [references[i] for i in ids]
        row = RowScores()
        for fam, metric in self.build(parameters):
            vocals, took = [self.vocals[i] for i in ids], [seconds[i] for i in ids]
            metric.update(preds, targets, vocals=vocals, seconds=took)
            intervals = metric.intervals()
            for name, value in metric.compute().items():
                row.values[name] = (float(value), *intervals[name])
            row.notes += metric.notes()
            if fam not in PER_SONG:
                continue
            for name, values in metric.per_clip().items():
                row.per_song[name] = values
                undefined = sum(not np.isfinite(v) for v in values)
                if undefined:
                    row.notes.append(
                        f"{name}: undefined for {undefined} of {len(values)} songs (left out)"
                    )
        return row
