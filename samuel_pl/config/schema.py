"""Typed configuration: one dataclass per component, composed into :class:`FitConfig`.

Every field has a short attribute docstring (a string literal right below it); `--print-config`
shows the resolved values. YAML files and ``key=value`` overrides are merged onto these schemas
with ``OmegaConf.structured`` so that unknown keys and wrong types are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from samuel_pl.config.vae import VAEConfig
from samuel_pl.config.vocoder import VocoderConfig


@dataclass
class RunConfig:
    dir: str = ""
    """Output folder of the run; empty means ``runs/<name>-<timestamp>``."""
    name: str = "samuel"
    """Run name (MLflow run name and folder prefix)."""


@dataclass
class DataConfig:
    source: str = "demo"
    """Stem source: demo | musdb | folder | manifest."""
    root: str = "data/demo"
    """Dataset root (demo render folder, MUSDB18-HQ root, folder of songs, or CSV manifest)."""
    sample_rate: int = 22050
    """Audio is resampled to this rate before encoding."""
    channels: int = 1
    """Channel policy: 1 = average to mono, 2 = stereo (mono duplicated, >2 channels downmixed)."""
    crop_frames: int = 256
    """Latent frames per training example."""
    batch_size: int = 8
    """Examples per batch (per device)."""
    num_workers: int = 0
    """DataLoader worker processes."""
    crops_per_epoch: int = 512
    """Random training crops that make one epoch."""
    val_crops_per_song: int = 2
    """Deterministic evenly spaced crops per validation/test song."""
    cache_dir: str = ""
    """Latent cache folder; empty means ``$XDG_CACHE_HOME/samuel_pl/<data fingerprint>/<codec_id>``
    (``~/.cache/...``; ``task: vae``: the cache of resampled audio, ``.../audio-<rate>hz-<ch>ch``),
    outside the dataset."""
    demo_songs: int = 24
    """Demo source only: render the first N chorales of the seeded order when missing, and use
    those N (0: every rendered song)."""
    demo_seed: int = 0
    """Demo source only: seed of instrumentation, tempo, transposition and splits."""
    val_fraction: float = 0.1
    """Share of songs held out for validation (sources without their own split)."""
    test_fraction: float = 0.1
    """Share of songs held out for test (sources without their own split)."""
    split_seed: int = 0
    """Seed of the drawn val/test split (folder, manifest rows without split, MUSDB val)."""
    validation_songs: list[str] = field(default_factory=list)
    """MUSDB18-HQ only: train songs moved to the validation split (the official list)."""
    pitch_shift: int = 0
    """Random transposition of each training crop by up to this many semitones either way
    (vocal and accompaniment together, as a channel shift of the latent); needs codec.scale=log.
    0 = off."""
    max_length_mismatch_s: float = 0.05
    """Stems whose lengths differ by more than this many seconds are skipped."""
    max_seconds: float = 3600.0
    """Longest stem accepted, in seconds (checked on the file header before decoding); longer
    files are skipped with their reason."""


@dataclass
class CodecConfig:
    type: str = "mel"
    """Latent codec: mel (weight-free) | stable_audio | vae."""
    path: str = ""
    """Weights folder or checkpoint for stable_audio / vae."""
    sample_rate: int = 22050
    """Codec sample rate (audio is resampled to it)."""
    n_mels: int = 64
    """Mel codec: bins = latent channels."""
    n_fft: int = 2048
    """Mel codec: STFT size."""
    hop_length: int = 512
    """Mel codec: hop in samples (frame rate = sample_rate / hop_length)."""
    f_min: float = 30.0
    """Mel codec: lowest filter frequency (Hz)."""
    f_max: float = 0.0
    """Mel codec: highest filter frequency (Hz); 0 means Nyquist."""
    griffin_lim_iters: int = 32
    """Mel codec: Griffin-Lim iterations when decoding without a vocoder (32 keeps 98% of 48's
    consonance gain on real audio in 77% of its decode time: results/codec_harmony_gl.md)."""
    scale: str = "mel"
    """Mel codec: filter spacing, mel (Slaney) | log (``bins_per_octave`` bins per octave from
    f_min; f_max is then implied). With 12 bins per octave each latent channel is one semitone."""
    bins_per_octave: int = 12
    """Mel codec, log scale: bins per octave (12: a transposition is a channel shift)."""
    precision: str = "float32"
    """stable_audio / vae: weights and compute dtype: float32 | bf16 | fp16 (latents: float32)."""
    sample_posterior: bool = False
    """stable_audio / vae: latent = a draw from the posterior instead of its mean (the default)."""
    chunk_frames: int = 256
    """stable_audio / vae: encode and decode long audio in windows of this many latent frames
    (0: whole signal at once)."""
    chunk_overlap: int = 64
    """stable_audio / vae: latent frames shared by neighbouring windows; the crossfade spans the
    middle half, so each window keeps chunk_overlap / 4 frames of margin (the Stable Audio
    decoder's receptive field is about 10 frames, so 64 makes chunking exact)."""
    vocoder: str = ""
    """mel only: a ``task: vocoder`` checkpoint that decodes instead of Griffin-Lim ("": none)."""
    vocoder_refine: int = 8
    """mel with a vocoder: Griffin-Lim iterations from the vocoder's rendition, imposing the
    frames' own magnitudes on the filters' band (0: the rendition as is; README, Codecs)."""


@dataclass
class ModelConfig:
    in_channels: int = 0
    """Latent channels of x_t, the vocal condition and the output; 0: the codec's latent
    channels (filled in when the model is built)."""
    channels: list[int] = field(default_factory=lambda: [64, 128, 256, 512])
    """Width of each U-Net level; the last is the bottleneck."""
    time_dim: int = 512
    """Sinusoidal time embedding width (and MLP output)."""
    time_hidden: int = 2048
    """Hidden width of the time MLP."""
    heads: int = 8
    """Attention heads (input and bottleneck soft alignment attention)."""
    window: int = 16
    """Local attention window in frames."""
    mix_schedule: str = "reference"
    """Local/global mixing: reference | linear | alpha_bar | learned | local_only | global_only."""
    groups: int = 8
    """GroupNorm groups."""
    dropout: float = 0.0
    """Dropout inside residual blocks."""
    blocks_per_level: int = 1
    """Residual blocks per U-Net level."""
    cond_concat: bool = False
    """Also concatenate the vocal latent with x_t at the input conv (a direct, frame-aligned
    conditioning path beside the attention context)."""


@dataclass
class DiffusionConfig:
    train_steps: int = 800
    """T_train: discrete diffusion steps of the cosine schedule."""
    cosine_s: float = 0.008
    """Offset s of the cosine schedule."""
    loss_weight: str = "none"
    """v-loss weighting: none | min_snr | reference (2/SNR capped at 10, ablation only)."""
    min_snr_gamma: float = 5.0
    """gamma of min-SNR weighting."""
    cond_drop_prob: float = 0.1
    """Probability of dropping the vocal condition per sample (classifier-free guidance)."""
    future_mask_prob: float = 0.0
    """Probability per training crop that the vocal condition from a uniformly drawn frame on is
    the null condition, as the live engine sees a stream's unknown future (docs/live.md)."""
    ema_decay: float = 0.995
    """EMA decay per optimiser step."""
    ema_warmup: bool = True
    """Ramp the decay as min(decay, (1 + n) / (10 + n)) so early EMA weights are not the init."""


@dataclass
class OptimConfig:
    lr: float = 3.5e-4
    """Peak AdamW learning rate."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    """AdamW betas."""
    warmup_steps: int = 100
    """Linear warmup steps before cosine decay."""
    min_lr_ratio: float = 0.05
    """Final learning rate as a fraction of ``lr``."""
    grad_clip: float = 1.0
    """Gradient norm clipping (0 disables)."""


@dataclass
class TrainerConfig:
    max_steps: int = -1
    """Optimiser steps to train (-1: use max_epochs)."""
    max_epochs: int = 100
    """Epochs to train when max_steps is -1."""
    max_time_s: float = 0.0
    """Stop after this many seconds of training (0: no limit)."""
    precision: str = "32-true"
    """Lightning precision: 32-true | bf16-mixed | 16-mixed."""
    accelerator: str = "auto"
    """cpu | cuda | mps | auto."""
    devices: Any = "auto"
    """Device count or list, or auto."""
    strategy: str = "auto"
    """Lightning strategy: auto | ddp | fsdp | ..."""
    num_nodes: int = 1
    """Nodes for multi-node training."""
    log_every_n_steps: int = 10
    """Metric logging interval in steps."""
    check_val_every_n_epoch: int = 1
    """Validation interval in epochs."""
    limit_val_batches: float = 1.0
    """Fraction (or count if > 1) of validation batches."""
    accumulate_grad_batches: int = 1
    """Gradient accumulation."""
    deterministic: bool = False
    """Ask torch for deterministic kernels."""
    enable_progress_bar: bool = True
    """Show Lightning's progress bar."""
    fast_dev_run: bool = False
    """One batch of train and validation, for smoke tests."""
    compile: bool = False
    """torch.compile the denoiser (in place, checkpoint keys unchanged); pays off on CUDA."""
    nonfinite: str = "stop"
    """NaN/inf loss or gradient: stop (error naming the step; last.ckpt keeps the last good
    state) | skip (skip the update, count it in train/nonfinite_skipped and summary.json)."""


@dataclass
class TrackingConfig:
    enabled: bool = True
    """Log to MLflow."""
    uri: str = "sqlite:///mlruns.db"
    """MLflow tracking URI (sqlite file or http://host:port)."""
    experiment: str = "samuel"
    """MLflow experiment name."""
    log_checkpoints: bool = True
    """Upload last.ckpt to the MLflow run at the end of fit."""
    fallback: str = "none"
    """MLflow server unreachable at start: none (stop with an error) | local (warn and log to
    sqlite:///<run dir>/mlruns.db instead)."""


@dataclass
class SamplingConfig:
    sampler: str = "dpmpp"
    """dpmpp | dpmpp3m | unipc | unipc_bh1 | ddim | ancestral (samuel_pl.diffusion.SAMPLERS)."""
    steps: int = 10
    """Sampler steps (ancestral always uses the training steps). 10: DPM++(2M) on the log-SNR
    grid is within 1.3x of ancestral-800's seed-to-seed latent distance there (8: 1.5x;
    benchmarks/results/sampling_quality.md)."""
    cfg: float = 2.5
    """Classifier-free guidance scale (1 = no guidance)."""
    eta: float = 0.0
    """DDIM stochasticity."""
    spacing: str = "auto"
    """Step grid of the fast samplers: auto (each sampler's best measured grid, its
    SamplerSpec.auto_spacing: dpmpp and unipc log_snr, ddim, dpmpp3m and unipc_bh1 uniform;
    benchmarks/results/sampling_quality.md) | uniform (in t) | log_snr | karras."""
    window: int = 2048
    """Latent frames per generation window (0: data.crop_frames, the training crop). A clip up
    to this long is sampled in one pass, longer ones window by window (generation/windows.py).
    2048 (47.5 s at the demo codec's rate): one pass over a 20 s clip matched 128-frame windows
    on harmony and beat them on FD-mel, at a third of the network time (README, Generation)."""


@dataclass
class CallbackConfig:
    samples_every_n_epochs: int = 5
    """Generate audio for fixed validation songs every N epochs (0 disables)."""
    num_sample_songs: int = 2
    """Validation songs rendered by the audio-sample callback."""
    sample_frames: int = 256
    """Latent frames generated per sample."""
    checkpoint_every_n_steps: int = 0
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
    task: str = "diffusion"
    """What ``fit`` trains: diffusion (SAMUeL on codec latents) | vae (the audio VAE codec) |
    vocoder (the mel codec's neural decoder)."""
    vae: VAEConfig = field(default_factory=VAEConfig)
    """The audio VAE (used when ``task`` is vae)."""
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    """The mel codec's vocoder (used when ``task`` is vocoder)."""

    def audio_train(self) -> VAEConfig | VocoderConfig:
        """The section of the waveform network this config trains (``vae`` or ``vocoder``)."""
        return self.vocoder if self.task == "vocoder" else self.vae
