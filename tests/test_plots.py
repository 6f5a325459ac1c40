"""samuel_pl.plots: the one spectrogram renderer and its log-mel front end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samuel_pl.codecs.mel import hz_to_mel
from samuel_pl.plots import log_mel_db, mel_spectrograms, spectrogram_panels


def test_log_mel_db_puts_a_tone_in_its_band() -> None:
    rate = 16000
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(rate) / rate).astype(np.float32)[None]  # (1, N)
    spec, frame_rate = log_mel_db(np.concatenate([tone, tone]), rate)  # (C=2, N): mono mix
    assert spec.shape[0] == 80 and frame_rate == pytest.approx(rate / 256)
    assert spec.shape[1] == pytest.approx(rate / 256, abs=2)  # one second of frames
    band = int(np.argmax(spec.mean(axis=1)))
    lo, hi = hz_to_mel(np.array([30.0, 8000.0]))  # the filterbank's range at 16 kHz
    centre = lo + (hz_to_mel(np.array([1000.0]))[0] - lo) / (hi - lo) * 81 - 1
    assert abs(band - centre) <= 1.5
    assert spec.min() >= -100.0 - 1e-3  # floored


def test_renderer_writes_pngs_for_latents_and_audio(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    latents = {"vocals": rng.normal(size=(8, 50)), "generated": rng.normal(size=(8, 50))}
    png = spectrogram_panels(latents, tmp_path / "a" / "latents.png", "song: latents", 21.5)
    audio = {"vocal": rng.normal(0, 0.1, (2, 8000)), "accompaniment": rng.normal(0, 0.1, 8000)}
    mel = mel_spectrograms(audio, 16000, tmp_path / "mel.png", "run 1", dpi=50)
    for path in (png, mel):
        assert path.read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_song_id_with_undecodable_file_name_bytes_renders(tmp_path: Path) -> None:
    """A folder named in Latin-1 gives an id with a surrogate escape ('caf\\udce9'); matplotlib's
    font renderer refuses it, so titles and labels show U+FFFD instead."""
    from samuel_pl.plots import mel_spectrograms, printable

    assert printable("caf\udce9 song") == "caf\ufffd song"
    tone = np.sin(2 * np.pi * 440 * np.arange(4410) / 22050).astype(np.float32)
    out = mel_spectrograms({"caf\udce9": tone}, 22050, tmp_path / "x.png", "caf\udce9 song")
    assert out.is_file() and out.stat().st_size > 0
