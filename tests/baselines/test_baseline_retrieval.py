"""Retrieval baseline on synthetic songs with distinct keys and tempi."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from samuel_pl.baselines.retrieval import Match, RetrievalGenerator, TrainSet, analyse

SR = 22050
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]


def _tone(midis: list[int], dur: float) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    env = np.exp(-6.0 * t) * np.minimum(1.0, t / 0.005)
    freqs = [440.0 * 2 ** ((m - 69) / 12) for m in midis]
    return env * sum(np.sin(2 * np.pi * f * h * t) / h**2 for f in freqs for h in (1, 2, 3))


def _song(tonic: int, mode: str, bpm: float, seconds: float = 8.0, seed: int = 0):
    """(vocal, accompaniment) mono (N,): a melody on the beat and I-IV-V-I triads in the key."""
    rng = np.random.default_rng(seed)
    scale = MAJOR if mode == "major" else MINOR
    beat, n = 60.0 / bpm, int(seconds * SR)
    vocal, acc = np.zeros(n), np.zeros(n)
    for b in range(int(seconds / beat)):
        root = (0, 3, 4, 0)[(b // 4) % 4]
        degree = (root + int(rng.choice([0, 2, 4]))) % 7
        triad = [48 + tonic + scale[(root + k) % 7] + 12 * ((root + k) // 7) for k in (0, 2, 4)]
        start = int(b * beat * SR)
        for out, note in (
            (vocal, _tone([60 + tonic + scale[degree]], beat)),
            (acc, _tone(triad, beat)),
        ):
            end = min(n, start + len(note))
            out[start:end] += note[: end - start]
    return (0.5 * vocal / np.abs(vocal).max()).astype(np.float32), (
        0.5 * acc / np.abs(acc).max()
    ).astype(np.float32)


# keys a major third apart (4 fifths on the circle), tempi with no 2x relation
TRAIN = {"c_major_92": (0, "major", 92), "e_major_120": (4, "major", 120),
         "ab_major_141": (8, "major", 141)}  # fmt: skip


@pytest.fixture(scope="module")
def generator() -> RetrievalGenerator:
    songs = {s: _song(*spec, seed=i)[1][None] for i, (s, spec) in enumerate(TRAIN.items())}
    return RetrievalGenerator(TrainSet.from_arrays(songs, SR))


def test_retrieval_picks_the_training_song_in_the_vocals_key(generator) -> None:
    for seed, (want, (tonic, mode, _)) in enumerate(TRAIN.items()):
        vocal, _ = _song(tonic, mode, 104, seconds=6.0, seed=10 + seed)  # another tempo
        match = generator.match(vocal[None], SR, song_id="query")
        assert match.song_id == want


def test_retrieval_excludes_the_query_song_itself(generator) -> None:
    vocal, _ = _song(4, "major", 120, seconds=6.0, seed=1)
    assert generator.match(vocal[None], SR, song_id="e_major_120").song_id != "e_major_120"


def test_retrieval_output_has_the_vocal_length_and_its_tempo(generator, monkeypatch) -> None:
    vocal, _ = _song(4, "major", 100, seconds=6.0, seed=3)
    match = generator.match(vocal[None], SR, song_id="query")
    expected = analyse(vocal, SR).tempo / generator.profiles[match.song_id].tempo
    assert match.rate == pytest.approx(np.clip(expected, 0.5, 2.0))
    assert abs(match.rate - 1.0) > 0.05  # 100 BPM against a 120 BPM song: a real stretch

    rates: list[float] = []
    stretch = librosa.effects.time_stretch

    def spy(y: np.ndarray, rate: float, **kw) -> np.ndarray:
        rates.append(rate)
        return stretch(y, rate=rate, **kw)

    monkeypatch.setattr(librosa.effects, "time_stretch", spy)
    out = generator.generate(vocal[None], SR, "query")
    assert rates == [match.rate]
    assert out.shape == (1, len(vocal)) and out.dtype == np.float32
    assert np.isfinite(out).all() and np.abs(out).max() > 0.01
    # The stretched accompaniment now has the vocal's tempo, not the training song's.
    got = analyse(out[0], SR).tempo
    assert abs(np.log2(got / analyse(vocal, SR).tempo)) < 0.06


def test_retrieval_render_stretches_by_the_rate(generator) -> None:
    n = 3 * SR
    for rate in (0.8, 1.25):
        out = generator.render(Match("e_major_120", rate, 1.0, 0.0), n, SR)
        assert out.shape == (1, n)
        assert analyse(out[0], SR).tempo == pytest.approx(120 * rate, rel=0.06)
