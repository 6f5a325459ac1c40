"""The generator registry: one :class:`Generator` per ``GeneratorConfig`` (keyed on ``type``).

SAMUeL (it loads Lightning and a checkpoint) and MusicGen (the ``baselines`` extra) are imported
on use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from samuel_pl.baselines.base import Generator
from samuel_pl.baselines.reference import FolderGenerator, GroundTruth, RandomPairing
from samuel_pl.baselines.retrieval import RetrievalGenerator, TrainSet
from samuel_pl.config.suite import GeneratorConfig
from samuel_pl.errors import SamuelError


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
    out: list[Generator] = []
    for g in configs:
        if g.type == "samuel":
            from samuel_pl.baselines.samuel import SamuelGenerator

            ckpt = g.ckpt or default_ckpt
            if not ckpt:
                raise SamuelError("the samuel generator needs a checkpoint: pass --ckpt CKPT")
            out.append(
                SamuelGenerator(
                    ckpt,
                    g.sampler,
                    g.steps,
                    g.cfg,
                    seed,
                    g.name,
                    spacing=g.spacing,
                    window=g.window,
                    vocoder=g.vocoder,
                    spectral_prior=g.spectral_prior,
                )
            )
        elif g.type == "codec_round_trip":
            from samuel_pl.baselines.codec import round_trip_for

            ckpt = g.ckpt or default_ckpt
            if not ckpt:
                raise SamuelError("the codec_round_trip row needs a checkpoint: pass --ckpt CKPT")
            out.append(round_trip_for(references, ckpt, g.vocoder, g.name))
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
            if train is None:
                raise SamuelError("the retrieval generator needs the training split (train=...)")
            out.append(RetrievalGenerator(train, g.align_beats, g.name))
        else:
            raise SamuelError(
                f"unknown generator type {g.type!r}; choose samuel, codec_round_trip, "
                "ground_truth, random_pairing, folder, musicgen or retrieval"
            )
    return out
