"""Control rows and the validate section on synthetic signals and scores with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from samuel_pl.baselines import GroundTruth, RandomPairing
from samuel_pl.evaluation.controls import (
    GriffinLimOnly,
    LowPassed,
    PitchShifted,
    TonicTriad,
    VocalCopy,
    build_controls,
    triad_midis,
)
from samuel_pl.evaluation.metric_validity import validate_markdown, validation
from samuel_pl.metrics.alignment import cqt_chroma

SR = 22050


def _chord(midis: list[int], seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in midis)
    return (0.2 * y / len(midis)).astype(np.float32)[None]  # (1, N)


def _pitch_classes(audio: np.ndarray, k: int = 3) -> set[int]:
    """The ``k`` loudest pitch classes of a 22.05 kHz clip ``(1, N)``."""
    return {int(i) for i in np.argsort(cqt_chroma(audio[0]).sum(axis=1))[-k:]}


@pytest.mark.parametrize(("semitones", "expected"), [(1, {1, 5, 8}), (6, {6, 10, 1})])
def test_control_pitch_shift_transposes_and_keeps_the_length(semitones, expected) -> None:
    ref = _chord([48, 52, 55])  # C E G
    assert _pitch_classes(ref) == {0, 4, 7}
    out = PitchShifted({"s": ref}, semitones).generate(np.zeros_like(ref), SR, "s")
    assert out.shape == ref.shape
    assert _pitch_classes(out) == expected


def test_control_tonic_triad_is_the_vocal_key_at_the_accompaniment_level() -> None:
    assert triad_midis(9, "minor") == [57, 60, 64]  # A C E
    assert triad_midis(2, "major") == [50, 54, 57]  # D F# A
    ref = _chord([40, 47], seconds=3.0) * 0.5
    gen = TonicTriad({"s": ref}, key_of=lambda song: (9, "minor"))
    out = gen.generate(np.zeros_like(ref), SR, "s")
    assert out.shape == ref.shape
    assert _pitch_classes(out) == {9, 0, 4}
    rms = lambda x: math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))  # noqa: E731
    assert rms(out) == pytest.approx(rms(ref), rel=1e-3)
    # static: the second half sounds like the first
    half = out.shape[1] // 2
    a, b = (cqt_chroma(x)[:, 10:-10].mean(axis=1) for x in (out[0, :half], out[0, half:]))
    assert np.allclose(a / a.sum(), b / b.sum(), atol=0.01)


def test_control_vocal_copy_is_the_vocal() -> None:
    v = _chord([64], 1.0)
    assert np.array_equal(VocalCopy().generate(np.vstack([v, v]), SR, "s"), v)


def test_build_controls_reuses_the_suite_rows_and_adds_missing_ones() -> None:
    refs = {"a": _chord([48]), "b": _chord([50])}
    key = lambda song: (0, "major")  # noqa: E731
    own = [GroundTruth(refs, name="truth"), RandomPairing(refs, name="other")]
    controls, roles = build_controls(refs, key, 0, own)
    assert [c.name for c in controls] == [
        "control_pitch+1", "control_pitch+6", "control_vocal_copy", "control_tonic_triad",
        "control_lowpass", "control_griffin_lim",
    ]  # fmt: skip
    assert roles == {
        "ground_truth": "truth", "shuffled": "other", "pitch+1": "control_pitch+1",
        "pitch+6": "control_pitch+6", "vocal_copy": "control_vocal_copy",
        "tonic_triad": "control_tonic_triad", "lowpass": "control_lowpass",
        "griffin_lim": "control_griffin_lim",
    }  # fmt: skip
    controls, roles = build_controls(refs, key, 0, [])
    assert [c.name for c in controls[:2]] == ["ground_truth", "random_pairing"]
    assert (roles["ground_truth"], roles["shuffled"]) == ("ground_truth", "random_pairing")


ROLES = {
    "ground_truth": "gt", "shuffled": "sh", "pitch+1": "p1", "pitch+6": "p6",
    "vocal_copy": "vc", "tonic_triad": "tt",
}  # fmt: skip


def test_validation_cohen_d_orientation_and_expectations() -> None:
    # truth [1, 2, 3] (sd 1) against a control 1 lower (sd 1): d = 1 exactly
    one_lower = [0.0, 1.0, 2.0]
    per_song = {
        "gt": {"consonance_share": [1.0, 2.0, 3.0], "align_beat_f_measure": [1.0, 2.0, 3.0],
               "align_tempo_octave_error": [1.0, 2.0, 3.0]},
        "sh": {"consonance_share": one_lower, "align_beat_f_measure": one_lower,
               "align_tempo_octave_error": one_lower},
    }  # fmt: skip
    for row in ("p1", "p6", "vc", "tt"):
        per_song[row] = {
            "consonance_share": [0.5, 1.5, 2.5],  # d = 0.5: does not separate
            "align_beat_f_measure": [1.0, 2.0, 3.0],  # d = 0: rhythm ignores pitch
            "align_tempo_octave_error": [1.0, 2.0, 3.0],
        }
    checks = validation(per_song, ROLES)
    share, beat = checks["consonance_share"], checks["align_beat_f_measure"]
    assert share["family"] == "harmonic" and beat["family"] == "rhythm"
    assert share["d"]["shuffled"] == pytest.approx(1.0)
    assert share["d"]["pitch+1"] == pytest.approx(0.5)
    assert share["fails"] == ["pitch+1", "pitch+6", "vocal_copy", "tonic_triad"]
    assert beat["d"]["pitch+6"] == pytest.approx(0.0)
    assert beat["fails"] == ["tonic_triad"]  # no expectation against the vocal copy
    # a rhythm metric that prefers the transposed accompaniment sees pitch: flagged too
    per_song["gt"]["align_onset_f_measure"] = [1.0, 2.0, 3.0]
    for row, scores in (("sh", one_lower), ("p1", [2.0, 3.0, 4.0]), ("p6", [2.0, 3.0, 4.0])):
        per_song[row]["align_onset_f_measure"] = scores
    per_song["tt"]["align_onset_f_measure"] = one_lower
    onset = validation(per_song, ROLES)["align_onset_f_measure"]
    assert onset["d"]["pitch+1"] == pytest.approx(-1.0)
    assert onset["fails"] == ["pitch+1", "pitch+6"]
    # lower is better: the control's lower octave error is better, so d < 0
    assert checks["align_tempo_octave_error"]["d"]["shuffled"] == pytest.approx(-1.0)
    text = "\n".join(validate_markdown(checks, 3))
    assert "| consonance_share | harmonic | 1.00 | 0.50 ! |" in text
    assert "| align_beat_f_measure | rhythm | 1.00 | 0.00 | 0.00 | 0.00 | 0.00 ! |" in text


def test_validation_skips_undefined_scores() -> None:
    per_song = {row: {"key_fit": [0.1, 0.2, 0.3]} for row in ROLES.values()}
    per_song["gt"] = {"key_fit": [1.0, 2.0, 3.0, float("nan")]}
    d = validation(per_song, ROLES)["key_fit"]["d"]
    assert np.isfinite(d["shuffled"]) and d["shuffled"] > 1


def _band_rms(audio: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(audio[0]))
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / SR)
    return float(np.sqrt(np.mean(spec[(freqs >= lo) & (freqs < hi)] ** 2)))


def test_control_lowpass_removes_the_band_above_4khz_and_keeps_the_rest() -> None:
    t = np.arange(2 * SR) / SR
    ref = (0.3 * np.sin(2 * np.pi * 500 * t) + 0.3 * np.sin(2 * np.pi * 8000 * t))[None]
    out = LowPassed({"s": ref.astype(np.float32)}).generate(np.zeros_like(ref), SR, "s")
    assert out.shape == ref.shape
    # 8 kHz is an octave above the 8th-order cut: 48 dB down at least; 500 Hz untouched
    assert _band_rms(out, 7900, 8100) < 10 ** (-40 / 20) * _band_rms(ref, 7900, 8100)
    assert _band_rms(out, 450, 550) == pytest.approx(_band_rms(ref, 450, 550), rel=0.01)


def test_control_griffin_lim_keeps_the_magnitude_but_not_the_waveform() -> None:
    import librosa

    rng = np.random.default_rng(0)
    ref = _chord([48, 55, 64]) + 0.01 * rng.standard_normal((1, 2 * SR)).astype(np.float32)
    out = GriffinLimOnly({"s": ref}, seed=0).generate(np.zeros_like(ref), SR, "s")
    assert out.shape == ref.shape
    mag = lambda x: np.abs(librosa.stft(x[0], n_fft=2048, hop_length=512))  # noqa: E731
    convergence = np.linalg.norm(mag(out) - mag(ref)) / np.linalg.norm(mag(ref))
    assert convergence < 0.2
    # the phase is its own: the waveforms differ by far more than the magnitudes
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) > 0.5


def test_validation_realism_families_expect_the_control_that_lacks_what_they_measure() -> None:
    roles = {**ROLES, "lowpass": "lp", "griffin_lim": "gl"}
    per_song = {row: {} for row in roles.values()}
    truth, worse = [0.0, 0.5, 1.0], [3.0, 3.5, 4.0]  # band error: lower is better
    for row in roles.values():
        per_song[row]["band_error_db"] = truth
        per_song[row]["harmonic_share"] = [0.9, 0.95, 1.0]
    per_song["lp"]["band_error_db"] = worse
    checks = validation(per_song, roles)
    band, harm = checks["band_error_db"], checks["harmonic_share"]
    assert band["family"] == "realism: band balance" and band["d"]["lowpass"] > 1
    assert band["fails"] == ["griffin_lim"]  # the GL row scores like the truth: flagged
    # the sustained share expects only the Griffin-Lim row; the harmonic controls are not flagged
    assert harm["family"] == "realism: texture" and harm["fails"] == ["griffin_lim"]
    assert "pitch+1" not in harm["fails"] and "lowpass" not in harm["fails"]
