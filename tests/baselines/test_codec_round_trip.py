"""codec_round_trip: the real accompaniment through a codec, and one row per decoder."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from samuel_pl.baselines.codec import CodecRoundTrip, decoder_label, round_trips_for
from samuel_pl.codecs.mel import MelCodec

SR = 22050


def _tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None]  # (1, N)


def test_round_trip_keeps_the_tone_and_loses_what_the_codec_drops() -> None:
    ref = _tone(440) + _tone(6000)
    # a mel codec up to 2 kHz keeps 440 Hz and drops 6 kHz
    codec = MelCodec(sample_rate=SR, n_mels=32, f_max=2000.0, griffin_lim_iters=16).eval()
    out = CodecRoundTrip({"s": ref}, codec).generate(np.zeros((2, ref.shape[1])), SR, "s")
    assert out.shape == ref.shape
    spec = np.abs(np.fft.rfft(out[0]))
    freqs = np.fft.rfftfreq(out.shape[1], 1 / SR)
    near = lambda f: spec[np.abs(freqs - f) < 30].max()  # noqa: E731
    assert near(440) > 100 * near(6000)  # 40 dB: the codec's band only
    real = np.abs(np.fft.rfft(ref[0]))
    assert near(440) > 0.3 * real[np.abs(freqs - 440) < 30].max()


def _samuel_row(codec: MelCodec, name: str) -> SimpleNamespace:
    return SimpleNamespace(
        name=name, cache_key=f"{name}:x", accompanist=SimpleNamespace(codec=codec)
    )


def test_one_round_trip_row_per_codec_and_decoder() -> None:
    refs = {"s": _tone(440)}
    gl = MelCodec(sample_rate=SR, n_mels=16)
    assert decoder_label(gl) == "griffin-lim"
    vocoded = MelCodec(sample_rate=SR, n_mels=16)
    vocoded.vocoder = object()  # stands for a loaded vocoder: only its presence is read
    assert decoder_label(vocoded) == "vocoder"
    one = round_trips_for(refs, [_samuel_row(gl, "a"), _samuel_row(gl, "b"), object()])
    assert [r.name for r in one] == ["codec_round_trip"]
    two = round_trips_for(refs, [_samuel_row(gl, "a"), _samuel_row(vocoded, "b")])
    assert [r.name for r in two] == ["codec_round_trip-griffin-lim", "codec_round_trip-vocoder"]
    # a listed round trip of the same codec and decoder is not added twice
    listed = CodecRoundTrip(refs, gl, "mine")
    assert round_trips_for(refs, [listed, _samuel_row(gl, "a")]) == []
