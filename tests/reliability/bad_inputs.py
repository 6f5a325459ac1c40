"""Bad and unusual audio inputs, written to disk, with the behaviour each must get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SECONDS = 0.6


def tone(sr: int, channels: int = 1, seconds: float = SECONDS, amp: float = 0.4) -> np.ndarray:
    """A two-note melody, (N, channels) float32 as soundfile wants it."""
    t = np.arange(int(round(sr * seconds))) / sr
    f = np.where(t < seconds / 2, 330.0, 440.0)
    x = amp * np.sin(2 * np.pi * np.cumsum(f) / sr)
    return np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def _wav(sr: int, channels: int, subtype: str, fmt: str = "WAV") -> Callable[[Path], None]:
    def write(path: Path) -> None:
        sf.write(str(path), tone(sr, channels), sr, format=fmt, subtype=subtype)

    return write


def _truncated(path: Path) -> None:
    _wav(22050, 2, "PCM_16")(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _header_only(path: Path) -> None:
    _wav(22050, 1, "PCM_16")(path)
    path.write_bytes(path.read_bytes()[:44])


def _nonfinite(value: float) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        x = tone(22050)
        x[len(x) // 3, 0] = value
        sf.write(str(path), x, 22050, subtype="FLOAT")

    return write


def _text(path: Path) -> None:
    path.write_text("these are lyrics, not audio\n" * 40)


@dataclass(frozen=True)
class Case:
    """One input file: how to write it and what must happen (an error ``<path>: <problem>``,
    or, when ``problem`` is empty, a correct result; ``sample_rate`` is the file's)."""

    name: str
    filename: str
    write: Callable[[Path], None]
    problem: str = ""
    sample_rate: int = 22050
    channels: int = 1

    @property
    def ext(self) -> str:
        return Path(self.filename).suffix

    def make(self, folder: Path, filename: str | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (filename or self.filename)
        self.write(path)
        return path


BROKEN = [
    Case("truncated", "cut.wav", _truncated, "truncated file"),
    Case("header_only", "header.wav", _header_only, "zero-length audio"),
    Case("nan_float", "nan.wav", _nonfinite(float("nan")), "contains NaN or infinite samples"),
    Case("inf_float", "inf.wav", _nonfinite(float("inf")), "contains NaN or infinite samples"),
    Case("text_as_wav", "lyrics.wav", _text, "not a readable audio file"),
]

USABLE = [
    Case("pcm8", "pcm8.wav", _wav(22050, 1, "PCM_U8")),
    Case("pcm24_stereo", "pcm24.wav", _wav(44100, 2, "PCM_24"), sample_rate=44100, channels=2),
    Case("mono_8k", "low.wav", _wav(8000, 1, "PCM_16"), sample_rate=8000),
    Case("six_ch_96k", "surround.wav", _wav(96000, 6, "FLOAT"), sample_rate=96000, channels=6),
    Case("flac", "take.flac", _wav(48000, 2, "PCM_24", "FLAC"), sample_rate=48000, channels=2),
    Case("mp3", "song.mp3", _wav(44100, 1, "MPEG_LAYER_III", "MP3"), sample_rate=44100),
    Case("spaces_non_ascii", "take one – ü 日本.wav", _wav(22050, 1, "PCM_16")),
]

ALL = BROKEN + USABLE


def case_ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


def write_song(root: Path, name: str, vocals: Case, accompaniment: Case | None = None) -> Path:
    """A folder-source song ``root/name/{vocals,accompaniment}.<ext>``; returns the vocals path.

    The accompaniment defaults to the vocal's case when that one is usable, else a plain WAV.
    """
    acc = accompaniment or (vocals if not vocals.problem else USABLE[-1])
    folder = root / name
    acc.make(folder, f"accompaniment{acc.ext}")
    return vocals.make(folder, f"vocals{vocals.ext}")


def read_frames(path: Path) -> int:
    """Samples per channel that soundfile decodes from ``path`` (independent of samuel_pl)."""
    return len(sf.read(str(path), always_2d=True)[0])


def error_line(stderr: str) -> str:
    """The single ``error:`` line a failing command must print (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def no_partial_files(root: Path) -> list[Path]:
    """Temporary files (``.*.tmp``) left anywhere under ``root``."""
    return sorted(p for p in root.rglob(".*tmp*") if p.is_file())
