"""Mel codec: shapes, filterbank parity, round trip quality, Griffin-Lim convergence, codec ids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from samuel_pl.codecs import (
    LatentCodec,
    LatentFields,
    build_codec,
    config_hash,
    latent_fields,
    register_codec,
)
from samuel_pl.codecs import registry as codec_registry
from samuel_pl.codecs.fields import mel_identity
from samuel_pl.codecs.mel import MelCodec, mel_filterbank, spectral_convergence
from samuel_pl.config import CodecConfig, ConfigError, load_config
from samuel_pl.errors import SamuelError
from tests.codecs.pitch_probe import TRANSPOSE_BOUND, own_channel_share, transposition_errors

SR = 22050
DB = 20.0 / math.log(10.0)  # natural-log magnitude -> dB


def harmonic(seconds: float = 2.0, f0: float = 220.0, seed: int = 0) -> torch.Tensor:
    """A few harmonics with a tremolo envelope plus a faint noise floor, shape (1, 1, N)."""
    t = torch.arange(int(seconds * SR)) / SR
    x = sum(a * torch.sin(2 * math.pi * f0 * k * t) for k, a in [(1, 0.5), (2, 0.3), (3, 0.2)])
    env = (0.5 + 0.5 * torch.sin(2 * math.pi * 1.5 * t)) ** 2
    noise = torch.randn(t.shape, generator=torch.Generator().manual_seed(seed))
    return (x * env + 0.01 * noise)[None, None].float()


@pytest.fixture(scope="module")
def codec() -> MelCodec:
    c = build_codec(CodecConfig())
    assert isinstance(c, MelCodec)
    return c


def test_protocol_properties(codec: MelCodec) -> None:
    assert isinstance(codec, LatentCodec)
    assert (codec.sample_rate, codec.audio_channels, codec.latent_channels) == (SR, 1, 64)
    assert codec.hop_length == 512
    assert codec.frame_rate == pytest.approx(SR / 512)
    assert codec.codec_id.startswith("mel-")


def test_filterbank_matches_librosa_slaney() -> None:
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=64, fmin=30.0, fmax=SR / 2, norm="slaney")
    ours = mel_filterbank(SR, 2048, 64, 30.0, SR / 2)
    np.testing.assert_allclose(ours, ref, atol=1e-6 * ref.max())
    assert (ours.sum(axis=1) > 0).all(), "an empty mel filter"


@pytest.mark.parametrize("n", [512 * 40, 512 * 40 + 1, 512 * 40 + 511, 3000])
def test_frame_count_and_decode_length(codec: MelCodec, n: int) -> None:
    z = codec.encode(torch.zeros(1, 1, n), SR)
    assert z.shape == (1, 64, n // 512 + 1) and z.shape[-1] == codec.num_frames(n)
    y = codec.decode(z, n_iter=1)
    assert y.shape == (1, 1, (z.shape[-1] - 1) * 512) and y.shape[-1] == codec.num_samples(
        z.shape[-1]
    )
    # encode(decode(z)) keeps the frame count
    assert codec.encode(y, SR).shape == z.shape


def test_silence_encodes_to_log_floor(codec: MelCodec) -> None:
    z = codec.encode(torch.zeros(1, 1, 4096), SR)
    assert torch.allclose(z, torch.full_like(z, math.log(1e-5)))


def test_stereo_is_averaged_and_resampled(codec: MelCodec) -> None:
    x = harmonic(1.0)
    stereo = torch.cat([x * 0.2, x * 1.8], dim=1)  # mean equals x
    assert torch.allclose(codec.encode(stereo, SR), codec.encode(x, SR), atol=1e-4)
    # same signal at 44.1 kHz: soxr resampling gives nearly the same log-mel
    t = torch.arange(2 * SR) / (2 * SR)
    hi = (0.5 * torch.sin(2 * math.pi * 440 * t))[None, None].float()
    lo = (0.5 * torch.sin(2 * math.pi * 440 * torch.arange(SR) / SR))[None, None].float()
    z_hi, z_lo = codec.encode(hi, 2 * SR), codec.encode(lo, SR)
    assert z_hi.shape == z_lo.shape
    loud = z_lo > z_lo.max() - math.log(100.0)  # bins within 40 dB of the peak
    assert DB * (z_hi - z_lo)[loud].abs().mean() < 0.5


def test_encode_is_batch_consistent(codec: MelCodec) -> None:
    a, b = harmonic(1.0, 220.0, seed=1), harmonic(1.0, 330.0, seed=2)
    both = codec.encode(torch.cat([a, b]), SR)
    assert torch.allclose(both[0:1], codec.encode(a, SR), atol=1e-5)
    assert torch.allclose(both[1:2], codec.encode(b, SR), atol=1e-5)
    dec = codec.decode(both, n_iter=4)
    assert torch.allclose(dec[1:2], codec.decode(both[1:2], n_iter=4), atol=1e-5)


def test_decode_is_deterministic(codec: MelCodec) -> None:
    z = codec.encode(harmonic(1.0), SR)
    assert torch.equal(codec.decode(z, n_iter=8), codec.decode(z, n_iter=8))


def test_round_trip_log_mel_error(codec: MelCodec) -> None:
    """encode -> decode (48 Fast Griffin-Lim iterations) -> encode stays within 1.5 dB on average
    (measured 0.68 dB), and within 2 dB on the bins within 40 dB of the peak (measured 1.42 dB)."""
    z = codec.encode(harmonic(2.0), SR)
    z2 = codec.encode(codec.decode(z), SR)
    err_db = DB * (z2 - z).abs()
    loud = z > z.max() - math.log(100.0)
    assert float(err_db.mean()) < 1.5, float(err_db.mean())
    assert float(err_db[loud].mean()) < 2.0, float(err_db[loud].mean())


def test_griffin_lim_converges_with_iterations(codec: MelCodec) -> None:
    z = codec.encode(harmonic(2.0), SR)
    target = codec.mel_to_magnitude(z)  # (1, F, T)
    sc = {}
    for iters in (0, 4, 32):
        y = codec.griffin_lim(target, n_iter=iters)
        sc[iters] = float(spectral_convergence(target, codec.stft(y).abs()))
    assert sc[32] < sc[4] < sc[0], sc
    assert sc[32] < 0.3, sc


def test_mel_inversion_is_nonnegative_and_consistent(codec: MelCodec) -> None:
    z = codec.encode(harmonic(1.0), SR)
    mag = codec.mel_to_magnitude(z)
    assert (mag >= 0).all()
    mel = torch.log(torch.matmul(codec.mel_basis, mag).clamp_min(1e-5))
    assert float(DB * (mel - z).abs().mean()) < 0.5


def test_codec_id_changes_with_latent_fields_only() -> None:
    base = build_codec(CodecConfig()).codec_id
    assert build_codec(CodecConfig(n_mels=80)).codec_id != base
    assert build_codec(CodecConfig(hop_length=256)).codec_id != base
    assert build_codec(CodecConfig(griffin_lim_iters=5)).codec_id == base  # decode-only setting


def test_codec_id_is_the_same_in_another_process() -> None:
    """The id is a content hash of the latent-changing fields (no Python ``hash()``, no object
    ids), so a fresh interpreter with hash randomisation computes the same id."""
    import os
    import subprocess
    import sys

    code = (
        "from samuel_pl.codecs import build_codec; from samuel_pl.config import CodecConfig; "
        "print(build_codec(CodecConfig()).codec_id)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == build_codec(CodecConfig()).codec_id
    assert config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1})


def test_registry_errors_and_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec_registry, "_REGISTRY", dict(codec_registry._REGISTRY))
    with pytest.raises(SamuelError, match="stable_audio"):
        build_codec(CodecConfig(type="stable_audio"))
    with pytest.raises(SamuelError, match="vae"):
        build_codec(CodecConfig(type="vae"))
    with pytest.raises(SamuelError, match="valid types: .*mel"):
        build_codec(CodecConfig(type="mle"))
    with pytest.raises(ConfigError, match=r"invalid codec.type='tiny_mel'; allowed: mel \|"):
        load_config(None, ["codec.type=tiny_mel"])
    register_codec("tiny_mel", lambda cfg: MelCodec(n_mels=8, n_fft=256, hop_length=64))
    assert load_config(None, ["codec.type=tiny_mel"]).codec.type == "tiny_mel"  # asks the registry
    assert build_codec(CodecConfig(type="tiny_mel")).latent_channels == 8
    # a type without a fields reader: latent_fields builds it once and reads the codec
    assert latent_fields(CodecConfig(type="tiny_mel")) == LatentFields("tiny_mel", 8, 22050, 64, 1)
    with pytest.raises(SamuelError, match="valid types: .*mel"):
        latent_fields(CodecConfig(type="mle"))


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"n_mels": 80, "hop_length": 256, "f_max": 8000.0},
        {"scale": "log", "f_min": 65.4, "n_fft": 4096, "n_mels": 72},
    ],
)
def test_latent_fields_read_the_config_without_building_the_codec(
    over: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = CodecConfig(**over)
    codec = build_codec(cfg)
    monkeypatch.setattr(MelCodec, "__init__", None)  # building a codec now fails
    fields = latent_fields(cfg)
    assert fields == LatentFields("mel", codec.latent_channels, 22050, codec.hop_length, 1)
    assert fields.frame_rate == codec.frame_rate
    assert mel_identity(cfg) == codec.latent_fields()  # the codec_id fields, from one home


def test_invalid_config_is_a_user_error() -> None:
    with pytest.raises(SamuelError, match="hop_length"):
        build_codec(CodecConfig(hop_length=4096))


def log_codec(**kw: object) -> MelCodec:
    return MelCodec(n_mels=64, scale="log", f_min=110.0, **kw)  # type: ignore[arg-type]


def test_log_scale_puts_each_semitone_on_its_own_channel_from_440_hz() -> None:
    """The log codec (n_fft 2048: 10.8 Hz bins) as it is: a sine on a channel centre keeps >= 70%
    of the filter energy in that channel from A4 = 440 Hz up, but under half at 110, 165 and
    220 Hz (semitones there are 6.5-13 Hz wide); the pitched codec (test_pitched) fixes that."""
    codec = log_codec()
    assert codec.f_max == pytest.approx(110.0 * 2 ** (63 / 12))  # C8, one semitone per channel
    share = own_channel_share(codec, 110.0, 64)
    assert share[24:].min() >= 0.70, share[24:].min()  # A4 and up
    assert share[[0, 7, 12]].max() < 0.5, share[[0, 7, 12]]  # 110, 165, 220 Hz


def test_log_scale_transposition_is_a_channel_shift_from_b3_only() -> None:
    """One semitone up is one channel up within TRANSPOSE_BOUND (energy-weighted, pitch_probe)
    from MIDI 59 (B3) up, what data.pitch_shift relies on; below it the log codec fails the
    bound (0.16-0.33 log units at MIDI 46-48), unlike the pitched codec from MIDI 33."""
    codec = log_codec()
    high = transposition_errors(codec, list(range(59, 80)))
    assert high.max() <= TRANSPOSE_BOUND, high
    low = transposition_errors(codec, [46, 47, 48])
    assert low.min() > TRANSPOSE_BOUND, low


def test_log_scale_round_trip_keeps_the_pitch() -> None:
    codec = log_codec()
    f0 = 246.94  # B3: between mel bins of the default codec, a channel of the log one
    t = torch.arange(2 * SR) / SR
    audio = codec.decode(codec.encode(torch.sin(2 * math.pi * f0 * t)[None, None], SR))[0, 0]
    spec = torch.fft.rfft(audio * torch.hann_window(audio.shape[-1])).abs()
    peak_hz = float(spec.argmax()) * SR / audio.shape[-1]
    assert abs(12 * math.log2(peak_hz / f0)) < 0.25


def test_log_scale_config_and_errors() -> None:
    cfg = CodecConfig(scale="log", f_min=110.0)
    codec = build_codec(cfg)
    assert isinstance(codec, MelCodec) and codec.scale == "log"
    mel_fields = build_codec(CodecConfig()).latent_fields()
    assert config_hash(codec.latent_fields()) != config_hash(mel_fields)
    with pytest.raises(SamuelError, match="narrower than half an FFT bin"):
        MelCodec(scale="log", f_min=40.0)
    with pytest.raises(SamuelError, match="scale must be mel or log"):
        MelCodec(scale="bark")


def test_log_codec_inversion_on_its_band_equals_the_full_projected_gradient() -> None:
    """The inversion runs only on the FFT bins the log filters cover (bins 10-411 of 1025 for the
    demo codec); outside them the full-size projected gradient stays exactly 0, so the result is
    the full computation's, written out here with whole matrices."""
    codec = MelCodec(n_mels=64, scale="log", f_min=110.0, nnls_iters=30)
    assert codec.band == (10, 412)
    g = torch.Generator().manual_seed(0)
    z = codec.encode(0.1 * torch.randn(2, 1, 22050, generator=g), 22050)  # (2, 64, T)
    mel = torch.exp(z)
    basis, pinv = codec.mel_basis, codec.mel_pinv  # (M, F), (F, M)
    mag = (pinv @ mel).clamp_min(0.0)
    for _ in range(30):
        mag = (mag - codec.nnls_step * basis.t() @ (basis @ mag - mel)).clamp_min(0.0)
    out = codec.mel_to_magnitude(z)
    assert out.shape == mag.shape == (2, 1025, z.shape[-1])
    torch.testing.assert_close(out, mag, atol=1e-5, rtol=1e-5)
    assert float(out[:, :10].abs().max()) == 0.0 and float(out[:, 412:].abs().max()) == 0.0
