"""samuel_pl.audio: formats, channel policy, resampling, validation errors, atomic writes."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import soundfile as sf

from samuel_pl import audio
from samuel_pl.audio import convert_channels, info, read_audio, write_audio
from samuel_pl.errors import AudioError

SR = 16000


def _sine(freq: float, sr: int, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_freq(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


@pytest.mark.parametrize(
    "fmt,subtype,tol",
    [
        ("WAV", "PCM_U8", 1e-2),
        ("WAV", "PCM_16", 1e-4),
        ("WAV", "PCM_24", 1e-6),
        ("WAV", "FLOAT", 1e-7),
        ("FLAC", "PCM_16", 1e-4),
        ("FLAC", "PCM_24", 1e-6),
    ],
)
def test_read_formats(tmp_path, fmt, subtype, tol):
    x = _sine(440, SR)
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, x, SR, format=fmt, subtype=subtype)
    y, sr = read_audio(path)
    assert sr == SR and y.dtype == np.float32 and y.shape == (1, len(x))
    assert np.max(np.abs(y[0] - x)) < tol
    assert info(path).frames == len(x)


def test_read_mp3(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    x = _sine(440, 44100, seconds=1.0)
    path = tmp_path / "a.mp3"
    sf.write(path, x, 44100, format="MP3")
    y, sr = read_audio(path)
    assert sr == 44100 and y.shape[0] == 1
    assert abs(y.shape[1] - len(x)) < 3000  # encoder padding
    assert abs(_peak_freq(y[0, 4000:40000], sr) - 440) < 5


def test_channel_policy(tmp_path):
    mono = _sine(300, SR)[None]
    assert convert_channels(mono, 2).shape == (2, mono.shape[1])
    np.testing.assert_array_equal(convert_channels(mono, 2)[1], mono[0])
    stereo = np.stack([mono[0], -0.5 * mono[0]])
    np.testing.assert_allclose(convert_channels(stereo, 1)[0], 0.25 * mono[0], atol=1e-6)
    six = np.stack([np.full(10, float(i)) for i in range(6)]).astype(np.float32)
    path = tmp_path / "six.wav"
    sf.write(path, six.T / 10, SR, subtype="FLOAT")
    y2, _ = read_audio(path, channels=2)
    np.testing.assert_allclose(y2[:, 0], [0.2, 0.3], atol=1e-6)  # mean(0,2,4), mean(1,3,5)
    y1, _ = read_audio(path, channels=1)
    np.testing.assert_allclose(y1[:, 0], [0.25], atol=1e-6)
    y6, _ = read_audio(path)
    assert y6.shape == (6, 10)


@pytest.mark.parametrize("sr_in,sr_out", [(8000, 22050), (96000, 44100)])
def test_resample_length_and_pitch(tmp_path, sr_in, sr_out):
    x = _sine(1000, sr_in, seconds=1.0)
    path = tmp_path / "s.wav"
    sf.write(path, x, sr_in, subtype="FLOAT")
    y, sr = read_audio(path, sample_rate=sr_out, channels=1)
    assert sr == sr_out
    assert abs(y.shape[1] - round(len(x) * sr_out / sr_in)) <= 1
    assert abs(_peak_freq(y[0], sr_out) - 1000) < 3


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError, match=r"notes\.wav.*not a readable audio file"):
        read_audio(path)


def test_header_only_and_truncated_wav(tmp_path):
    full = tmp_path / "full.wav"
    sf.write(full, np.stack([_sine(440, SR)] * 2).T, SR, subtype="PCM_16")
    data = full.read_bytes()
    header = tmp_path / "header.wav"
    header.write_bytes(data[:44])
    with pytest.raises(AudioError, match=r"header\.wav: zero-length"):
        read_audio(header)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav: truncated"):
        read_audio(cut)
    flac = tmp_path / "cut.flac"
    sf.write(tmp_path / "x.flac", _sine(440, SR, 2.0), SR)
    flac.write_bytes((tmp_path / "x.flac").read_bytes()[:3000])
    with pytest.raises(AudioError, match=r"cut\.flac"):
        read_audio(flac)


def test_zero_length_and_nan(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), SR)
    with pytest.raises(AudioError, match=r"empty\.wav: zero-length"):
        read_audio(empty)
    bad = _sine(440, SR)
    bad[100] = np.nan
    nan = tmp_path / "nan.wav"
    sf.write(nan, bad, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: contains NaN"):
        read_audio(nan)
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        read_audio(tmp_path / "missing.wav")


def test_write_roundtrip_atomic_and_peak_safe(tmp_path):
    x = np.stack([_sine(440, SR), _sine(660, SR)])
    path = write_audio(tmp_path / "out.wav", x, SR, subtype="PCM_24")
    y, sr = read_audio(path)
    assert sr == SR and np.max(np.abs(y - x)) < 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # no temp files left
    assert (path.stat().st_mode & 0o777) != 0o600
    with pytest.raises(AudioError, match="out.wav: peak 2.000 exceeds 1.0"):
        write_audio(path, 4 * x, SR)
    np.testing.assert_allclose(read_audio(path)[0], y)  # the refused write left it intact
    write_audio(tmp_path / "norm.flac", 4 * x, SR, normalize=0.5)
    assert abs(np.abs(read_audio(tmp_path / "norm.flac")[0]).max() - 0.5) < 1e-3
    loud = write_audio(tmp_path / "loud.wav", 4 * x, SR, subtype="FLOAT")  # float keeps > 1
    np.testing.assert_allclose(read_audio(loud)[0], 4 * x, atol=1e-6)


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    write_audio(path, _sine(440, SR)[None], SR)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(audio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_audio(path, _sine(880, SR)[None], SR)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.wav"]

    def broken_write(*args, **kwargs):
        raise RuntimeError("encoder failed")

    monkeypatch.setattr(audio.sf, "write", broken_write)
    with pytest.raises(RuntimeError):
        write_audio(path, _sine(880, SR)[None], SR)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.wav"]


# -- decode limits: checked on the header, before any sample is decoded ---------------------
from tests.reliability import hostile  # noqa: E402

HEADERS = [c for c in hostile.AUDIO if c.name.startswith(("wav_", "flac_"))]


@pytest.mark.parametrize("case", HEADERS, ids=hostile.ids(HEADERS))
def test_hostile_headers_are_refused_before_decoding(tmp_path, case, monkeypatch):
    path = case.make(tmp_path)
    reads = []
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: reads.append(1))
    with pytest.raises(AudioError, match=re.escape(f"{path}: ") + case.problem):
        read_audio(path, sample_rate=22050, channels=1, limits=audio.DecodeLimits(max_seconds=3600))
    assert reads == []  # refused on the header: not one block was decoded


def test_limits_are_configurable(tmp_path):
    path = hostile.AudioCase("x", "x.wav", hostile.wav_channels(40)).make(tmp_path)
    assert read_audio(path, limits=audio.DecodeLimits(max_channels=40))[0].shape[0] == 40
    x = _sine(440, 8000, seconds=2.0)
    sf.write(tmp_path / "two.wav", x, 8000)
    short = audio.DecodeLimits(max_seconds=1.5, hint="raise it with --max-seconds")
    with pytest.raises(audio.AudioLimitError, match=r"2\.0 s long; at most 1\.5 s .*--max-seconds"):
        read_audio(tmp_path / "two.wav", limits=short)
    many = "16000 frames x 1 channels claimed, more than the 3 samples"
    with pytest.raises(audio.AudioLimitError, match=many):
        read_audio(tmp_path / "two.wav", limits=audio.DecodeLimits(max_samples=3))
    with pytest.raises(audio.AudioLimitError, match=r"8000 Hz, outside the accepted 16000-"):
        read_audio(tmp_path / "two.wav", limits=audio.DecodeLimits(min_rate=16000))


def test_block_decoding_matches_one_shot_and_stays_small(tmp_path):
    import tracemalloc

    rng = np.random.default_rng(0)
    n, sr = 5 * audio.BLOCK_FRAMES + 123, 96000  # several blocks and a partial one
    x = (0.3 * rng.standard_normal((n, 6))).astype(np.float32)
    sf.write(tmp_path / "six.wav", x, sr, subtype="FLOAT")
    got, rate = read_audio(tmp_path / "six.wav", sample_rate=22050, channels=2)
    ref = audio.resample(convert_channels(np.ascontiguousarray(x.T), 2), sr, 22050)
    assert rate == 22050 and got.shape == (2, round(n * 22050 / sr))
    assert np.abs(got - ref[:, : got.shape[1]]).max() < 1e-5
    # 30 s of 8 channels at 384 kHz is 369 MB as float32; decoded to 22.05 kHz mono it is 2.6 MB.
    hostile.silent_flac(384_000, 8, 30.0)(tmp_path / "big.flac")
    tracemalloc.start()
    try:
        got, _ = read_audio(tmp_path / "big.flac", sample_rate=22050, channels=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.shape == (1, 30 * 22050)
    assert peak < 40 * 2**20, f"decoding held {peak / 2**20:.0f} MB"


def test_unreadable_folder_and_odd_names(tmp_path, monkeypatch):
    import os

    path = tmp_path / "locked.wav"
    sf.write(path, _sine(440, SR), SR)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make open() refuse the way it does for others

        def refuse(p, *a, **k):
            raise PermissionError(13, "Permission denied", str(p))

        monkeypatch.setattr(audio, "open", refuse, raising=False)
    with pytest.raises(AudioError, match=r"locked\.wav: permission denied"):
        read_audio(path)
    with pytest.raises(AudioError, match=r"locked\.wav: permission denied"):
        info(path)
    monkeypatch.undo()
    path.chmod(0o644)
    with pytest.raises(AudioError, match=f"{tmp_path}: is a folder, not an audio file"):
        read_audio(tmp_path)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: not a readable audio file \(empty file\)$"):
        read_audio(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("lyrics\n" * 50)
    with pytest.raises(AudioError, match=r"text\.wav: not a readable audio file \(Format not rec"):
        read_audio(tmp_path / "text.wav")  # (not libsndfile's name for our file object)
    odd = hostile.AUDIO[-1].make(tmp_path)  # a name that is not valid UTF-8
    assert read_audio(odd)[0].shape == (1, round(hostile.SECONDS * hostile.SR))
    assert info(odd).frames == round(hostile.SECONDS * hostile.SR)
