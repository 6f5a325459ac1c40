"""The Generator protocol and the builder keyed on ``GeneratorConfig.type``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from samuel_pl.config.suite import GeneratorConfig
from samuel_pl.errors import SamuelError

if TYPE_CHECKING:
    from samuel_pl.baselines.retrieval import TrainSet


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


def build_generators(
    configs: list[GeneratorConfig],
    references: dict[str, np.ndarray],
    default_ckpt: str | None,
    seed: int,
    train: TrainSet | Callable[[], TrainSet] | None = None,
) -> list[Generator]:
    """One generator per config; ``references`` maps song id -> real accompaniment (1, N).

    ``train``: the training accompaniments the ``retrieval`` generator searches (or a callable
    that builds them on first use).
    """
    from samuel_pl.baselines.reference import FolderGenerator, GroundTruth, RandomPairing

    out: list[Generator] = []
    for g in configs:
        if g.type == "samuel":
            from samuel_pl.baselines.samuel import SamuelGenerator

            ckpt = g.ckpt or default_ckpt
            if not ckpt:
                raise SamuelError("the samuel generator needs a checkpoint: pass --ckpt CKPT")
            out.append(
                SamuelGenerator(ckpt, g.sampler, g.steps, g.cfg, seed, g.name, spacing=g.spacing)
            )
        elif g.type == "ground_truth":
            out.append(GroundTruth(references, g.name))
        elif g.type == "random_pairing":
            out.append(RandomPairing(references, seed, g.name))
        elif g.type == "folder":
            out.append(FolderGenerator(g.path, list(references), g.name))
        elif g.type == "musicgen":
            from samuel_pl.baselines.musicgen import MUSICGEN_KEYS, MusicgenMelodyGenerator

            kwargs = {k: getattr(g, k) for k in MUSICGEN_KEYS}
            out.append(MusicgenMelodyGenerator(g.path, seed=seed, name=g.name, **kwargs))
        elif g.type == "retrieval":
            from samuel_pl.baselines.retrieval import RetrievalGenerator

            if train is None:
                raise SamuelError("the retrieval generator needs the training split (train=...)")
            out.append(RetrievalGenerator(train, g.align_beats, g.name))
        else:
            raise SamuelError(
                f"unknown generator type {g.type!r}; choose samuel, ground_truth, "
                "random_pairing, folder, musicgen or retrieval"
            )
    return out
