"""Evaluation suite schema: which split, clip length, generators, metrics and embedders."""

from __future__ import annotations

from dataclasses import dataclass, field

from samuel_pl.config.checks import (
    GUIDANCE,
    NONNEG,
    SAMPLER,
    SPACING_NAMES,
    STEPS,
    checked,
    number,
    one_of,
)
from samuel_pl.config.schema import DataConfig, TrackingConfig


@dataclass
class GeneratorConfig:
    type: str = "samuel"
    """samuel | codec_round_trip (the real accompaniment through a checkpoint's codec and
    decoder: the ceiling of its latent space; added on its own beside every samuel row) |
    ground_truth | random_pairing | folder (accompaniments made elsewhere) | musicgen
    (MusicGen-melody on the vocal's chroma) | retrieval (nearest training song)."""
    name: str = ""
    """Row name in the table (default: the type, plus sampler settings for samuel)."""
    ckpt: str = ""
    """samuel, codec_round_trip: checkpoint path (default: the --ckpt of the command)."""
    sampler: str = checked("dpmpp", SAMPLER)
    """samuel: a sampler of samuel_pl.diffusion.SAMPLERS (dpmpp, dpmpp3m, unipc, ddim, ...)."""
    steps: int = checked(25, STEPS)
    """samuel: sampler steps."""
    cfg: float = checked(2.0, GUIDANCE)
    """samuel: classifier-free guidance scale."""
    spacing: str = checked("", one_of(choices=lambda: ("", *SPACING_NAMES())))
    """samuel: step grid, auto | uniform | log_snr | karras ('': the checkpoint's
    sampling.spacing)."""
    window: int = 0
    """samuel: latent frames per generation window (0: the generate command's default)."""
    spectral_prior: str = checked("", one_of("", "none", "blend", "shrink"))
    """samuel: the x0 filter by the training latents' temporal spectrum ('': the checkpoint's
    sampling.spectral_prior; samuel_pl/diffusion/spectral_prior.py)."""
    vocoder: str = ""
    """samuel, codec_round_trip: a ``task: vocoder`` checkpoint the mel codec decodes with ('':
    the checkpoint's codec.vocoder; none: Griffin-Lim; auto: the shipped vocoder where it fits)."""
    path: str = ""
    """folder: a folder with one ``<song_id>.<ext>`` accompaniment per test song;
    musicgen: a local Hugging Face MusicGen-melody folder (default ``models/musicgen-melody``)."""
    prompt: str = "instrumental accompaniment"
    """musicgen: the text prompt beside the vocal's chroma."""
    guidance_scale: float = checked(3.0, NONNEG)
    """musicgen: classifier-free guidance scale of MusicGen's sampler."""
    max_seconds: float = checked(30.0, number(0, lo_open=True))
    """musicgen: window length; longer vocals are generated window by window (the model's
    chroma condition covers 30 s)."""
    max_new_tokens: int = checked(0, NONNEG)
    """musicgen: cap on tokens per window (0: as many as the window's duration needs; a cap
    shortens the audio, which is then padded with silence)."""
    backend: str = "transformers"
    """musicgen: transformers (local HF folder) | audiocraft (only where audiocraft imports)."""
    align_beats: bool = True
    """retrieval: start the stretched excerpt so one of its beats falls on the vocal's first."""


@dataclass
class SuiteConfig:
    name: str = "suite"
    """Suite name (MLflow run name prefix, output folder)."""
    seed: int = 0
    """Seed of generation, shuffling and bootstrap."""
    data: DataConfig = field(default_factory=DataConfig)
    """The stem source to evaluate on (same keys as a fit config's ``data``)."""
    split: str = checked("test", one_of("train", "val", "test"))
    """Split of the source: train | val | test."""
    max_songs: int = checked(0, NONNEG)
    """Evaluate at most this many songs (0: all of the split)."""
    clip_seconds: float = checked(10.0, number(0, lo_open=True))
    """Clip per song, taken from the middle of the song (FAD depends on clip length: report it)."""
    sample_rate: int = checked(22050, number(8000, 384000))
    """Rate at which generated and reference audio are compared (embedders resample further)."""
    generators: list[GeneratorConfig] = checked(
        rule=lambda v: None if len(v) else "at least one generator",
        factory=lambda: [
            GeneratorConfig(),
            GeneratorConfig(type="ground_truth"),
            GeneratorConfig(type="random_pairing"),
        ],
    )
    """Rows of the table; the reference set is always the real accompaniments of the split."""
    metrics: list[str] = field(
        default_factory=lambda: ["fd", "alignment", "harmony", "realism", "efficiency"]
    )
    """fd | alignment (rhythm, chroma, key) | harmony (harmonic fit: consonance share and gain,
    key fit) | realism (octave-band balance, level above 4 kHz, onset sharpness, sustained share
    against the real accompaniment) | efficiency | aesthetics."""
    controls: bool = True
    """Score control rows beside the generators (shuffled pairing, the true accompaniment
    shifted +1 and +6 semitones, the vocal as accompaniment, a static tonic triad, the true
    accompaniment low-passed at 4 kHz and through Griffin-Lim) and validate
    every per-song metric against them (Cohen's d in table.md's validate section)."""
    embedders: list[str] = field(default_factory=lambda: ["mel"])
    """Embeddings for Frechet distances: mel (weight-free, reported as FD-mel) | vggish | clap."""
    embedder_weights: dict[str, str] = field(default_factory=dict)
    """Local weight files per embedder, e.g. ``{vggish: /path/vggish-10086976.pth}``."""
    aesthetics_checkpoint: str = ""
    """audiobox-aesthetics checkpoint (the metric is reported unavailable without it)."""
    bootstrap: int = checked(200, NONNEG)
    """Bootstrap replicates for confidence intervals."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """MLflow destination of the evaluation run."""
