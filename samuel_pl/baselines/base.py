"""The Generator protocol every baseline implements, and ``fit_length`` (mono, trim/pad).

The builder keyed on ``GeneratorConfig.type`` is :mod:`samuel_pl.baselines.generator_registry`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Generator(Protocol):
    """Makes an accompaniment for a vocal clip.

    ``generate(vocals (C, N), sample_rate, song_id) -> (1, N)`` at the same rate and length.
    """

    name: str

    @property
    def parameters(self) -> int | None:
        """Parameter count, or None for generators without a network (references, folders)."""
        ...

    def available(self) -> tuple[bool, str]:
        """(True, "") or (False, reason) when it cannot run here."""
        ...

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray: ...


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Mono (1, n): downmix, then trim or zero-pad to ``n`` samples."""
    a = np.asarray(audio, dtype=np.float32)
    a = a[None] if a.ndim == 1 else a.mean(axis=0, keepdims=True)  # (1, N)
    if a.shape[1] >= n:
        return a[:, :n]
    return np.pad(a, ((0, 0), (0, n - a.shape[1])))
