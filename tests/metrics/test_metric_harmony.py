"""Harmonic-fit metrics on synthetic signals whose answer is known from the intervals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samuel_pl.audio import resample
from samuel_pl.metrics.harmony import HARMONY_KEYS, HarmonicFitMetric, analyse_vocal, harmonic_fit

SR = 22050
# A melody in C major (E F G A G F E D) harmonised note by note with lower voices a third, fifth
# or sixth away: every accompaniment pitch class is consonant with its melody note.
MELODY = [64, 65, 67, 69, 67, 65, 64, 62]
CHORDS = [
    [48, 55, 60], [50, 53, 57], [48, 52, 55], [53, 57, 60],
    [48, 52, 55], [50, 57, 62], [45, 48, 57], [47, 50, 55],
]  # fmt: skip


def _notes(chords: list[list[int]], seconds: float, harmonics: tuple[int, ...] = (1,)):
    """Concatenated notes of ``seconds`` each (sines with 10 ms fades), peak about 0.3."""
    t = np.arange(int(seconds * SR)) / SR
    env = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (seconds - t) / 0.01)
    out = []
    for midis in chords:
        freqs = [440.0 * 2 ** ((m - 69) / 12) for m in midis]
        out.append(env * sum(np.sin(2 * np.pi * f * h * t) / h for f in freqs for h in harmonics))
    y = np.concatenate(out)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module")
def melody() -> np.ndarray:
    return _notes([[m] for m in MELODY], 1.0, harmonics=(1, 2, 3))


@pytest.fixture(scope="module")
def held_e() -> np.ndarray:
    return _notes([[64]] * 6, 1.0, harmonics=(1, 2, 3))  # E4 (pitch class 4) for 6 s


def test_metric_harmony_triad_under_a_melody_note(held_e) -> None:
    """C major triad under E: C, E, G sit a sixth, a unison and a third from E: share ~1."""
    s = harmonic_fit(held_e, _notes([[48, 52, 55]] * 6, 1.0), SR)
    assert set(s) == {*HARMONY_KEYS, "silent"} and s["silent"] == 0.0
    assert s["consonance_share"] > 0.9
    # without the unison only C and G count: 2 of the 3 equally loud notes
    assert s["consonance_share_no_unison"] == pytest.approx(2 / 3, abs=0.05)


@pytest.mark.parametrize(
    ("triad", "expected"),
    [
        ([49, 53, 56], 2 / 3),  # C# F G# under E: major sixth, minor second, major third
        ([47, 51, 54], 1 / 3),  # B D# F# under E: fourth below (a fifth above), 7th, 9th
    ],
)
def test_metric_harmony_triad_a_semitone_off(held_e, triad, expected) -> None:
    s = harmonic_fit(held_e, _notes([triad] * 6, 1.0), SR)
    assert s["consonance_share"] == pytest.approx(expected, abs=0.08)


def test_metric_harmony_silence_is_a_failure(held_e) -> None:
    """An empty accompaniment fits nothing: share, gains and key fit 0 (not NaN, not chance)."""
    failed = dict.fromkeys(HARMONY_KEYS, 0.0) | {"silent": 1.0}
    assert harmonic_fit(held_e, np.zeros_like(held_e), SR) == failed
    hiss = np.random.default_rng(0).normal(0, 1e-5, held_e.shape).astype(np.float32)
    assert harmonic_fit(held_e, hiss, SR) == failed  # -100 dBFS noise is silence
    short = harmonic_fit(held_e[: 3 * SR], np.zeros(3 * SR, np.float32), SR)
    assert short["consonance_share"] == 0.0 and np.isnan(short["consonance_gain"])  # < 4 s
    # an unvoiced vocal leaves every score undefined, whatever the accompaniment
    s = harmonic_fit(np.zeros_like(held_e), _notes([[48, 52, 55]] * 6, 1.0), SR)
    assert all(np.isnan(s[k]) for k in HARMONY_KEYS), s
    s = harmonic_fit(np.zeros_like(held_e), np.zeros_like(held_e), SR)
    assert all(np.isnan(s[k]) for k in HARMONY_KEYS), s


def test_metric_harmony_following_beats_a_drone(melody) -> None:
    """A harmonisation that moves with the melody gains over its time shifts; a drone does not."""
    va = analyse_vocal(melody, SR)
    follow = harmonic_fit(melody, _notes(CHORDS, 1.0), SR, va)
    drone = harmonic_fit(melody, _notes([[48, 55]] * 8, 1.0), SR, va)
    assert follow["consonance_share"] > 0.9
    assert follow["consonance_gain"] > 0.15
    assert follow["consonance_gain_no_unison"] > 0.15
    assert drone["consonance_share"] > 0.6  # C and G are consonant with most of the melody...
    assert abs(drone["consonance_gain"]) < 0.02  # ...but a drone gains nothing from timing
    assert abs(drone["consonance_gain_no_unison"]) < 0.02
    shifted = harmonic_fit(melody, _notes([[m + 1 for m in c] for c in CHORDS], 1.0), SR, va)
    assert shifted["consonance_share"] < 0.5
    assert shifted["consonance_gain"] < 0


def test_metric_harmony_melody_copy_fails_without_unison(melody) -> None:
    copy = harmonic_fit(melody, melody, SR)
    follow = harmonic_fit(melody, _notes(CHORDS, 1.0), SR)
    assert copy["consonance_share"] > 0.9  # the fooled score
    assert copy["consonance_share_no_unison"] < 0.3
    assert copy["consonance_gain_no_unison"] < 0 < follow["consonance_gain_no_unison"]


def test_metric_harmony_key_fit(melody) -> None:
    """The C major melody fits C major chords, not the same chords a tritone away."""
    va = analyse_vocal(melody, SR)
    in_key = harmonic_fit(melody, _notes(CHORDS, 1.0), SR, va)["key_fit"]
    tritone = harmonic_fit(melody, _notes([[m + 6 for m in c] for c in CHORDS], 1.0), SR, va)
    assert in_key > 0.4
    assert tritone["key_fit"] < 0


def test_metric_harmony_reuses_the_vocal_analysis_and_resamples(melody, monkeypatch) -> None:
    from samuel_pl.metrics import harmony

    acc = _notes(CHORDS, 1.0)
    direct = harmonic_fit(melody, acc, SR)
    # a given analysis is used as is (pyin does not run again): the analysis of the melody a
    # tritone away scores the same audio as that melody would
    tritone = analyse_vocal(_notes([[m + 6] for m in MELODY], 1.0, harmonics=(1, 2, 3)), SR)
    monkeypatch.setattr(harmony, "analyse_vocal", lambda v, sr: pytest.fail("pyin ran again"))
    reused = harmonic_fit(melody, acc, SR, tritone)
    assert reused["consonance_share"] < direct["consonance_share"] - 0.3
    assert reused["key_fit"] < 0 < direct["key_fit"]
    monkeypatch.undo()
    # the same audio at 16 kHz (read at 22.05 kHz it would sound 5.6 semitones higher)
    v16, a16 = (resample(x[None], SR, 16000)[0] for x in (melody, acc))
    at16 = harmonic_fit(v16, a16, 16000)
    assert at16["consonance_share"] == pytest.approx(direct["consonance_share"], abs=0.03)


def test_metric_harmony_metric_averages_and_skips_undefined(melody) -> None:
    follow, drone = _notes(CHORDS, 1.0), _notes([[48, 55]] * 8, 1.0)
    metric = HarmonicFitMetric(sample_rate=SR)
    metric.update(
        torch.from_numpy(np.stack([follow, drone])), vocals=torch.from_numpy(np.stack([melody] * 2))
    )
    # silent: a failure (0) in the mean, and counted
    metric.update([np.zeros_like(melody)], vocals=[melody])
    # an unvoiced vocal: undefined, left out of the mean
    metric.update([follow], vocals=[np.zeros_like(melody)])
    out = metric.compute()
    s0, s1 = harmonic_fit(melody, follow, SR), harmonic_fit(melody, drone, SR)
    assert set(out) == {*HARMONY_KEYS, "silent_outputs"}
    for k in HARMONY_KEYS:
        assert float(out[k]) == pytest.approx((s0[k] + s1[k] + 0.0) / 3)
    assert float(out["silent_outputs"]) == 1.0
    assert set(metric.per_clip()) == set(HARMONY_KEYS)
    assert metric.notes() and metric.notes()[0].startswith("1 silent accompaniment")


def test_metric_harmony_vocal_analyses_run_pyin_once_per_vocal(melody, monkeypatch) -> None:
    from samuel_pl.metrics import harmony

    calls = []
    real = harmony.analyse_vocal
    monkeypatch.setattr(harmony, "analyse_vocal", lambda v, sr: calls.append(len(v)) or real(v, sr))
    cache = harmony.VocalAnalyses()
    first = cache.get(melody, SR)
    assert cache.get(melody.copy(), SR) is first  # same samples: the same analysis
    assert cache.get(melody[: SR * 2], SR) is not first
    a, b = (HarmonicFitMetric(sample_rate=SR, analyses=cache) for _ in range(2))
    a.update([melody], vocals=[melody])
    b.update([np.zeros_like(melody)], vocals=[melody])
    assert calls == [len(melody), SR * 2]


def test_consonance_gain_shifts_whole_seconds_from_2_s_to_length_minus_2_s(
    melody, monkeypatch
) -> None:
    """The time-shift grid, by hand: 43.066 frames/s (22050 / 512); an 8 s clip has 345 chroma
    frames (8.011 s), so shifts of 2..6 s: 86.13, 129.20, 172.27, 215.33, 258.40 frames."""
    from samuel_pl.metrics import harmony

    assert harmony.shift_frames(345) == [86, 129, 172, 215, 258]
    assert harmony.shift_frames(173) == [86]  # 4.017 s: one shift of 2 s
    assert harmony.shift_frames(172) == []  # 3.994 s: no gain
    used: list[int] = []
    roll = np.roll
    monkeypatch.setattr(
        harmony.np,
        "roll",
        lambda a, shift, axis=None: (
            (np.shape(a)[0] == 12 and axis == 1 and used.append(shift)) or roll(a, shift, axis)
        ),
    )
    harmonic_fit(melody, _notes(CHORDS, 1.0), SR)
    grid = [s for s in used if s > 0]  # (librosa rolls a chroma by -1 once)
    assert grid == [86, 129, 172, 215, 258] * 2  # with and without the unison
