"""Realism metrics on synthetic signals whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from samuel_pl.metrics import REALISM_KEYS, RealismMetric, realism_scores
from samuel_pl.metrics.realism import octave_edges

SR = 22050


def _tone(hz: float, seconds: float = 3.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.1)  # no clicks at the clip's edges
    return (amp * fade * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _clicks(seconds: float = 3.0, every: float = 0.25, smear_s: float = 0.0) -> np.ndarray:
    """Decaying noise bursts every ``every`` s; ``smear_s`` > 0 fades each one in over that."""
    rng = np.random.default_rng(0)
    y = np.zeros(int(seconds * SR), np.float32)
    n = int(0.2 * SR)
    env = np.exp(-np.arange(n) / (0.02 * SR))
    if smear_s:
        ramp = np.minimum(1.0, np.arange(n) / (smear_s * SR))
        env = ramp * np.exp(-np.maximum(np.arange(n) - smear_s * SR, 0) / (0.02 * SR))
    for start in range(0, y.size - n, int(every * SR)):
        y[start : start + n] += (0.3 * env * rng.standard_normal(n)).astype(np.float32)
    return y


def test_octave_edges_double_from_31_hz_and_stop_at_nyquist() -> None:
    assert octave_edges(SR).tolist() == [31.25, 62.5, 125, 250, 500, 1000, 2000, 4000, 8000, 11025]


def test_the_real_accompaniment_itself_scores_zero_error_at_any_level() -> None:
    real = _tone(440) + _tone(1500, amp=0.1) + _clicks()
    s = realism_scores(0.05 * real, real, SR)  # same music, 26 dB quieter
    assert s["band_error_db"] == pytest.approx(0.0, abs=1e-6)
    assert s["hf_level_db"] == pytest.approx(0.0, abs=1e-6)
    loud = realism_scores(real, real, SR)
    assert s["onset_sharpness"] == pytest.approx(loud["onset_sharpness"], rel=1e-6)


def test_band_error_of_a_tone_split_over_two_octaves() -> None:
    real = _tone(1414)  # the 1-2 kHz octave only
    both = _tone(1414) + _tone(5657)  # half the energy moved to the 4-8 kHz octave
    s = realism_scores(both, real, SR)
    bands = len(octave_edges(SR)) - 1
    # the 1-2 kHz band drops 3.01 dB; the 4-8 kHz band rises from the -80 dB floor to -3.01 dB
    expected = (10 * math.log10(2) + (80 - 10 * math.log10(2))) / bands
    assert s["band_error_db"] == pytest.approx(expected, abs=0.3)
    assert s["hf_share"] == pytest.approx(0.5, abs=0.01)


def test_white_noise_share_above_4khz_and_a_lowpass_level() -> None:
    rng = np.random.default_rng(1)
    noise = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    s = realism_scores(noise, noise, SR)
    assert s["hf_share"] == pytest.approx((SR / 2 - 4000) / (SR / 2), abs=0.01)
    spec = np.fft.rfft(noise)
    spec[np.fft.rfftfreq(noise.size, 1 / SR) > 3800] = 0
    dull = np.fft.irfft(spec, noise.size).astype(np.float32)
    low = realism_scores(dull, noise, SR)
    assert low["hf_level_db"] < -25 and low["hf_level_error_db"] == -low["hf_level_db"]
    assert low["band_error_db"] > 5


def test_onset_sharpness_prefers_sharp_attacks_and_sustained_share_prefers_held_tones() -> None:
    sharp, smeared = _clicks(), _clicks(smear_s=0.1)
    a, b = realism_scores(sharp, sharp, SR), realism_scores(smeared, sharp, SR)
    assert a["onset_sharpness"] > 1.5 * b["onset_sharpness"]
    held = realism_scores(_tone(440) + _tone(660), sharp, SR)["harmonic_share"]
    assert held > 0.95 and a["harmonic_share"] < 0.5


def test_silent_clip_scores_nan() -> None:
    s = realism_scores(np.zeros(SR, np.float32), _tone(440), SR)
    assert all(math.isnan(s[k]) for k in REALISM_KEYS)


def test_realism_metric_keeps_per_clip_scores_and_needs_targets() -> None:
    real, dull = _tone(440) + _tone(6000), _tone(440)
    m = RealismMetric(SR, n_boot=20, seed=0)
    m.update([real[None], dull[None]], [real[None], real[None]])
    per = m.per_clip()
    assert per["band_error_db"][0] == pytest.approx(0.0, abs=1e-6)
    assert per["hf_level_db"][1] < -40
    assert float(m.compute()["hf_share"]) == pytest.approx(np.mean(per["hf_share"]))
    with pytest.raises(ValueError, match="needs targets"):
        RealismMetric(SR).update([real])
