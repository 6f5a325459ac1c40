"""Evaluation metrics: Frechet distances (+ embedders), aesthetics, alignment, harmonic fit,
efficiency.

Every metric is a ``torchmetrics.Metric`` whose states sync across DDP ranks; distances are pure
functions over embedding arrays. Embedders needing weights (vggish, clap) load lazily.
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
from samuel_pl.metrics.efficiency import count_parameters, flops_per_forward, measure_generation
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
    VocalAnalysis,
    analyse_vocal,
    harmonic_fit,
)

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
    "FadInfResult",
    "FrechetAudioDistance",
    "HARMONY_KEYS",
    "HarmonicFitMetric",
    "MelStatsEmbedder",
    "VocalAnalysis",
    "alignment_scores",
    "analyse_vocal",
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
    "measure_generation",
    "per_song_fad",
    "true_vs_shuffled",
]
