"""Generators compared by the evaluation suite: SAMUeL, references, external folders,
retrieval of training accompaniments and MusicGen-melody (``samuel_pl.baselines.musicgen``,
imported on use: it needs ``pip install samuel_pl[baselines]``)."""

from samuel_pl.baselines.base import Generator, fit_length
from samuel_pl.baselines.generator_registry import build_generators
from samuel_pl.baselines.reference import FolderGenerator, GroundTruth, RandomPairing
from samuel_pl.baselines.retrieval import RetrievalGenerator, TrainSet

__all__ = [
    "FolderGenerator",
    "Generator",
    "GroundTruth",
    "RandomPairing",
    "RetrievalGenerator",
    "TrainSet",
    "build_generators",
    "fit_length",
]
