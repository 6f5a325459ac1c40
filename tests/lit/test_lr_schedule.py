"""Warmup + cosine learning-rate multiplier."""

import math

import pytest

from samuel_pl.lit.lr_schedule import warmup_cosine


def test_warmup_is_linear_then_cosine_reaches_floor() -> None:
    assert warmup_cosine(0, 10, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100, 0.1) == pytest.approx(1.0)
    mid = warmup_cosine(55, 10, 100, 0.1)
    assert mid == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert warmup_cosine(100, 10, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(500, 10, 100, 0.1) == pytest.approx(0.1)


def test_monotone_decay_after_warmup() -> None:
    vals = [warmup_cosine(s, 5, 50, 0.0) for s in range(5, 51)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))
