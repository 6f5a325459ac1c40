"""Every choice and range of a loaded config, checked before anything runs.

:func:`validate` walks a config dataclass (``FitConfig``, ``SuiteConfig``) and raises one
:class:`ConfigError` whose single line names each bad key, its value and what is allowed, e.g.
``invalid sampling.sampler='dpmp'; allowed: ancestral | ddim | dpmpp``. Each field's rule is
declared beside the field (``checked(default, rule)``, :mod:`samuel_pl.config.checks`); the
choices owned by a registry (samplers, spacings, loss weightings, mixing schedules, codec types,
data sources) are asked of it; a section's checks that span fields are its ``cross_problems``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
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
    cross = getattr(cfg, "cross_problems", None)  # checks that span fields, beside them
    if cross is not None:
        yield from cross(prefix.rstrip("."))


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
