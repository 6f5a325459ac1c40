"""Every choice and range of a loaded config, checked before anything runs.

:func:`validate` walks a config dataclass (``FitConfig``, ``SuiteConfig``) and raises one
:class:`ConfigError` whose single line names each bad key, its value and what is allowed, e.g.
``invalid sampling.sampler='dpmp'; allowed: ancestral | ddim | dpmpp``. The choices of the
samplers, step spacings, loss weightings and mixing schedules come from the modules that
implement them; codec types and data sources, whose homes sit above this layer, are listed here
(their registries are tested against these lists, and ``register_codec`` extends the codec list).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

from samuel_pl.config import schema
from samuel_pl.config.suite import GeneratorConfig, SuiteConfig
from samuel_pl.config.vae import VAEConfig
from samuel_pl.config.vocoder import VocoderConfig
from samuel_pl.errors import SamuelError


class ConfigError(SamuelError):
    """A config file or override that does not fit the schema (one-line message)."""


CODEC_TYPES: list[str] = ["mel", "stable_audio", "vae"]
"""``codec.type`` values (``samuel_pl.codecs`` registry; ``register_codec`` appends)."""
DATA_SOURCES = ("demo", "musdb", "folder", "manifest")
"""``data.source`` values (``samuel_pl.data.sources``)."""
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true")
ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps", "tpu")

Check = Callable[[Any], str | None]
"""A rule: None when the value is allowed, else what is allowed, in words."""


def _lazy(module: str, name: str) -> Callable[[], tuple[str, ...]]:
    """Choices owned by a torch module, imported when first checked (no torch at import)."""

    def get() -> tuple[str, ...]:
        import importlib

        return tuple(getattr(importlib.import_module(module), name))

    return get


def one_of(*values: Any, choices: Callable[[], tuple[Any, ...]] | None = None) -> Check:
    def check(v: Any) -> str | None:
        allowed = tuple(choices()) if choices else values
        return None if v in allowed else " | ".join(map(str, allowed))

    return check


def number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    also: tuple[Any, ...] = (),
) -> Check:
    """A finite number in [lo, hi] (``lo_open`` / ``hi_open``: open ends), or one of ``also``."""
    parts = [f"> {lo:g}" if lo_open else f">= {lo:g}"] if lo is not None else []
    parts += [f"< {hi:g}" if hi_open else f"<= {hi:g}"] if hi is not None else []
    words = "a finite number " + " and ".join(parts) if parts else "a finite number"
    words = " or ".join([*map(str, also), words])

    def check(v: Any) -> str | None:
        if v in also and not isinstance(v, bool):
            return None
        try:
            x = float(v)
        except (TypeError, ValueError):
            return words
        bad = not math.isfinite(x)
        bad |= lo is not None and (x <= lo if lo_open else x < lo)
        bad |= hi is not None and (x >= hi if hi_open else x > hi)
        return words if bad else None

    return check


def each(rule: Check, length: int | None = None, nonempty: bool = True) -> Check:
    """A list whose every entry passes ``rule`` (of ``length`` entries when given)."""

    what = rule(None)  # no rule allows None: this is its description

    def check(v: Any) -> str | None:
        wrong_len = (length is not None and len(v) != length) or (nonempty and not v)
        if wrong_len or any(rule(x) for x in v):
            n = f"{length} entries" if length is not None else "a non-empty list"
            return f"{n}, each {what}"
        return None

    return check


def nonempty(v: Any) -> str | None:
    return None if str(v).strip() else "a non-empty string"


POS = number(1)
NONNEG = number(0)
FRACTION = number(0, 1)
STEPS_OR_OFF = number(1, also=(-1,))
SAMPLER_NAMES = _lazy("samuel_pl.diffusion.samplers", "SAMPLERS")
SPACING_NAMES = _lazy("samuel_pl.diffusion.samplers", "SPACING_CHOICES")

AUDIO_TRAIN: dict[str, Check] = {  # the fields VAEConfig and VocoderConfig share
    "stems": each(one_of("vocals", "accompaniment")),
    "min_crop_rms": NONNEG,
    "stft_weight": NONNEG,
    "stft_fft_sizes": each(number(2)),
    "waveform_l1_weight": NONNEG,
    "disc_channels": POS,
    "adversarial_weight": NONNEG,
    "feature_weight": NONNEG,
    "disc_start_step": NONNEG,
    "disc_lr_ratio": number(0, lo_open=True),
    "sample_seconds": number(0, lo_open=True),
}

RULES: dict[type, dict[str, Check]] = {
    schema.FitConfig: {"task": one_of("diffusion", "vae", "vocoder")},
    schema.RunConfig: {"name": nonempty},
    schema.DataConfig: {
        "source": one_of(*DATA_SOURCES),
        "sample_rate": POS,
        "channels": one_of(1, 2),
        "crop_frames": POS,
        "batch_size": POS,
        "num_workers": NONNEG,
        "crops_per_epoch": POS,
        "val_crops_per_song": POS,
        "demo_songs": NONNEG,
        "val_fraction": number(0, 1, hi_open=True),
        "test_fraction": number(0, 1, hi_open=True),
        "max_length_mismatch_s": NONNEG,
        "pitch_shift": NONNEG,
    },
    schema.CodecConfig: {
        "type": one_of(choices=lambda: tuple(CODEC_TYPES)),
        "sample_rate": POS,
        "n_mels": POS,
        "n_fft": number(2),
        "hop_length": POS,
        "f_min": NONNEG,
        "f_max": NONNEG,
        "griffin_lim_iters": NONNEG,
        "vocoder_refine": NONNEG,
        "scale": one_of("mel", "log"),
        "bins_per_octave": POS,
        "precision": one_of("float32", "bf16", "fp16"),
        "chunk_frames": NONNEG,
        "chunk_overlap": NONNEG,
    },
    schema.ModelConfig: {
        "in_channels": NONNEG,
        "channels": each(POS),
        "time_dim": number(2),
        "time_hidden": POS,
        "heads": POS,
        "window": POS,
        "mix_schedule": one_of(choices=_lazy("samuel_pl.nn.mixing", "MIX_SCHEDULES")),
        "groups": POS,
        "dropout": number(0, 1, hi_open=True),
        "blocks_per_level": POS,
    },
    schema.DiffusionConfig: {
        "train_steps": number(2),
        "cosine_s": number(0, lo_open=True),
        "loss_weight": one_of(choices=_lazy("samuel_pl.diffusion.objective", "LOSS_WEIGHTS")),
        "min_snr_gamma": number(0, lo_open=True),
        "cond_drop_prob": FRACTION,
        "future_mask_prob": FRACTION,
        "ema_decay": FRACTION,
    },
    schema.OptimConfig: {
        "lr": number(0, lo_open=True),
        "weight_decay": NONNEG,
        "betas": each(number(0, 1, hi_open=True), length=2),
        "warmup_steps": NONNEG,
        "min_lr_ratio": FRACTION,
        "grad_clip": NONNEG,
    },
    schema.TrainerConfig: {
        "max_steps": STEPS_OR_OFF,
        "max_epochs": STEPS_OR_OFF,
        "max_time_s": NONNEG,
        "precision": one_of(*PRECISIONS),
        "accelerator": one_of(*ACCELERATORS),
        "num_nodes": POS,
        "log_every_n_steps": POS,
        "check_val_every_n_epoch": POS,
        "limit_val_batches": NONNEG,
        "accumulate_grad_batches": POS,
        "nonfinite": one_of("stop", "skip"),
    },
    schema.TrackingConfig: {"uri": nonempty, "fallback": one_of("none", "local")},
    schema.SamplingConfig: {
        "sampler": one_of(choices=SAMPLER_NAMES),
        "steps": POS,
        "cfg": NONNEG,
        "eta": FRACTION,
        "spacing": one_of(choices=SPACING_NAMES),
        "window": NONNEG,
    },
    schema.CallbackConfig: {
        "samples_every_n_epochs": NONNEG,
        "num_sample_songs": NONNEG,
        "sample_frames": POS,
        "checkpoint_every_n_steps": NONNEG,
    },
    VAEConfig: {
        "channels": POS,
        "c_mults": each(POS),
        "strides": each(number(2)),
        "latent_dim": POS,
        "dilations": each(POS),
        "istft_hop": NONNEG,
        "kl_weight": NONNEG,
        "kl_warmup_steps": NONNEG,
        **AUDIO_TRAIN,
    },
    VocoderConfig: {
        "dim": POS,
        "intermediate": POS,
        "layers": POS,
        "kernel": lambda v: None if int(v) >= 1 and int(v) % 2 else "an odd number >= 1",
        "n_fft_mult": one_of(1, 2, 4),
        "codec_weight": NONNEG,
        **AUDIO_TRAIN,
    },
    SuiteConfig: {
        "split": one_of("train", "val", "test"),
        "max_songs": NONNEG,
        "clip_seconds": number(0, lo_open=True),
        "sample_rate": number(8000, 384000),
        "bootstrap": NONNEG,
        "generators": lambda v: None if len(v) else "at least one generator",
    },
    GeneratorConfig: {
        "sampler": one_of(choices=SAMPLER_NAMES),
        "steps": POS,
        "cfg": NONNEG,
        "spacing": one_of(choices=lambda: ("", *SPACING_NAMES())),
        "guidance_scale": NONNEG,
        "max_seconds": number(0, lo_open=True),
        "max_new_tokens": NONNEG,
    },
}


def _model_shapes(m: schema.ModelConfig, key: str) -> Iterator[str]:
    """Widths the U-Net can build: GroupNorm groups and attention heads (even RoPE head width)."""
    ch = list(m.channels)
    if not ch or any(c < 1 for c in ch) or m.groups < 1 or m.heads < 1:
        return
    if any(c % m.groups for c in ch):
        yield f"invalid {key}.groups={m.groups}; allowed: a divisor of every {key}.channels {ch}"
    for c in {ch[0], ch[-1]}:
        if c % m.heads or (c // m.heads) % 2:
            yield (
                f"invalid {key}.heads={m.heads}; allowed: a divisor of {key}.channels[0]={ch[0]} "
                f"and {key}.channels[-1]={ch[-1]} leaving an even head width (RoPE)"
            )
            break


def pitch_shift_problem(cfg: schema.FitConfig) -> str | None:
    """Why ``data.pitch_shift`` cannot work with this codec, or None (off, or a log codec)."""
    d, c = cfg.data, cfg.codec
    if d.pitch_shift <= 0 or (c.type == "mel" and c.scale == "log" and c.bins_per_octave % 12 == 0):
        return None
    return (
        f"invalid data.pitch_shift={d.pitch_shift}; allowed: 0 unless codec.type=mel, "
        f"codec.scale=log and codec.bins_per_octave a multiple of 12 (got type={c.type}, "
        f"scale={c.scale}, bins_per_octave={c.bins_per_octave}): only there is a transposition "
        "a shift of the latent's channels"
    )


def _fit_shapes(cfg: schema.FitConfig, key: str) -> Iterator[str]:
    d = cfg.data
    shift = pitch_shift_problem(cfg)
    if shift:
        yield shift
    if d.val_fraction + d.test_fraction >= 1:
        yield (
            f"invalid data.val_fraction={d.val_fraction} with data.test_fraction="
            f"{d.test_fraction}; allowed: fractions that sum to < 1"
        )
    stride = 2 ** (len(cfg.model.channels) - 1)
    if cfg.task == "diffusion" and d.crop_frames >= 1 and d.crop_frames % stride:
        yield (
            f"invalid data.crop_frames={d.crop_frames}; allowed: a multiple of {stride} "
            f"(2 ** (len(model.channels) - 1))"
        )


CROSS: dict[type, Callable[[Any, str], Iterator[str]]] = {
    schema.ModelConfig: _model_shapes,
    schema.FitConfig: _fit_shapes,
}


def problems(cfg: Any, prefix: str = "") -> Iterator[str]:
    """One message per bad value in the config dataclass ``cfg`` (nested sections included)."""
    rules = RULES.get(type(cfg), {})
    for f in dataclasses.fields(cfg):
        key, value = prefix + f.name, getattr(cfg, f.name)
        rule = rules.get(f.name)
        allowed = rule(value) if rule is not None else None
        if allowed:
            yield f"invalid {key}={value!r}; allowed: {allowed}"
        if dataclasses.is_dataclass(value):
            yield from problems(value, key + ".")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    yield from problems(item, f"{key}[{i}].")
    cross = CROSS.get(type(cfg))
    if cross is not None:
        yield from cross(cfg, prefix.rstrip("."))


def validate(cfg: Any, source: str = "") -> None:
    """Raise :class:`ConfigError` (one line: every bad key, value and the allowed values).

    Args:
        cfg: a config dataclass instance.
        source: prefix of the message (e.g. the YAML path).
    """
    found = list(problems(cfg))
    if found:
        head = f"{source}: " if source else ""
        raise ConfigError(head + "; ".join(found))


def allow_codec_type(name: str) -> None:
    """Accept ``codec.type=name`` (called by ``samuel_pl.codecs.register_codec``)."""
    if name not in CODEC_TYPES:
        CODEC_TYPES.append(name)
