"""Evaluation metrics: Frechet distances (+ embedders), aesthetics, alignment, harmonic fit,
efficiency.

Every evaluation metric is an :class:`EvalMetric` (a ``torchmetrics.Metric`` whose states sync
across DDP ranks) with one signature, the one the evaluation runner drives::

    metric = FrechetAudioDistance(embedder, sample_rate, n_boot=200, seed=0)  # or any below
    metric.update(preds, targets, *, vocals=None, seconds=None)  # once or per batch
    metric.compute()    # {reported name: float64 scalar tensor}
    metric.intervals()  # {reported name: (low, high)}: 95% bootstrap over clips
    metric.per_clip()   # {reported name: [score per clip]} (per-clip metrics only)
    metric.notes()      # caveats, one line each

- ``preds``: the generated accompaniments, a ``(B, N)`` tensor or a sequence of B clips
  ``(N,)`` / ``(1, N)`` (``(C, N)`` where the metric downmixes: FAD, aesthetics), at the
  ``sample_rate`` given to the constructor.
- ``targets``: the real accompaniments of the same songs, same layout (FAD's reference set;
  unused by the others, may be None).
- ``vocals``: the vocal of each song, same layout (alignment and harmonic fit score against it).
- ``seconds``: ``(B,)`` wall seconds that generated each clip (real-time factor).

The metrics: :class:`FrechetAudioDistance` (``fd_<embedder>`` [+ ``_inf``]),
:class:`AlignmentMetric` (``ALIGNMENT_KEYS``), :class:`HarmonicFitMetric` (``HARMONY_KEYS``),
:class:`RealismMetric` (``REALISM_KEYS``: band balance, level above 4 kHz, onset sharpness,
sustained share),
:class:`AestheticsMetric` (``AXES``), :class:`GenerationEfficiency` (``params``, ``rtf``).
Distances are pure functions over embedding arrays (``frechet``); embedders needing weights
(vggish, clap) load lazily.
"""

from samuel_pl.metrics.aesthetics import AXES, AestheticsMetric, AestheticsScorer
from samuel_pl.metrics.alignment import (
    ALIGNMENT_KEYS,
    LOWER_IS_BETTER,
    AlignmentMetric,
    alignment_scores,
    beat_f_measure,
    effect_size,
    estimate_key,
    key_agreement,
    true_vs_shuffled,
)
from samuel_pl.metrics.base import ClipScoreMetric, EvalMetric, as_clips, mean_ci
from samuel_pl.metrics.efficiency import (
    GenerationEfficiency,
    count_parameters,
    flops_per_forward,
    measure_generation,
)
from samuel_pl.metrics.embedders import EMBEDDERS, AudioEmbedder, MelStatsEmbedder, build_embedder
from samuel_pl.metrics.fad import FrechetAudioDistance
from samuel_pl.metrics.frechet import (
    BootstrapCI,
    FadInfResult,
    bootstrap_fad_ci,
    fad_from_embeddings,
    fad_inf,
    frechet_distance,
    gaussian_stats,
    per_song_fad,
)
from samuel_pl.metrics.harmony import (
    HARMONY_KEYS,
    HarmonicFitMetric,
    VocalAnalyses,
    VocalAnalysis,
    analyse_vocal,
    harmonic_fit,
)
from samuel_pl.metrics.realism import REALISM_KEYS, RealismMetric, realism_scores

__all__ = [
    "ALIGNMENT_KEYS",
    "AXES",
    "EMBEDDERS",
    "LOWER_IS_BETTER",
    "AestheticsMetric",
    "AestheticsScorer",
    "AlignmentMetric",
    "AudioEmbedder",
    "BootstrapCI",
    "ClipScoreMetric",
    "EvalMetric",
    "FadInfResult",
    "FrechetAudioDistance",
    "GenerationEfficiency",
    "HARMONY_KEYS",
    "HarmonicFitMetric",
    "MelStatsEmbedder",
    "REALISM_KEYS",
    "RealismMetric",
    "VocalAnalyses",
    "VocalAnalysis",
    "alignment_scores",
    "analyse_vocal",
    "as_clips",
    "beat_f_measure",
    "bootstrap_fad_ci",
    "build_embedder",
    "count_parameters",
    "effect_size",
    "estimate_key",
    "fad_from_embeddings",
    "fad_inf",
    "flops_per_forward",
    "frechet_distance",
    "gaussian_stats",
    "harmonic_fit",
    "key_agreement",
    "mean_ci",
    "measure_generation",
    "per_song_fad",
    "realism_scores",
    "true_vs_shuffled",
]
