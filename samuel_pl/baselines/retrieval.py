"""Retrieval baseline: the training accompaniment closest in key/chroma and tempo to the vocal,
time-stretched to the vocal's tempo and shifted so that a beat lands on the vocal's first beat.

Each training accompaniment is analysed once (mean chroma, Krumhansl-Schmuckler key, librosa
tempo and beats). The distance of a vocal to a training song is
``(1 - cos(mean chroma)) + (1 - key_agreement) + 0.5 |log2(tempo ratio)|`` (tempo counts
less: the excerpt is stretched to the vocal's tempo anyway); the song with the same
id as the query is excluded, so evaluating on the training split does not return the answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import librosa
import numpy as np

from samuel_pl.audio import resample
from samuel_pl.baselines.base import fit_length
from samuel_pl.config.schema import DataConfig
from samuel_pl.errors import DataError
from samuel_pl.metrics.alignment import HOP, SR, cqt_chroma, estimate_key, key_agreement

MIN_RATE, MAX_RATE = 0.5, 2.0
TEMPO_WEIGHT = 0.5


@dataclass(frozen=True)
class Profile:
    """A clip's mean chroma ``(12,)``, key, tempo (BPM), beat times and duration (s)."""

    chroma: np.ndarray
    key: tuple[int, str]
    tempo: float
    beats: np.ndarray
    seconds: float


def analyse(audio: np.ndarray, sample_rate: int) -> Profile:
    """Profile of mono audio ``(N,)`` or ``(1, N)`` (analysed at 22.05 kHz like the metrics)."""
    y = resample(np.asarray(audio, np.float32).reshape(1, -1), sample_rate, SR)[0]
    chroma = cqt_chroma(y)  # (12, T)
    mean = chroma.mean(axis=1)  # (12,)
    mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
    env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP)
    tonic, mode, _ = estimate_key(chroma)
    return Profile(
        chroma=mean,
        key=(tonic, mode),
        tempo=float(np.atleast_1d(tempo)[0]),
        beats=librosa.frames_to_time(beats, sr=SR, hop_length=HOP),
        seconds=len(y) / SR,
    )


def distance(query: Profile, candidate: Profile) -> float:
    """Chroma + key + tempo distance (0 for identical profiles)."""
    cos = float(query.chroma @ candidate.chroma)
    ratio = max(query.tempo, 1e-6) / max(candidate.tempo, 1e-6)
    key = 1.0 - key_agreement(query.key, candidate.key)
    return (1.0 - cos) + key + TEMPO_WEIGHT * abs(float(np.log2(ratio)))


@dataclass(frozen=True)
class Match:
    """The retrieved training song, the time-stretch rate and where its excerpt starts (s)."""

    song_id: str
    rate: float
    start_s: float
    distance: float


class TrainSet:
    """Training accompaniments by id: ``load(song_id) -> (1, N)`` mono at ``sample_rate``."""

    def __init__(self, ids: list[str], load: Callable[[str], np.ndarray], sample_rate: int) -> None:
        self.ids, self._load, self.sample_rate = list(ids), load, sample_rate

    def load(self, song_id: str) -> np.ndarray:
        return self._load(song_id)

    @classmethod
    def from_arrays(cls, songs: dict[str, np.ndarray], sample_rate: int) -> TrainSet:
        """In-memory accompaniments (tests, small sets)."""
        return cls(sorted(songs), lambda s: songs[s], sample_rate)

    @classmethod
    def from_data(cls, data: DataConfig, sample_rate: int) -> TrainSet:
        """The ``train`` split of a stem source (songs are read when first needed)."""
        from samuel_pl.data.sources import build_source

        source = build_source(data)
        songs = {s.song_id: s for s in source.songs("train")}

        def load(song_id: str) -> np.ndarray:
            return source.load_pair(songs[song_id], sample_rate, 1)[1]

        return cls(sorted(songs), load, sample_rate)


class RetrievalGenerator:
    """Nearest training accompaniment (key/chroma, tempo), stretched and beat-aligned.

    Args:
        train: the training accompaniments, or a zero-argument callable that builds them
            (so that building the generator reads nothing).
        align_beats: start the excerpt so that one of its beats falls on the vocal's first beat.
    """

    parameters = None

    def __init__(
        self, train: TrainSet | Callable[[], TrainSet], align_beats: bool = True, name: str = ""
    ) -> None:
        self._train = train
        self.align_beats = align_beats
        self.name = name or "retrieval"
        self._profiles: dict[str, Profile] | None = None

    @property
    def train(self) -> TrainSet:
        if not isinstance(self._train, TrainSet):
            self._train = self._train()
        return self._train

    @property
    def cache_key(self) -> str:
        ids = "\n".join(self.train.ids).encode("utf-8", "surrogateescape")
        ids = hashlib.sha1(ids).hexdigest()[:12]
        return f"{self.name}:{ids}:{self.align_beats}:cqt-chroma"

    def available(self) -> tuple[bool, str]:
        try:
            n = len(self.train.ids)
        except Exception as e:  # a missing or unreadable source
            return False, f"no training split to retrieve from: {e}"
        return (True, "") if n else (False, "the training split has no songs")

    @property
    def profiles(self) -> dict[str, Profile]:
        """Profile of every training accompaniment (computed once)."""
        if self._profiles is None:
            sr = self.train.sample_rate
            self._profiles = {s: analyse(self.train.load(s), sr) for s in self.train.ids}
        return self._profiles

    def match(self, vocals: np.ndarray, sample_rate: int, song_id: str = "") -> Match:
        """Retrieve for a vocal ``(C, N)``: the nearest training song other than ``song_id``."""
        mono = np.asarray(vocals, np.float32).reshape(-1, vocals.shape[-1]).mean(0)  # (N,)
        query = analyse(mono, sample_rate)
        candidates = {s: p for s, p in self.profiles.items() if s != song_id}
        if not candidates:
            raise DataError(f"retrieval: no training song other than {song_id}")
        best = min(candidates, key=lambda s: distance(query, candidates[s]))
        cand = candidates[best]
        rate = float(np.clip(query.tempo / max(cand.tempo, 1e-6), MIN_RATE, MAX_RATE))
        # Excerpt of n * rate source seconds from the middle of the song: after stretching by
        # ``rate`` it lasts as long as the vocal.
        src_s = len(mono) / sample_rate * rate
        start = max(0.0, (cand.seconds - src_s) / 2)
        if self.align_beats and len(query.beats) and len(cand.beats):
            # a source beat at start + first_vocal_beat * rate lands on the vocal's first beat
            offset = float(query.beats[0]) * rate
            later = cand.beats[cand.beats >= start + offset]
            beat = later[0] if len(later) else cand.beats[-1]
            start = max(0.0, float(beat) - offset)
        return Match(best, rate, start, distance(query, cand))

    def render(self, match: Match, n: int, sample_rate: int) -> np.ndarray:
        """The matched excerpt stretched by ``match.rate``: mono ``(1, n)`` at ``sample_rate``."""
        acc = resample(self.train.load(match.song_id).reshape(1, -1), self.train.sample_rate,
                       sample_rate)[0]  # fmt: skip
        i0 = int(round(match.start_s * sample_rate))
        need = int(np.ceil(n * match.rate)) + 2048  # margin for the stretcher's edges
        excerpt = acc[i0 : i0 + need]
        if len(excerpt) < 4096:
            return np.zeros((1, n), np.float32)
        stretched = librosa.effects.time_stretch(excerpt, rate=match.rate)
        return fit_length(stretched, n)

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        """vocals ``(C, N)`` -> the retrieved accompaniment ``(1, N)`` at ``sample_rate``."""
        return self.render(self.match(vocals, sample_rate, song_id), vocals.shape[-1], sample_rate)
