"""Generators compared by the evaluation suite: SAMUeL, references, external folders."""

from samuel_pl.baselines.base import Generator, build_generators, fit_length
from samuel_pl.baselines.reference import FolderGenerator, GroundTruth, RandomPairing

__all__ = [
    "FolderGenerator",
    "Generator",
    "GroundTruth",
    "RandomPairing",
    "build_generators",
    "fit_length",
]
