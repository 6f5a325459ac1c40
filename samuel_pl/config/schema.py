"""Typed configuration: one dataclass per component, composed into :class:`FitConfig`.

Every field has a short attribute docstring (a string literal right below it); `--print-config`
shows the resolved values. YAML files and ``key=value`` overrides are merged onto these schemas
with ``OmegaConf.structured`` so that unknown keys and wrong types are errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from samuel_pl.config.checks import (
    ACCELERATORS,
    CODEC_TYPE,
    DATA_SOURCE,
    FRACTION,
    LOSS_WEIGHT,
    MIX_SCHEDULE,
    NONNEG,
    POS,
    PRECISIONS,
    STEPS_OR_OFF,
    checked,
    each,
    nonempty,
    number,
    one_of,
)
from samuel_pl.config.sampling import SamplingConfig
from samuel_pl.config.vae import VAEConfig
from samuel_pl.config.vocoder import VocoderConfig


@dataclass
class RunConfig:
    dir: str = ""
    """Output folder of the run; empty means ``runs/<name>-<timestamp>``."""
    name: str = checked("samuel", nonempty)
    """Run name (MLflow run name and folder prefix)."""


@dataclass
class DataConfig:
    source: str = checked("demo", DATA_SOURCE)
    """Stem source: demo | musdb | folder | manifest."""
    root: str = "data/demo"
    """Dataset root (demo render folder, MUSDB18-HQ root, folder of songs, or CSV manifest)."""
    sample_rate: int = checked(22050, POS)
    """Audio is resampled to this rate before encoding."""
    channels: int = checked(1, one_of(1, 2))
    """Channel policy: 1 = average to mono, 2 = stereo (mono duplicated, >2 channels downmixed)."""
    crop_frames: int = checked(256, POS)
    """Latent frames per training example."""
    batch_size: int = checked(8, POS)
    """Examples per batch (per device)."""
    num_workers: int = checked(0, NONNEG)
    """DataLoader worker processes."""
    crops_per_epoch: int = checked(512, POS)
    """Random training crops that make one epoch."""
    val_crops_per_song: int = checked(2, POS)
    """Deterministic evenly spaced crops per validation/test song."""
    cache_dir: str = ""
    """Latent cache folder; empty means ``$XDG_CACHE_HOME/samuel_pl/<data fingerprint>/<codec_id>``
    (``~/.cache/...``; ``task: vae``: the cache of resampled audio, ``.../audio-<rate>hz-<ch>ch``),
    outside the dataset."""
    demo_songs: int = checked(24, NONNEG)
    """Demo source only: render the first N chorales of the seeded order when missing, and use
    those N (0: every rendered song)."""
    demo_seed: int = 0
    """Demo source only: seed of instrumentation, tempo, transposition and splits."""
    demo_set: str = checked("bach", one_of("bach", "varied", "varied_heldout"))
    """Demo source only: bach (Bach chorales, one SoundFont) | varied (chorales, quartets,
    chamber music; 3 SoundFonts, drawn keys, tempi, programs and rooms) | varied_heldout (the
    held-out style for transfer figures: polyphony with a SoundFont varied never uses; every
    song is test). See docs/demo_sets.md."""
    val_fraction: float = checked(0.1, number(0, 1, hi_open=True))
    """Share of songs held out for validation (sources without their own split)."""
    test_fraction: float = checked(0.1, number(0, 1, hi_open=True))
    """Share of songs held out for test (sources without their own split)."""
    split_seed: int = 0
    """Seed of the drawn val/test split (folder, manifest rows without split, MUSDB val)."""
    validation_songs: list[str] = field(default_factory=list)
    """MUSDB18-HQ only: train songs moved to the validation split (the official list)."""
    pitch_shift: int = checked(0, NONNEG)
    """Random transposition of each training crop by up to this many semitones either way
    (vocal and accompaniment together, as a channel shift of the latent); needs codec.scale=log.
    0 = off."""
    max_length_mismatch_s: float = checked(0.05, NONNEG)
    """Stems whose lengths differ by more than this many seconds are skipped."""
    max_seconds: float = 3600.0
    """Longest stem accepted, in seconds (checked on the file header before decoding); longer
    files are skipped with their reason."""


@dataclass
class CodecConfig:
    type: str = checked("mel", CODEC_TYPE)
    """Latent codec: mel (weight-free) | stable_audio | vae."""
    path: str = ""
    """Weights folder or checkpoint for stable_audio / vae."""
    sample_rate: int = checked(22050, POS)
    """Codec sample rate (audio is resampled to it)."""
    n_mels: int = checked(64, POS)
    """Mel codec: bins = latent channels."""
    n_fft: int = checked(2048, number(2))
    """Mel codec: STFT size."""
    hop_length: int = checked(512, POS)
    """Mel codec: hop in samples (frame rate = sample_rate / hop_length)."""
    f_min: float = checked(30.0, NONNEG)
    """Mel codec: lowest filter frequency (Hz)."""
    f_max: float = checked(0.0, NONNEG)
    """Mel codec: highest filter frequency (Hz); 0 means Nyquist."""
    griffin_lim_iters: int = checked(32, NONNEG)
    """Mel codec: Griffin-Lim iterations when decoding without a vocoder (why 32:
    benchmarks/RESULTS.md#config_defaults)."""
    scale: str = checked("mel", one_of("mel", "log"))
    """Mel codec: filter spacing, mel (Slaney) | log (``bins_per_octave`` bins per octave from
    f_min; f_max is then implied). With 12 bins per octave each latent channel is one semitone."""
    bins_per_octave: int = checked(12, POS)
    """Mel codec, log scale: bins per octave (12: a transposition is a channel shift)."""
    precision: str = checked("float32", one_of("float32", "bf16", "fp16"))
    """stable_audio / vae: weights and compute dtype: float32 | bf16 | fp16 (latents: float32)."""
    sample_posterior: bool = False
    """stable_audio / vae: latent = a draw from the posterior instead of its mean (the default)."""
    chunk_frames: int = checked(256, NONNEG)
    """stable_audio / vae: encode and decode long audio in windows of this many latent frames
    (0: whole signal at once)."""
    chunk_overlap: int = checked(64, NONNEG)
    """stable_audio / vae: latent frames shared by neighbouring windows; the crossfade spans the
    middle half, so each window keeps chunk_overlap / 4 frames of margin (the Stable Audio
    decoder's receptive field is about 10 frames, so 64 makes chunking exact)."""
    vocoder: str = "auto"
    """mel / pitched: the decoder. ``auto``: the vocoder shipped in the package
    (samuel_pl/assets/vocoder_demo.pt) when this codec is the one it was trained on, else
    Griffin-Lim; ``none`` (or "", what older configs saved): Griffin-Lim; else a ``task:
    vocoder`` checkpoint or its export (docs/codecs.md)."""
    vocoder_refine: int = checked(8, NONNEG)
    """mel with a vocoder: Griffin-Lim iterations from the vocoder's rendition, imposing the
    frames' own magnitudes on the filters' band (0: the rendition as is; README, Codecs)."""


@dataclass
class ModelConfig:
    in_channels: int = checked(0, NONNEG)
    """Latent channels of x_t, the vocal condition and the output; 0: the codec's latent
    channels (filled in when the model is built)."""
    channels: list[int] = checked(rule=each(POS), factory=lambda: [64, 128, 256, 512])
    """Width of each U-Net level; the last is the bottleneck."""
    time_dim: int = checked(512, number(2))
    """Sinusoidal time embedding width (and MLP output)."""
    time_hidden: int = checked(2048, POS)
    """Hidden width of the time MLP."""
    heads: int = checked(8, POS)
    """Attention heads (input and bottleneck soft alignment attention)."""
    window: int = checked(16, POS)
    """Local attention window in frames."""
    mix_schedule: str = checked("reference", MIX_SCHEDULE)
    """Local/global mixing: reference | linear | alpha_bar | learned | local_only | global_only."""
    groups: int = checked(8, POS)
    """GroupNorm groups."""
    dropout: float = checked(0.0, number(0, 1, hi_open=True))
    """Dropout inside residual blocks."""
    blocks_per_level: int = checked(1, POS)
    """Residual blocks per U-Net level."""
    cond_concat: bool = False
    """Also concatenate the vocal latent with x_t at the input conv (a direct, frame-aligned
    conditioning path beside the attention context)."""
    interval_features: int = checked(0, NONNEG)
    """Feature maps per semitone of a convolution over the pitch axis of the stacked (x_t, vocal)
    semitone channels, weights shared across keys (it sees intervals, not absolute pitch);
    concatenated at the input conv. 0: off. Needs a codec whose channels are semitones."""
    interval_pitch_channels: int = checked(0, NONNEG)
    """Leading latent channels that are semitones for ``interval_features`` (0: all)."""
    interval_span: int = checked(25, number(3))
    """Pitch extent of the interval convolutions in semitones (odd; 25 = +-1 octave)."""

    def cross_problems(self, key: str) -> Iterator[str]:
        """Widths the U-Net can build: GroupNorm groups and attention heads (even RoPE head
        width); one message per problem, ``key`` the section's name."""
        ch = list(self.channels)
        if not ch or any(c < 1 for c in ch) or self.groups < 1 or self.heads < 1:
            return
        if any(c % self.groups for c in ch):
            yield (
                f"invalid {key}.groups={self.groups}; allowed: a divisor of every "
                f"{key}.channels {ch}"
            )
        for c in {ch[0], ch[-1]}:
            if c % self.heads or (c // self.heads) % 2:
                yield (
                    f"invalid {key}.heads={self.heads}; allowed: a divisor of {key}.channels[0]="
                    f"{ch[0]} and {key}.channels[-1]={ch[-1]} leaving an even head width (RoPE)"
                )
                break
        if self.interval_span % 2 == 0:
            yield f"invalid {key}.interval_span={self.interval_span}; allowed: an odd number >= 3"


@dataclass
class DiffusionConfig:
    train_steps: int = checked(800, number(2))
    """T_train: discrete diffusion steps of the cosine schedule."""
    cosine_s: float = checked(0.008, number(0, lo_open=True))
    """Offset s of the cosine schedule."""
    loss_weight: str = checked("none", LOSS_WEIGHT)
    """v-loss weighting: none | min_snr | reference (2/SNR capped at 10, ablation only)."""
    min_snr_gamma: float = checked(5.0, number(0, lo_open=True))
    """gamma of min-SNR weighting."""
    cond_drop_prob: float = checked(0.1, FRACTION)
    """Probability of dropping the vocal condition per sample (classifier-free guidance)."""
    future_mask_prob: float = checked(0.0, FRACTION)
    """Probability per training crop that the vocal condition from a uniformly drawn frame on is
    the null condition, as the live engine sees a stream's unknown future (docs/live.md)."""
    ema_decay: float = checked(0.995, FRACTION)
    """EMA decay per optimiser step."""
    ema_warmup: bool = True
    """Ramp the decay as min(decay, (1 + n) / (10 + n)) so early EMA weights are not the init."""


@dataclass
class OptimConfig:
    lr: float = checked(3.5e-4, number(0, lo_open=True))
    """Peak AdamW learning rate."""
    weight_decay: float = checked(0.01, NONNEG)
    """AdamW weight decay."""
    betas: list[float] = checked(
        rule=each(number(0, 1, hi_open=True), length=2), factory=lambda: [0.9, 0.999]
    )
    """AdamW betas."""
    warmup_steps: int = checked(100, NONNEG)
    """Linear warmup steps before cosine decay."""
    min_lr_ratio: float = checked(0.05, FRACTION)
    """Final learning rate as a fraction of ``lr``."""
    grad_clip: float = checked(1.0, NONNEG)
    """Gradient norm clipping (0 disables)."""


@dataclass
class TrainerConfig:
    max_steps: int = checked(-1, STEPS_OR_OFF)
    """Optimiser steps to train (-1: use max_epochs)."""
    max_epochs: int = checked(100, STEPS_OR_OFF)
    """Epochs to train when max_steps is -1."""
    max_time_s: float = checked(0.0, NONNEG)
    """Stop after this many seconds of training (0: no limit)."""
    precision: str = checked("32-true", one_of(*PRECISIONS))
    """Lightning precision: 32-true | bf16-mixed | 16-mixed."""
    accelerator: str = checked("auto", one_of(*ACCELERATORS))
    """cpu | cuda | mps | auto."""
    devices: Any = "auto"
    """Device count or list, or auto."""
    strategy: str = "auto"
    """Lightning strategy: auto | ddp | fsdp | ..."""
    num_nodes: int = checked(1, POS)
    """Nodes for multi-node training."""
    log_every_n_steps: int = checked(10, POS)
    """Metric logging interval in steps."""
    check_val_every_n_epoch: int = checked(1, POS)
    """Validation interval in epochs."""
    limit_val_batches: float = checked(1.0, NONNEG)
    """Fraction (or count if > 1) of validation batches."""
    accumulate_grad_batches: int = checked(1, POS)
    """Gradient accumulation."""
    deterministic: bool = False
    """Ask torch for deterministic kernels."""
    enable_progress_bar: bool = True
    """Show Lightning's progress bar."""
    fast_dev_run: bool = False
    """One batch of train and validation, for smoke tests."""
    compile: bool = False
    """torch.compile the denoiser (in place, checkpoint keys unchanged); pays off on CUDA."""
    nonfinite: str = checked("stop", one_of("stop", "skip"))
    """NaN/inf loss or gradient: stop (error naming the step; last.ckpt keeps the last good
    state) | skip (skip the update, count it in train/nonfinite_skipped and summary.json)."""


@dataclass
class TrackingConfig:
    enabled: bool = True
    """Log to MLflow."""
    uri: str = checked("sqlite:///mlruns.db", nonempty)
    """MLflow tracking URI (sqlite file or http://host:port)."""
    experiment: str = "samuel"
    """MLflow experiment name."""
    log_checkpoints: bool = True
    """Upload last.ckpt to the MLflow run at the end of fit."""
    fallback: str = checked("none", one_of("none", "local"))
    """MLflow server unreachable at start: none (stop with an error) | local (warn and log to
    sqlite:///<run dir>/mlruns.db instead)."""


@dataclass
class CallbackConfig:
    samples_every_n_epochs: int = checked(5, NONNEG)
    """Generate audio for fixed validation songs every N epochs (0 disables)."""
    num_sample_songs: int = checked(2, NONNEG)
    """Validation songs rendered by the audio-sample callback."""
    sample_frames: int = checked(256, POS)
    """Latent frames generated per sample."""
    checkpoint_every_n_steps: int = checked(0, NONNEG)
    """Also save last.ckpt every N steps (0: at validation/epoch end only)."""


@dataclass
class FitConfig:
    seed: int = 0
    """Global seed."""
    resume: str = ""
    """'' (fresh run), 'auto' (continue run.dir's last.ckpt and MLflow run) or a checkpoint path."""
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    task: str = checked("diffusion", one_of("diffusion", "vae", "vocoder"))
    """What ``fit`` trains: diffusion (SAMUeL on codec latents) | vae (the audio VAE codec) |
    vocoder (the mel codec's neural decoder)."""
    vae: VAEConfig = field(default_factory=VAEConfig)
    """The audio VAE (used when ``task`` is vae)."""
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    """The mel codec's vocoder (used when ``task`` is vocoder)."""

    def pitch_shift_problem(self) -> str | None:
        """Why ``data.pitch_shift`` cannot work with this codec, or None (off, or a log codec)."""
        d, c = self.data, self.codec
        if d.pitch_shift <= 0 or self.semitone_codec():
            return None
        return (
            f"invalid data.pitch_shift={d.pitch_shift}; allowed: 0 unless codec.type=mel, "
            f"codec.scale=log and codec.bins_per_octave a multiple of 12 (got type={c.type}, "
            f"scale={c.scale}, bins_per_octave={c.bins_per_octave}): only there is a "
            "transposition a shift of the latent's channels"
        )

    def semitone_codec(self) -> bool:
        """Whether the codec's channels are semitones (log scale, whole channels per semitone)."""
        c = self.codec
        return c.type == "mel" and c.scale == "log" and c.bins_per_octave % 12 == 0

    def cross_problems(self, key: str = "") -> Iterator[str]:
        """The checks that span sections: pitch shift and interval features vs codec, split
        fractions, crop vs the U-Net's time stride."""
        d = self.data
        shift = self.pitch_shift_problem()
        if shift:
            yield shift
        if self.model.interval_features > 0 and not self.semitone_codec():
            c = self.codec
            yield (
                f"invalid model.interval_features={self.model.interval_features}; allowed: 0 "
                f"unless the codec's channels are semitones (codec.type=mel, codec.scale=log, "
                f"codec.bins_per_octave a multiple of 12; got type={c.type}, scale={c.scale})"
            )
        if d.val_fraction + d.test_fraction >= 1:
            yield (
                f"invalid data.val_fraction={d.val_fraction} with data.test_fraction="
                f"{d.test_fraction}; allowed: fractions that sum to < 1"
            )
        stride = 2 ** (len(self.model.channels) - 1)
        if self.task == "diffusion" and d.crop_frames >= 1 and d.crop_frames % stride:
            yield (
                f"invalid data.crop_frames={d.crop_frames}; allowed: a multiple of {stride} "
                f"(2 ** (len(model.channels) - 1))"
            )

    def audio_train(self) -> VAEConfig | VocoderConfig:
        """The section of the waveform network this config trains (``vae`` or ``vocoder``)."""
        return self.vocoder if self.task == "vocoder" else self.vae
