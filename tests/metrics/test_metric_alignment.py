"""Alignment metrics: true vocal/accompaniment pairs must beat shuffled pairs on synthetic songs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samuel_pl.metrics import (
    ALIGNMENT_KEYS,
    AlignmentMetric,
    alignment_scores,
    beat_f_measure,
    effect_size,
    key_agreement,
    true_vs_shuffled,
)

SR = 22050
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]


def _tone(midis: list[int], dur: float) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    env = np.exp(-6.0 * t) * np.minimum(1.0, t / 0.005)
    freqs = [440.0 * 2 ** ((m - 69) / 12) for m in midis]
    return env * sum(np.sin(2 * np.pi * f * h * t) / h**2 for f in freqs for h in (1, 2, 3))


def _song(tonic: int, mode: str, bpm: float, seed: int, seconds: float = 7.0):
    """Vocal: a sine melody on the beat from the key's scale; accompaniment: I-IV-V-I triads."""
    rng = np.random.default_rng(seed)
    scale = MAJOR if mode == "major" else MINOR
    beat, n = 60.0 / bpm, int(seconds * SR)
    vocal, acc = np.zeros(n), np.zeros(n)
    for b in range(int(seconds / beat)):
        root = (0, 3, 4, 0)[(b // 4) % 4]  # one chord per bar of 4 beats
        degree = (root + int(rng.choice([0, 2, 4, 0, 1]))) % 7 if b % 4 else 0
        note = _tone([60 + tonic + scale[degree]], beat)
        triad = [48 + tonic + scale[(root + k) % 7] + 12 * ((root + k) // 7) for k in (0, 2, 4)]
        chord = _tone(triad, beat)
        start = int(b * beat * SR)
        end = min(n, start + len(note))
        vocal[start:end] += note[: end - start]
        acc[start:end] += chord[: end - start]
    return (0.5 * vocal / np.abs(vocal).max()).astype(np.float32), (
        0.5 * acc / np.abs(acc).max()
    ).astype(np.float32)


# keys far apart on the circle of fifths, tempi with no 2x relation
SONGS = [(0, "major", 92), (6, "major", 120), (4, "minor", 141), (10, "major", 106)]


@pytest.fixture(scope="module")
def songs() -> list[tuple[np.ndarray, np.ndarray]]:
    return [_song(t, m, bpm, seed=i) for i, (t, m, bpm) in enumerate(SONGS)]


def test_metric_alignment_true_beats_shuffled(songs) -> None:
    res = true_vs_shuffled([s[0] for s in songs], [s[1] for s in songs], SR)
    for key in ("chroma_cosine", "key_agreement", "beat_f_measure", "tempo_agreement"):
        assert res[key]["true"] > res[key]["shuffled"], (key, res[key])
        assert res[key]["cohen_d"] > 0.5, (key, res[key])
    assert res["tempo_octave_error"]["true"] < res["tempo_octave_error"]["shuffled"]
    print({k: (round(v["true"], 3), round(v["shuffled"], 3)) for k, v in res.items()})


def test_metric_alignment_metric_averages(songs) -> None:
    (v0, a0), (v1, a1) = songs[0], songs[1]
    metric = AlignmentMetric(sample_rate=SR)
    metric.update(torch.from_numpy(np.stack([a0])), vocals=torch.from_numpy(np.stack([v0])))
    metric.update([a1], vocals=[v1])
    out = metric.compute()
    s0, s1 = alignment_scores(v0, a0, SR), alignment_scores(v1, a1, SR)
    assert set(out) == set(ALIGNMENT_KEYS)
    for k in ALIGNMENT_KEYS:
        assert float(out[k]) == pytest.approx((s0[k] + s1[k]) / 2)


def test_metric_alignment_silent_input_gives_nan_not_number() -> None:
    silent = np.zeros(SR * 3, np.float32)
    s = alignment_scores(silent, silent, SR)
    assert np.isnan(s["chroma_cosine"])
    assert s["beat_f_measure"] == 0.0


def test_metric_beat_f_measure_by_hand() -> None:
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    assert beat_f_measure(ref, ref + 0.05) == 1.0
    assert beat_f_measure(ref, ref + 0.09) == 0.0
    # 2 hits of 3 estimates against 4 references: P = 2/3, R = 1/2
    assert beat_f_measure(ref, np.array([1.02, 2.5, 2.97])) == pytest.approx(
        2 * (2 / 3) * 0.5 / (2 / 3 + 0.5)
    )
    # one estimate cannot match two references
    assert beat_f_measure(np.array([1.0, 1.05]), np.array([1.03])) == pytest.approx(2 / 3)
    assert beat_f_measure(ref, np.array([])) == 0.0


def test_metric_key_agreement_table() -> None:
    assert key_agreement((0, "major"), (0, "major")) == 1.0
    assert key_agreement((0, "major"), (9, "minor")) == 0.5  # C major / A minor (relative)
    assert key_agreement((9, "minor"), (0, "major")) == 0.5
    assert key_agreement((0, "major"), (7, "major")) == 0.5  # C / G
    assert key_agreement((0, "major"), (5, "major")) == 0.5  # C / F
    assert key_agreement((0, "major"), (6, "major")) == 0.0
    assert key_agreement((0, "major"), (0, "minor")) == 0.0


def test_metric_effect_size_by_hand() -> None:
    t, s = [3.0, 4.0, 5.0], [1.0, 2.0, 3.0]  # means 4 and 2, both sample sd 1
    assert effect_size(t, s) == pytest.approx(2.0)
    assert effect_size(s, t) == pytest.approx(-2.0)
    with pytest.raises(ValueError):
        effect_size([1.0], [2.0, 3.0])
