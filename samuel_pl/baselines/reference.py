"""Reference generators: ground truth (upper bound), random pairing (lower bound), a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samuel_pl.audio import read_audio
from samuel_pl.baselines.base import fit_length
from samuel_pl.errors import DataError

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")


class GroundTruth:
    """Returns the song's real accompaniment: what a perfect generator would score."""

    parameters = None

    def __init__(self, references: dict[str, np.ndarray], name: str = "") -> None:
        self.references = references
        self.name = name or "ground_truth"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        return fit_length(self.references[song_id], vocals.shape[-1])


class RandomPairing:
    """Returns another song's real accompaniment (a seeded derangement): real music that does
    not fit the vocal. Alignment metrics must rank it below the ground truth."""

    parameters = None

    def __init__(self, references: dict[str, np.ndarray], seed: int = 0, name: str = "") -> None:
        self.references = references
        self.name = name or "random_pairing"
        ids = sorted(references)
        rng = np.random.default_rng(seed)
        shift = int(rng.integers(1, len(ids))) if len(ids) > 1 else 0
        self.partner = {s: ids[(i + shift) % len(ids)] for i, s in enumerate(ids)}

    def available(self) -> tuple[bool, str]:
        if len(self.references) < 2:
            return False, "random pairing needs at least 2 songs"
        return True, ""

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        return fit_length(self.references[self.partner[song_id]], vocals.shape[-1])


class FolderGenerator:
    """Accompaniments generated elsewhere (Jukebox, any tool): ``<folder>/<song_id>.<ext>``."""

    parameters = None

    def __init__(self, folder: str, song_ids: list[str], name: str = "") -> None:
        self.folder = Path(folder)
        self.song_ids = song_ids
        self.name = name or f"folder:{self.folder.name}"

    def _find(self, song_id: str) -> Path | None:
        for ext in AUDIO_EXTS:
            p = self.folder / f"{song_id}{ext}"
            if p.is_file():
                return p
        return None

    def available(self) -> tuple[bool, str]:
        if not self.folder.is_dir():
            return False, f"{self.folder}: folder not found"
        missing = [s for s in self.song_ids if self._find(s) is None]
        if missing:
            return False, f"{self.folder}: missing {len(missing)} songs, e.g. {missing[0]}"
        return True, ""

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        path = self._find(song_id)
        if path is None:
            raise DataError(f"{self.folder}: no accompaniment for song {song_id}")
        audio, _ = read_audio(path, sample_rate=sample_rate, channels=1)
        return fit_length(audio, vocals.shape[-1])
