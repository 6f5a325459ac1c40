"""The one place audio is read, written, resampled and channel-converted (soundfile + soxr).

Arrays are always ``float32`` shaped ``(channels, samples)``.

Reading (:func:`read_audio`) checks the header against :class:`DecodeLimits` (sample rate,
channels, duration, frames x channels) before decoding, then decodes in blocks, converting
channels and resampling as it goes: memory is bounded by the output, never by what a header
claims. Files are opened by the caller (``open``), so a permission problem says so and names
that are not valid UTF-8 work.

Channel policy (:func:`convert_channels`):
  * ``1``: average all channels to mono.
  * ``2``: mono is duplicated; stereo is kept; more than two channels are downmixed by averaging
    the even-indexed channels into the left and the odd-indexed channels into the right (for
    5.1 in SMPTE order L R C LFE Ls Rs: left = mean(L, C, Ls), right = mean(R, LFE, Rs)).
  * ``None``: keep the file's channels.

Writing (:func:`write_audio`) is atomic (:func:`samuel_pl.files.atomic_writer`) and never
clips: a signal whose peak exceeds 1.0 is refused with an :class:`AudioError` unless
``normalize`` asks for it to be scaled to a target peak. An OS error while writing (full disk,
no permission) raises :class:`OutputError` naming the file, and no partial or temporary file is
left behind.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from samuel_pl.errors import AudioError, AudioLimitError
from samuel_pl.files import atomic_writer, os_reason

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3", ".aiff": "AIFF"}
_OPENING = re.compile(r"^Error opening .*?: ")
_DATA_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


@dataclass(frozen=True)
class DecodeLimits:
    """What a decode accepts, checked against the file header *before* any sample is read.

    A damaged or hostile header (1 Hz, 2**31 - 1 Hz, thousands of channels, hours of claimed
    frames in a small file) is refused with one line naming the file instead of allocating what
    it claims. Every command passes its own duration cap.
    """

    min_rate: int = 8_000
    """Lowest accepted sample rate in Hz."""
    max_rate: int = 384_000
    """Highest accepted sample rate in Hz."""
    max_channels: int = 32
    """Most channels."""
    max_seconds: float = 4 * 3600.0
    """Longest accepted duration in seconds (per command: songs, vocals, uploads)."""
    max_samples: int = 2**31
    """Most frames x channels the header may claim (bounds decoding time)."""
    hint: str = ""
    """What to change to raise the duration cap (e.g. ``--max-seconds``), shown in the error."""

    def check(self, path: Path, rate: int, channels: int, frames: int | None) -> None:
        """Raise AudioError when a header (``frames`` None: unknown) breaks a limit."""
        if not self.min_rate <= rate <= self.max_rate:
            raise AudioLimitError(
                f"{path}: sample rate {rate} Hz, outside the accepted "
                f"{self.min_rate}-{self.max_rate} Hz (a damaged or hostile header?)",
                "rate",
            )
        if not 1 <= channels <= self.max_channels:
            raise AudioLimitError(
                f"{path}: {channels} channels; at most {self.max_channels} are accepted",
                "channels",
            )
        if frames is None:
            return
        self.check_duration(path, frames, rate)
        if frames * channels > self.max_samples:
            raise AudioLimitError(
                f"{path}: {frames} frames x {channels} channels claimed, more than the "
                f"{self.max_samples} samples accepted",
                "samples",
            )

    def check_duration(self, path: Path, frames: int, rate: int) -> None:
        """Raise AudioError when ``frames`` at ``rate`` last longer than :attr:`max_seconds`."""
        if frames > self.max_seconds * rate:
            hint = f" ({self.hint})" if self.hint else ""
            raise AudioLimitError(
                f"{path}: {frames / rate:.1f} s long; at most {self.max_seconds:g} s are "
                f"accepted here{hint}",
                "duration",
            )


DEFAULT_LIMITS = DecodeLimits()
BLOCK_FRAMES = 1 << 16  # frames decoded (and resampled) at a time


@dataclass(frozen=True)
class AudioInfo:
    """What a file header says: rate, channels, frames (samples per channel), format."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / float(self.sample_rate) if self.sample_rate else 0.0


def _open(p: Path) -> Any:
    """Open ``p`` for reading (binary); AudioError naming the file and the OS problem.

    Handing soundfile an open file (not a name) also reads files whose names are not valid
    UTF-8."""
    try:
        return open(p, "rb")  # noqa: SIM115 - closed by the caller's ``with``
    except FileNotFoundError:
        raise AudioError(f"{p}: file not found") from None
    except PermissionError:
        raise AudioError(f"{p}: permission denied (the file cannot be read)") from None
    except IsADirectoryError:
        raise AudioError(f"{p}: is a folder, not an audio file") from None
    except OSError as exc:
        raise AudioError(f"{p}: cannot be opened ({os_reason(exc)})") from None


def info(path: str | Path) -> AudioInfo:
    """Header information of an audio file; raises AudioError if it is missing or not audio."""
    p = Path(path)
    with _open(p) as fh:
        try:
            i = sf.info(fh)
        except Exception as exc:  # soundfile raises RuntimeError subclasses or TypeError
            raise _unreadable(p, fh, exc) from exc
    return AudioInfo(p, int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return _OPENING.sub("", line) or line  # libsndfile names our file object: drop that


def _unreadable(p: Path, fh: Any, exc: BaseException) -> AudioError:
    """'not a readable audio file (why)' for a file soundfile cannot open."""
    empty = os.fstat(fh.fileno()).st_size == 0
    return AudioError(f"{p}: not a readable audio file ({'empty file' if empty else _short(exc)})")


def _wav_truncation(extra_info: str) -> str:
    """'' or the problem, from libsndfile's log line ``data : N (should be M)`` of a short WAV."""
    m = _DATA_CHUNK.search(extra_info or "")
    if not m:
        return ""
    claimed, actual = int(m.group(1)), int(m.group(2))
    if claimed in (0, 0xFFFFFFFF, 0x7FFFFFFF) or actual >= claimed:  # streamed: size unknown
        return ""
    if actual == 0:
        return "zero-length audio (header only, no sample data)"
    return f"truncated file ({actual} of {claimed} data bytes present)"


def read_audio(
    path: str | Path,
    sample_rate: int | None = None,
    channels: int | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> tuple[np.ndarray, int]:
    """Read a file as float32 ``(C, N)``, optionally resampled and channel-converted.

    The header is checked against ``limits`` before any sample is read; the file is then decoded
    in blocks of :data:`BLOCK_FRAMES`, each channel-converted and resampled (soxr stream) as it
    comes, so memory stays bounded by the output, not by what the file holds.

    Raises AudioError (naming the file) when the file is missing, unreadable, not audio, beyond
    a limit, truncated, zero-length or holds NaN/inf samples.
    """
    p = Path(path)
    with _open(p) as fh:
        try:
            f = sf.SoundFile(fh)
        except Exception as exc:
            raise _unreadable(p, fh, exc) from exc
        with f:
            return _decode(p, f, sample_rate, channels, limits)


def _decode(
    p: Path, f: Any, sample_rate: int | None, channels: int | None, limits: DecodeLimits
) -> tuple[np.ndarray, int]:
    """Block-wise decode of an open SoundFile (see :func:`read_audio`)."""
    sr, n_ch = int(f.samplerate), int(f.channels)
    expected = int(f.frames)
    known = 0 < expected < 2**62
    limits.check(p, sr, n_ch, expected if known else None)
    problem = _wav_truncation(f.extra_info) if f.format == "WAV" else ""
    if problem:
        raise AudioError(f"{p}: {problem}")
    out_ch = n_ch if channels is None else int(channels)
    out_sr = sr if sample_rate is None else int(sample_rate)
    stream = None
    if out_sr != sr:
        stream = soxr.ResampleStream(sr, out_sr, out_ch, dtype="float32", quality="HQ")
    pieces: list[np.ndarray] = []  # (n, out_ch) each
    total = 0
    try:
        while True:
            block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)  # (n, C)
            if block.shape[0] == 0:
                break
            total += block.shape[0]
            if not known:
                limits.check_duration(p, total, sr)
            if not np.isfinite(block).all():
                raise AudioError(f"{p}: contains NaN or infinite samples")
            x = block if channels is None else convert_channels(block.T, out_ch).T  # (n, C')
            x = np.ascontiguousarray(x, dtype=np.float32)
            if stream is not None:
                x = stream.resample_chunk(x, last=False)
            if x.shape[0]:
                pieces.append(x)
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(f"{p}: corrupt or truncated file ({_short(exc)})") from exc
    if total == 0:
        raise AudioError(f"{p}: zero-length audio (no samples)")
    if known and total < expected:
        raise AudioError(f"{p}: truncated file ({total} of {expected} frames readable)")
    if stream is not None:
        pieces.append(stream.resample_chunk(np.zeros((0, out_ch), np.float32), last=True))
    data = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    if stream is not None:  # soxr rounds half-way lengths up; keep round(N * out / in)
        data = data[: round(total * out_sr / sr)]
    return np.ascontiguousarray(data.T), out_sr  # (N, C) -> (C, N)


def convert_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Apply the channel policy of the module docstring to ``(C, N)`` audio."""
    if audio.ndim != 2:
        raise ValueError(f"expected (channels, samples), got shape {audio.shape}")
    c = audio.shape[0]
    if channels == c:
        return audio.astype(np.float32, copy=False)
    if channels == 1:
        return audio.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    if channels == 2:
        if c == 1:
            return np.repeat(audio, 2, axis=0).astype(np.float32, copy=False)
        left = audio[0::2].mean(axis=0, dtype=np.float64)
        right = audio[1::2].mean(axis=0, dtype=np.float64)
        return np.stack([left, right]).astype(np.float32)
    raise ValueError(f"unsupported channel count {channels} (use 1 or 2)")


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``(C, N)`` audio with soxr (HQ); output length is round(N * sr_out / sr_in)."""
    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    out = soxr.resample(np.ascontiguousarray(audio.T), sr_in, sr_out, quality="HQ")  # (N', C)
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T)


def write_audio(
    path: str | Path,
    audio: np.ndarray,
    sample_rate: int,
    subtype: str = "PCM_16",
    normalize: float | None = None,
) -> Path:
    """Atomically write ``(C, N)`` (or ``(N,)``) audio; never clips.

    Args:
        path: destination; the format follows the extension (.wav, .flac, .ogg, .mp3).
        audio: float samples, shape (C, N) or (N,).
        sample_rate: in Hz.
        subtype: soundfile subtype (PCM_16, PCM_24, FLOAT, ...); ignored for OGG/MP3.
        normalize: if given, scale so the peak equals this value (e.g. 0.95). Without it a peak
            above 1.0 raises AudioError instead of being clipped or silently scaled (except
            for FLOAT/DOUBLE WAV and AIFF, which store it exactly).
    """
    p = Path(path)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] == 0:
        raise AudioError(f"{p}: refusing to write audio of shape {x.shape}")
    if not np.isfinite(x).all():
        raise AudioError(f"{p}: refusing to write NaN or infinite samples")
    peak = float(np.abs(x).max())
    if normalize is not None:
        if not 0.0 < normalize <= 1.0:
            raise ValueError("normalize must be in (0, 1]")
        if peak > 0:
            x = x * np.float32(normalize / peak)
    fmt = _FORMATS.get(p.suffix.lower())
    float_wav = fmt in ("WAV", "AIFF") and subtype in ("FLOAT", "DOUBLE")
    if normalize is None and peak > 1.0 and not float_wav:  # float WAV stores peaks above 1
        raise AudioError(f"{p}: peak {peak:.3f} exceeds 1.0 (would clip); pass normalize=")
    if fmt is None:
        raise AudioError(f"{p}: unsupported extension (use {', '.join(_FORMATS)})")
    kwargs: dict[str, str] = {"format": fmt}
    if fmt in ("WAV", "FLAC", "AIFF"):
        kwargs["subtype"] = subtype if not (fmt == "FLAC" and subtype == "FLOAT") else "PCM_24"
    with atomic_writer(p) as fh:
        sf.write(fh, x.T, sample_rate, **kwargs)  # (C, N) -> (N, C)
    return p
