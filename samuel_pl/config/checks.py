"""The rules a config field's value must pass, declared beside the field.

A field with a rule is declared ``name: int = checked(10, POS)`` (or ``checked(rule=...,
factory=...)`` for a list); :func:`samuel_pl.config.validate.validate` reads the rule from the
field's metadata. A rule returns None when the value is allowed, else what is allowed, in words,
so every error is one line naming key, value and the allowed values. Choices owned by a
registry are asked of it (imported when first checked: no torch, no circle at import).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import MISSING, field
from typing import Any

Check = Callable[[Any], str | None]
"""A rule: None when the value is allowed, else what is allowed, in words."""


def checked(default: Any = MISSING, rule: Check | None = None, *, factory: Any = None) -> Any:
    """A dataclass field (``default``, or ``factory`` for a mutable default) checked by ``rule``."""
    meta = {"check": rule}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _lazy(module: str, name: str) -> Callable[[], tuple[str, ...]]:
    """Choices owned by ``module`` (its ``name``: a collection, or a function returning one),
    imported when first checked."""

    def get() -> tuple[str, ...]:
        obj = getattr(importlib.import_module(module), name)
        return tuple(obj() if callable(obj) else obj)

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


def odd_positive(v: Any) -> str | None:
    return None if int(v) >= 1 and int(v) % 2 else "an odd number >= 1"


def _sampling_rule(name: str) -> Check:
    """A rule of :mod:`samuel_pl.diffusion.plan`, the one home of the sampling settings' rules."""

    def check(v: Any) -> str | None:
        rule: Check = getattr(importlib.import_module("samuel_pl.diffusion.plan"), name)
        return rule(v)

    return check


POS = number(1)
NONNEG = number(0)
FRACTION = number(0, 1)
STEPS_OR_OFF = number(1, also=(-1,))
STEPS = _sampling_rule("steps_allowed")
GUIDANCE = _sampling_rule("guidance_allowed")
SAMPLER_NAMES = _lazy("samuel_pl.diffusion.samplers", "SAMPLERS")
SPACING_NAMES = _lazy("samuel_pl.diffusion.samplers", "SPACING_CHOICES")
SAMPLER = one_of(choices=SAMPLER_NAMES)
SPACING = one_of(choices=SPACING_NAMES)
MIX_SCHEDULE = one_of(choices=_lazy("samuel_pl.nn.attention_mixing", "MIX_SCHEDULES"))
LOSS_WEIGHT = one_of(choices=_lazy("samuel_pl.diffusion.objective", "LOSS_WEIGHTS"))
CODEC_TYPE = one_of(choices=_lazy("samuel_pl.codecs.registry", "codec_types"))
"""``codec.type``: what the codec registry builds (``register_codec`` adds to it)."""
DATA_SOURCE = one_of(choices=_lazy("samuel_pl.data.sources", "SOURCES"))
"""``data.source``: the stem sources of ``samuel_pl.data.sources``."""
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true")
ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps", "tpu")
