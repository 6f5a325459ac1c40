"""Pitched full-band codec: semitone channels from 55 Hz (energy share, transposition as a channel
shift), bands to Nyquist that survive the round trip, windows, config, and the band projection
that refines a vocoder's rendition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from samuel_pl.codecs import build_codec
from samuel_pl.codecs.band_match import match_bands
from samuel_pl.codecs.mel import MelCodec
from samuel_pl.codecs.pitched import PitchedCodec, band_centres
from samuel_pl.config import CodecConfig
from samuel_pl.errors import SamuelError
from tests.codecs.pitch_probe import (
    SR,
    TRANSPOSE_BOUND,
    harmonic,
    old_log_codec,
    own_channel_share,
    sines,
    transposition_errors,
)

SEMITONES = 76  # A1 = 55 Hz ... C8 = 4186 Hz


@pytest.fixture(scope="module")
def codec() -> PitchedCodec:
    c = build_codec(CodecConfig(type="pitched", n_mels=SEMITONES, f_min=55.0))
    assert isinstance(c, PitchedCodec)
    return c


def test_every_semitone_from_55_hz_holds_70_percent_in_its_own_channel(
    codec: PitchedCodec,
) -> None:
    share = own_channel_share(codec, 55.0, SEMITONES)
    assert share.min() >= 0.70, {round(55 * 2 ** (k / 12)): round(float(s), 2)
                                 for k, s in enumerate(share) if s < 0.70}  # fmt: skip


def test_transposition_is_a_channel_shift_from_the_bass_up(codec: PitchedCodec) -> None:
    midis = list(range(33, 80))  # A1 ... G5
    err = transposition_errors(codec, midis)
    assert err.max() <= TRANSPOSE_BOUND, dict(zip(midis, err.round(3), strict=True))


def test_windows_halve_per_octave_and_bands_reach_nyquist(codec: PitchedCodec) -> None:
    assert codec.latent_channels == SEMITONES + 8
    assert [(n, a, b) for n, a, b in codec.groups] == [
        (16384, 0, 18), (8192, 18, 30), (4096, 30, 42), (2048, 42, 84)
    ]  # fmt: skip
    np.testing.assert_allclose(codec.centres[:SEMITONES], 55.0 * 2 ** (np.arange(76) / 12))
    upper = codec.centres[SEMITONES:]
    np.testing.assert_allclose(np.diff(np.log2(upper)), 1 / 6)
    assert upper[-1] < SR / 2 <= upper[-1] * 2 ** (1 / 6)
    lo, hi = codec.bands[-1]
    assert hi == 1025  # the top band's shoulder covers the FFT bins up to Nyquist
    assert band_centres(55.0, 12, 220.0)[-1] < 220.0


@pytest.mark.parametrize("n", [512 * 40, 512 * 40 + 1, 512 * 40 + 511, 3000])
def test_frame_count_and_decode_length(codec: PitchedCodec, n: int) -> None:
    z = codec.encode(0.1 * torch.randn(1, 1, n, generator=torch.Generator().manual_seed(0)), SR)
    assert z.shape == (1, 84, n // 512 + 1) == (1, 84, codec.num_frames(n))
    y = codec.decode(z, n_iter=1)
    assert y.shape == (1, 1, (z.shape[-1] - 1) * 512)
    assert codec.encode(y, SR).shape == z.shape


def test_a_sine_reads_the_same_on_every_window_length(codec: PitchedCodec) -> None:
    """The 1/window scaling: a unit sine's own channel reads the same (within 0.5 dB) whichever
    window measures it (channels 12, 24, 36, 48 sit on windows 16384, 8192, 4096, 2048)."""
    ks = [12, 24, 36, 48]
    z = codec.encode(sines([55.0 * 2 ** (k / 12) for k in ks]), SR)[:, :, 20:-20].mean(-1)
    own = torch.stack([z[i, k] for i, k in enumerate(ks)])
    assert float(own.max() - own.min()) * 20 / math.log(10) < 0.5, own


def test_round_trip_keeps_the_level_above_4_khz(codec: PitchedCodec) -> None:
    """A bass line plus bright noise (5-9 kHz): after encode -> decode (Griffin-Lim 16) the energy
    above 4 kHz is within 1.5 dB of the input's and the bass band's too; the old log codec
    (filters to 4.2 kHz) drops the top by more than 20 dB."""
    g = torch.Generator().manual_seed(0)
    n = 3 * SR
    noise = torch.fft.rfft(torch.randn(n, generator=g))
    hz = torch.fft.rfftfreq(n, 1 / SR)
    noise[(hz < 5000) | (hz > 9000)] = 0
    t = torch.arange(n) / SR
    x = (0.4 * torch.sin(2 * math.pi * 65.4 * t) + 0.05 * torch.fft.irfft(noise, n))[None, None]

    def band_db(y: torch.Tensor, lo: float, hi: float) -> float:
        spec = torch.fft.rfft(y[0, 0, SR // 2 : -SR // 2]).abs() ** 2
        f = torch.fft.rfftfreq(y.shape[-1] - SR, 1 / SR)
        return 10 * math.log10(float(spec[(f >= lo) & (f < hi)].sum()))

    y = codec.decode(codec.encode(x, SR), n_iter=16)
    xs = x[..., : y.shape[-1]]
    assert abs(band_db(y, 4000, SR / 2) - band_db(xs, 4000, SR / 2)) < 1.5
    assert abs(band_db(y, 50, 80) - band_db(xs, 50, 80)) < 1.5
    old = old_log_codec()
    y_old = old.decode(old.encode(x, SR), n_iter=16)
    assert band_db(y_old, 4000, SR / 2) < band_db(xs, 4000, SR / 2) - 20


def test_decode_is_deterministic_and_round_trip_is_close(codec: PitchedCodec) -> None:
    x = harmonic(98.0)[None, None] + 0.01 * torch.randn(1, 1, SR, generator=torch.Generator())
    z = codec.encode(x, SR)
    y = codec.decode(z, n_iter=8)
    assert torch.equal(y, codec.decode(z, n_iter=8))
    z2 = codec.encode(codec.decode(z, n_iter=32), SR)
    loud = z > z.max() - math.log(100.0)
    assert float((z2 - z)[loud].abs().mean()) < 0.25  # log units (2.2 dB)


def test_config_errors_and_id() -> None:
    with pytest.raises(SamuelError, match="bins_per_octave must be 12"):
        build_codec(CodecConfig(type="pitched", n_mels=76, f_min=55.0, bins_per_octave=24))
    with pytest.raises(SamuelError, match="top semitone"):
        build_codec(CodecConfig(type="pitched", n_mels=120, f_min=55.0))
    a = build_codec(CodecConfig(type="pitched", n_mels=76, f_min=55.0))
    b = build_codec(CodecConfig(type="pitched", n_mels=76, f_min=55.0, griffin_lim_iters=4))
    c = build_codec(CodecConfig(type="pitched", n_mels=72, f_min=55.0))
    assert a.codec_id == b.codec_id != c.codec_id and a.codec_id.startswith("pitched-")


def test_match_bands_meets_the_bands_and_keeps_the_partials() -> None:
    """The projection of a rendition onto the latent's bands: its filter outputs equal the
    target (within 1%), bins the rendition left empty stay empty, and inside one band the
    partials keep their ratio (where the minimum-norm inversion would spread them)."""
    codec = MelCodec(n_mels=16, n_fft=2048, hop_length=512, scale="log", f_min=1000.0)
    basis = codec.mel_basis  # (16, 1025)
    g = torch.Generator().manual_seed(0)
    keep = torch.rand(2, 1025, 5, generator=g) > 0.6
    keep[:, basis.argmax(dim=1)] = True  # a partial at every band's centre
    mag = torch.rand(2, 1025, 5, generator=g) * keep
    target = torch.matmul(basis, mag) * torch.exp(torch.randn(2, 16, 5, generator=g) * 0.3)
    covered = basis.sum(0) > 0.99  # bins in the band interior (partition of unity)
    out = match_bands(mag, basis, target, iters=200)
    rel = (torch.matmul(basis, out) - target).abs() / target
    assert float(rel.max()) < 0.01, float(rel.max())
    assert float(out[(mag == 0) & covered[None, :, None]].max()) < 1e-4
    # the minimum-norm NNLS answer to the same target does not keep the rendition's zeros
    nnls = codec.mel_to_magnitude(torch.log(target))[:, : mag.shape[1]]
    assert float(nnls[(mag == 0) & covered[None, :, None]].max()) > 1e-2


@torch.no_grad()
def test_decodes_with_a_vocoder_of_the_demo_architecture(codec: PitchedCodec) -> None:
    """The vocoder path on this codec (a random network of experiments/vocoder/demo.yaml's
    sizes stands in for a trained one): the rendition, refined from its own phase with its
    magnitude projected on the latent's bands, comes closer to the latent than the raw one."""
    from samuel_pl.codecs.vocoder import build_vocoder

    torch.manual_seed(0)
    net = build_vocoder({"dim": 128, "intermediate": 384, "layers": 6}, 84, 512).eval()
    x = harmonic(110.0)[None, None]
    z = codec.encode(x, SR)
    codec.vocoder, codec.vocoder_refine = net, 8
    try:
        refined = codec.decode(z)
        raw = net(z)
    finally:
        codec.vocoder = None
    assert refined.shape == raw.shape == (1, 1, codec.num_samples(z.shape[-1]))

    def err(y: torch.Tensor) -> float:
        return float((codec.encode(y, SR) - z).abs().mean())

    assert err(refined) < 0.5 * err(raw), (err(refined), err(raw))


@pytest.mark.parametrize("f0", [55.0, 82.41, 146.83])
def test_round_trip_keeps_the_pitch_of_bass_notes(codec: PitchedCodec, f0: float) -> None:
    """A1, E2, D3 through encode -> decode (Griffin-Lim 16): the spectral peak within 0.1
    semitone of the note and >= 90% of the energy within 20% of it inside half a semitone (the
    log codec has no channel below 110 Hz)."""
    y = codec.decode(codec.encode(0.5 * sines([f0], 2.0), SR), n_iter=16)[0, 0]
    spec = torch.fft.rfft(y * torch.hann_window(y.shape[-1])).abs() ** 2
    hz = torch.fft.rfftfreq(y.shape[-1], 1 / SR)
    assert abs(12 * math.log2(float(hz[spec.argmax()]) / f0)) < 0.1
    near = (hz > f0 * 2 ** (-0.5 / 12)) & (hz < f0 * 2 ** (0.5 / 12))
    around = (hz > f0 * 0.8) & (hz < f0 * 1.25)
    assert float(spec[near].sum() / spec[around].sum()) >= 0.9


def test_latent_fields_and_identity_are_read_without_building_the_codec() -> None:
    """The pure readers (model in_channels, the vocoder's compatibility check) agree with the
    built codec: 76 semitones + the bands above them, and the same identity fields."""
    from samuel_pl.codecs import latent_fields
    from samuel_pl.codecs.fields import pitched_identity

    cfg = CodecConfig(type="pitched", n_mels=SEMITONES, f_min=55.0)
    codec = build_codec(cfg)
    fields = latent_fields(cfg)
    assert fields.channels == codec.latent_channels == SEMITONES + 8
    assert (fields.sample_rate, fields.hop_length) == (codec.sample_rate, codec.hop_length)
    assert pitched_identity(cfg) == codec.latent_fields()
