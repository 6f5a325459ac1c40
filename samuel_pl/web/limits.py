"""What the web demo accepts: upload size, duration, formats and sampler settings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from samuel_pl.audio import DecodeLimits, read_audio
from samuel_pl.diffusion import SPACING_CHOICES, guidance_allowed, steps_allowed
from samuel_pl.errors import AudioError, AudioLimitError

# accepted file name extension -> format name shown to users
FORMATS: dict[str, str] = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".mp3": "MP3",
    ".aiff": "AIFF",
    ".aif": "AIFF",
}
# libsndfile major formats accepted by content (whatever the name says)
DECODED = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG", "MP3", "AIFF"}
MAX_SEED = 2**31 - 1


class Rejected(Exception):
    """Input the demo refuses; ``status`` is the HTTP status, the message is shown to the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Abuse limits of one server process (all configurable on the command line)."""

    max_bytes: int = 25 * 1024 * 1024
    """Largest upload in bytes; the body is refused as soon as it passes this."""
    max_seconds: float = 60.0
    """Longest vocal in seconds."""
    max_queue: int = 4
    """Jobs that may wait behind the running one; more get HTTP 503."""
    max_steps: int = 1000
    """Most sampler steps per window (the ancestral sampler always runs the training steps)."""
    keep_jobs: int = 16
    """Finished jobs whose files are kept; older ones are deleted."""
    max_channels: int = 8
    """Most channels an upload may have (checked on the header, before decoding)."""
    max_queue_bytes: int = 512 * 1024 * 1024
    """Decoded audio that waiting and running jobs may hold together; more get HTTP 503."""
    read_timeout_s: float = 30.0
    """An upload that sends nothing for this long is dropped (HTTP 408, its folder removed)."""
    upload_timeout_s: float = 300.0
    """An upload that has not finished after this long is dropped the same way."""

    def __post_init__(self) -> None:
        if self.max_bytes < 1024 or not 0 < self.max_seconds < math.inf:
            raise ValueError("max_bytes must be >= 1024 and max_seconds a positive number")
        if self.max_queue < 0 or self.max_steps < 1 or self.keep_jobs < 1:
            raise ValueError("max_queue must be >= 0, max_steps and keep_jobs >= 1")
        if not 1 <= self.max_channels <= 32 or self.max_queue_bytes < 1:
            raise ValueError("max_channels must be in [1, 32] and max_queue_bytes >= 1")
        if not (0 < self.read_timeout_s < math.inf and 0 < self.upload_timeout_s < math.inf):
            raise ValueError("read_timeout_s and upload_timeout_s must be positive numbers")

    def decode_limits(self) -> DecodeLimits:
        """What :func:`load_vocal` accepts of a header (rate, channels, duration)."""
        return DecodeLimits(max_channels=self.max_channels, max_seconds=self.max_seconds)

    def describe(self) -> dict[str, Any]:
        """The limits as JSON for the page."""
        return {
            "max_bytes": self.max_bytes,
            "max_mb": round(self.max_bytes / 2**20, 1),
            "max_seconds": self.max_seconds,
            "max_queue": self.max_queue,
            "max_steps": self.max_steps,
            "max_channels": self.max_channels,
            "formats": sorted({e.lstrip(".") for e in FORMATS}),
            "format_names": accepted(),
        }


def format_of(filename: str) -> str:
    """The accepted extension of an upload's file name (e.g. ``.wav``), else Rejected (415)."""
    ext = Path(filename or "").suffix.lower()
    if ext not in FORMATS:
        shown = f"'{ext}'" if ext else "no extension"
        raise Rejected(415, f"unsupported file type ({shown}); accepted: {accepted()}")
    return ext


def accepted() -> str:
    """Human list of the accepted formats."""
    return ", ".join(sorted({v for v in FORMATS.values()}))


def parse_settings(
    query: dict[str, str], samplers: list[str], defaults: dict[str, Any], limits: Limits
) -> dict[str, Any]:
    """Validate ``sampler``, ``steps``, ``cfg``, ``spacing`` and ``seed`` query values (Rejected
    400); ``spacing`` is in the result when given or in ``defaults``."""
    sampler = query.get("sampler") or defaults["sampler"]
    if sampler not in samplers:
        raise Rejected(400, f"unknown sampler {sampler!r}; choose one of {', '.join(samplers)}")
    spacing = query.get("spacing") or defaults.get("spacing", "")
    if spacing and spacing not in SPACING_CHOICES:
        choices = ", ".join(SPACING_CHOICES)
        raise Rejected(400, f"unknown spacing {spacing!r}; choose one of {choices}")
    steps = _number(query, "steps", int, defaults["steps"])
    if steps_allowed(steps) or steps > limits.max_steps:
        raise Rejected(400, f"steps must be between 1 and {limits.max_steps}, got {steps}")
    cfg = _number(query, "cfg", float, defaults["cfg"])
    if guidance_allowed(cfg) or cfg > 20.0:
        raise Rejected(400, f"guidance must be between 0 and 20, got {cfg}")
    seed = _number(query, "seed", int, 0)
    if not 0 <= seed <= MAX_SEED:
        raise Rejected(400, f"seed must be between 0 and {MAX_SEED}, got {seed}")
    grid = {"spacing": spacing} if spacing else {}
    return {"sampler": sampler, "steps": steps, "cfg": cfg, **grid, "seed": seed}


def _number(query: dict[str, str], key: str, kind: type, default: Any) -> Any:
    raw = query.get(key, "")
    if raw == "":
        return kind(default)
    try:
        return kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise Rejected(400, f"{key} must be {what}, got {raw!r}") from None


def load_vocal(
    path: Path, limits: Limits, sample_rate: int | None = None, channels: int | None = None
) -> tuple[np.ndarray, int]:
    """Decode an uploaded file after checking its format and header against ``limits``.

    Rate, channels and duration are checked on the header before a sample is decoded; the
    audio is then decoded block by block straight to ``sample_rate`` / ``channels`` (the
    model's), so a job holds only what the model needs. Returns float32 (C, N) and its rate;
    Rejected 415 (not audio, wrong format, rate or channels) or 413 (too long) otherwise.
    """
    try:
        with path.open("rb") as fh:
            head = sf.info(fh)
    except Exception:  # noqa: BLE001 - libsndfile's message names our temp file; hide it
        raise Rejected(
            415, f"the file is not audio that can be decoded; accepted: {accepted()}"
        ) from None
    if head.format not in DECODED:
        raise Rejected(415, f"{head.format} audio is not accepted; accepted: {accepted()}")
    decode = limits.decode_limits()
    try:  # rate and channels first: a 1 Hz header is a bad rate, not a long vocal
        decode.check(path, int(head.samplerate), int(head.channels), None)
    except AudioLimitError as exc:
        raise Rejected(415, f"the file has {str(exc).split(': ', 1)[-1]}") from None
    if 0 < head.frames < 2**62:
        _check_duration(head.frames / head.samplerate, limits)
    try:
        audio, sr = read_audio(path, sample_rate, channels, decode)
    except AudioLimitError as exc:
        detail = str(exc).split(": ", 1)[-1].splitlines()[0]
        if exc.kind == "duration":
            raise Rejected(413, f"the vocal is {detail}") from None
        raise Rejected(415, f"the file has {detail}") from None
    except AudioError as exc:
        detail = str(exc).split(": ", 1)[-1].splitlines()[0]
        raise Rejected(415, f"the audio cannot be decoded ({detail})") from None
    _check_duration(audio.shape[-1] / sr, limits)
    return audio, sr


def _check_duration(seconds: float, limits: Limits) -> None:
    if seconds > limits.max_seconds:
        raise Rejected(
            413, f"the vocal is {seconds:.1f} s long; the limit is {limits.max_seconds:g} s"
        )
