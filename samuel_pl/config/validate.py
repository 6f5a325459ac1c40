"""Every choice and range of a loaded config, checked before anything runs.

:func:`validate` walks a config dataclass (``FitConfig``, ``SuiteConfig``) and raises one
:class:`ConfigError` whose single line names each bad key, its value and what is allowed, e.g.
``invalid sampling.sampler='dpmp'; allowed: ancestral | ddim | dpmpp``. Each field's rule is
declared beside the field (``checked(default, rule)``, :mod:`samuel_pl.config.checks`); the
choices owned by a registry (samplers, spacings, loss weightings, mixing schedules, codec types,
data sources) are asked of it. The checks that span fields are :data:`CROSS` below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from samuel_pl.config import schema
from samuel_pl.config.audio_train import AudioTrainConfig
from samuel_pl.config.checks import Check
from samuel_pl.config.suite import GeneratorConfig, SuiteConfig
from samuel_pl.config.vae import VAEConfig
from samuel_pl.config.vocoder import VocoderConfig
from samuel_pl.errors import SamuelError


class ConfigError(SamuelError):
    """A config file or override that does not fit the schema (one-line message)."""


def field_rules(cls: type) -> dict[str, Check]:
    """The rules declared beside the fields of config dataclass ``cls`` (``checked``)."""
    return {
        f.name: f.metadata["check"]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.metadata.get("check") is not None
    }


SECTIONS: tuple[type, ...] = (
    *(c for c in vars(schema).values() if isinstance(c, type) and dataclasses.is_dataclass(c)),
    AudioTrainConfig,
    VAEConfig,
    VocoderConfig,
    SuiteConfig,
    GeneratorConfig,
)
RULES: dict[type, dict[str, Check]] = {cls: field_rules(cls) for cls in SECTIONS}
"""Each config section's rules, gathered from its fields (read-only view for tools and tests)."""


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
    rules = RULES.get(type(cfg))
    if rules is None:
        rules = RULES[type(cfg)] = field_rules(type(cfg))
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
