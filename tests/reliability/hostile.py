"""Hostile files, written at test time (nothing binary is committed): audio whose header lies
(1 Hz, 2**31 - 1 Hz, 655,350 Hz x 8 channels, 40 channels, hours claimed by a small file),
broken audio, odd but valid names, and checkpoints that are not checkpoints.

Each case knows the part of the one-line error every command must print for it (``problem``;
empty when the file must work). ``python -m tests.reliability.hostile --table OUT.md`` runs
every case through every command as a separate process and writes the table of exit codes,
messages, peak RSS and files left behind.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
SECONDS = 0.6


def tone(sr: int = SR, seconds: float = SECONDS, channels: int = 1) -> np.ndarray:
    """A two-note melody, (N, channels) float32."""
    t = np.arange(int(round(sr * seconds))) / sr
    f = np.where(t < seconds / 2, 330.0, 440.0)
    x = 0.4 * np.sin(2 * np.pi * np.cumsum(f) / sr)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def _patch_wav(path: Path, rate: int | None = None, data_bytes: int | None = None) -> None:
    """Rewrite the rate (and byte rate) in the 'fmt ' chunk and/or the 'data' chunk size."""
    raw = bytearray(path.read_bytes())
    fmt = raw.index(b"fmt ")
    channels, _, _, align = struct.unpack_from("<HIIH", raw, fmt + 10)
    if rate is not None:
        struct.pack_into("<II", raw, fmt + 12, rate, (rate * align) & 0xFFFFFFFF)
    if data_bytes is not None:
        struct.pack_into("<I", raw, raw.index(b"data") + 4, data_bytes)
    path.write_bytes(bytes(raw))


def wav_rate(rate: int, frames: int = 66_000) -> Callable[[Path], None]:
    """A real 16-bit WAV (``frames`` samples, 2 bytes each) whose header says ``rate`` Hz.

    66,000 frames (132 KB) at 1 Hz is the issue's "18.4 hours" file."""

    def write(path: Path) -> None:
        sf.write(str(path), tone(8000, frames / 8000), 8000, subtype="PCM_16")
        _patch_wav(path, rate=rate)

    return write


def wav_long_claim(path: Path) -> None:
    """A 1 s, 44.1 kHz WAV whose data chunk claims 2 GB (6.8 hours)."""
    sf.write(str(path), tone(44100, 1.0), 44100, subtype="PCM_16")
    _patch_wav(path, data_bytes=0x7FFF_FF00)


def flac_claim(rate: int, channels: int, claim_seconds: float) -> Callable[[Path], None]:
    """0.2 s of silence whose FLAC STREAMINFO claims ``claim_seconds``."""

    def write(path: Path) -> None:
        sf.write(str(path), np.zeros((int(0.2 * rate), channels), np.int16), rate, format="FLAC")
        raw = bytearray(path.read_bytes())
        at = 8 + 10  # 'fLaC', block header, min/max block and frame sizes
        (word,) = struct.unpack_from(">Q", raw, at)  # rate:20 channels:3 bits:5 total:36
        total = int(claim_seconds * rate)
        struct.pack_into(">Q", raw, at, (word & ~((1 << 36) - 1)) | total)
        path.write_bytes(bytes(raw))

    return write


def silent_flac(rate: int, channels: int, seconds: float) -> Callable[[Path], None]:
    """A real silent FLAC (tiny on disk, huge when decoded), written block by block."""

    def write(path: Path) -> None:
        block = np.zeros((1 << 16, channels), np.int16)
        n = int(rate * seconds)
        with sf.SoundFile(str(path), "w", rate, channels, "PCM_16", format="FLAC") as f:
            for start in range(0, n, len(block)):
                f.write(block[: min(len(block), n - start)])

    return write


def wav_channels(channels: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        sf.write(str(path), tone(8000, 0.2, channels), 8000, subtype="PCM_16")

    return write


def text(path: Path) -> None:
    path.write_text("these are lyrics, not audio\n" * 40)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def header_only(path: Path) -> None:
    sf.write(str(path), tone(), SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:44])


def truncated_flac(path: Path) -> None:
    sf.write(str(path), tone(seconds=2.0), SR, format="FLAC")
    path.write_bytes(path.read_bytes()[:3000])


def nan_wav(path: Path) -> None:
    x = tone()
    x[len(x) // 3] = np.nan
    sf.write(str(path), x, SR, subtype="FLOAT")


def plain(path: Path) -> None:
    sf.write(str(path), tone(), SR, subtype="PCM_16")


@dataclass(frozen=True)
class AudioCase:
    """A file given as a vocal (or a stem); ``problem`` is a regex of the error (empty: works)."""

    name: str
    filename: str
    write: Callable[[Path], None]
    problem: str = ""
    web_status: int = 202
    web: str = ""
    """Regex of the web API's error (its words for an upload), default ``problem``."""

    @property
    def web_error(self) -> str:
        return self.web or self.problem

    def make(self, folder: Path, filename: str | None = None) -> Path:
        """Write the file as ``folder/filename`` (default: the case's file name)."""
        import shutil
        import tempfile

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (filename or self.filename)
        if os.fsencode(path) != str(path).encode("utf-8", "ignore"):  # soundfile cannot write
            with tempfile.TemporaryDirectory() as tmp:  # to a name that is not UTF-8: move it
                self.write(Path(tmp) / f"file{Path(self.filename).suffix}")
                shutil.move(Path(tmp) / f"file{Path(self.filename).suffix}", path)
        else:
            self.write(path)
        return path


RATE = r"sample rate {} Hz, outside the accepted 8000-384000 Hz"
UNDECODABLE = "the file is not audio that can be decoded"
AUDIO = [
    AudioCase("wav_1hz", "one_hz.wav", wav_rate(1), RATE.format(1), 415),
    AudioCase("wav_2g_hz", "two_g_hz.wav", wav_rate(2**31 - 1), RATE.format(2**31 - 1), 415),
    AudioCase(
        "flac_8ch_655khz", "bomb.flac", flac_claim(655_350, 8, 60.0), RATE.format(655350), 415
    ),
    AudioCase("wav_40ch", "forty.wav", wav_channels(40), r"40 channels; at most (32|8) are", 415),
    AudioCase("flac_5h_claim", "claims.flac", flac_claim(44100, 1, 18000), "18000.0 s", 413),
    AudioCase(
        "wav_2gb_claim",
        "claims_2gb.wav",
        wav_long_claim,
        r"truncated file \(88200 of 2147483392 data",
        415,
    ),
    AudioCase("text_as_wav", "lyrics.wav", text, "not a readable audio file", 415, UNDECODABLE),
    AudioCase(
        "empty_wav",
        "empty.wav",
        empty,
        r"not a readable audio file \(empty",
        400,
        "upload is empty",
    ),
    AudioCase("header_only", "header.wav", header_only, "zero-length audio", 415),
    AudioCase("truncated_flac", "cut.flac", truncated_flac, "(corrupt or )?truncated", 415),
    AudioCase("nan_samples", "nan.wav", nan_wav, "contains NaN or infinite samples", 415),
    AudioCase("non_utf8_name", os.fsdecode(b"caf\xe9 take.wav"), plain),
]
BAD_AUDIO = [c for c in AUDIO if c.problem]


def ids(cases: list[AudioCase] | list[CkptCase]) -> list[str]:
    return [c.name for c in cases]


# -- checkpoints ------------------------------------------------------------------------------
class _Payload:
    """Unpickling this runs ``os.system`` (refused by a weights-only load)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/samuel-pwned",))


def _torch_file(obj: object, cut: float = 1.0) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import torch

        torch.save(obj, path)
        if cut < 1.0:
            path.write_bytes(path.read_bytes()[: int(path.stat().st_size * cut)])

    return write


def vae_checkpoint(path: Path) -> None:
    """A Lightning-shaped checkpoint of a ``task: vae`` run (random weights)."""
    import torch

    config = {"task": "vae", "vae": {"latent_dim": 8}, "data": {"sample_rate": SR, "channels": 1}}
    state = {f"vae.encoder.layers.{i}.weight": torch.zeros(4, 4) for i in range(200)}
    torch.save({"state_dict": state, "hyper_parameters": {"config": config}}, path)


@dataclass(frozen=True)
class CkptCase:
    name: str
    write: Callable[[Path], None]
    problem: str


CHECKPOINTS = [
    CkptCase("ckpt_empty", empty, r"not a checkpoint file \(empty file\)"),
    CkptCase("ckpt_text", text, r"not a checkpoint file \(not a zip archive"),
    CkptCase(
        "ckpt_truncated", _torch_file({"w": np.zeros(1)}, 0.5), r"not a checkpoint file \(trunc"
    ),
    CkptCase(
        "ckpt_random", lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "not a ch"
    ),
    CkptCase(
        "ckpt_pickle",
        _torch_file({"state_dict": {}, "x": _Payload()}),
        r"refused to load checkpoint: it wants to build posix\.system",
    ),
    CkptCase(
        "ckpt_vae", vae_checkpoint, r"this is an audio VAE checkpoint; use it as codec\.path="
    ),
]


# -- running a command as its own process, with its peak memory -------------------------------
@dataclass(frozen=True)
class Measured:
    """What one process did: exit code, output and peak resident memory (MB)."""

    code: int
    stdout: str
    stderr: str
    peak_mb: float


def run_measured(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
    max_memory: int | None = None,
) -> Measured:
    """Run ``cmd`` and return its exit code, output and peak RSS (``wait4``'s ``ru_maxrss`` of
    that one process). ``max_memory`` caps its address space (RLIMIT_AS, bytes), so a
    regression that allocates what a hostile header claims fails with MemoryError instead of
    taking the machine's memory."""
    import resource
    import subprocess
    import tempfile
    import time

    def cap() -> None:
        if max_memory:
            resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, preexec_fn=cap)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            usage.ru_maxrss / 1024.0,
        )


def error_lines(stderr: str) -> list[str]:
    """The ``error:`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]
