"""Play a vocal through the live engine at real-time pace; write what a listener would have heard.

The same engine a microphone feeds in the web demo's Live mode (docs/live.md): each chunk of
accompaniment depends only on the vocal up to its end plus --lookahead seconds, and must be out
within --latency seconds of its first vocal sample arriving (else an underrun: the listener hears
silence for the late part). OUT is the accompaniment as heard, aligned with the vocal and as long
as it; --mix adds vocal + accompaniment. A JSON-lines timing log (one line per chunk) goes to
--log (default: OUT with the suffix .jsonl). The last line printed is
``latency p50 X s p95 Y s max Z s underruns N``.

--vocals - reads raw PCM from stdin: signed 16-bit little-endian mono (s16le) at --sr Hz
(default: the model's codec rate), e.g. ``sox in.wav -t raw -e signed -b 16 -c 1 -r 22050 - |
samuel live --ckpt last.ckpt --vocals - --out out.wav``. Audio is fed as it comes, never faster
than real time.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from samuel_pl.audio import AUDIO_EXTENSIONS
from samuel_pl.diffusion import SAMPLERS
from samuel_pl.errors import SamuelError

STDIN_BLOCK = 1024  # samples per read from stdin


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="LitSamuel checkpoint (e.g. last.ckpt)")
    parser.add_argument("--vocals", required=True, help="vocal audio file, or - for s16le stdin")
    parser.add_argument("--out", required=True, help="accompaniment as a listener heard it")
    parser.add_argument("--mix", default=None, help="also write vocals + accompaniment here")
    parser.add_argument("--log", default=None, help="per-chunk timing log (JSON lines)")
    parser.add_argument("--latency", type=float, default=1.5, help="play-out delay, s (1.5)")
    parser.add_argument("--lookahead", type=float, default=0.2, help="vocal lookahead, s (0.2)")
    parser.add_argument("--chunk", type=float, default=0.0, help="seconds per chunk (0: auto)")
    parser.add_argument(
        "--future", type=float, default=0.0, help="null-conditioned future in the window, s (0)"
    )
    parser.add_argument("--sr", type=int, default=0, help="stdin sample rate (default: codec's)")
    parser.add_argument("--sampler", choices=sorted(SAMPLERS), default=None)
    parser.add_argument("--steps", type=int, default=None, help="sampler steps per chunk")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu (default) | cuda | mps | auto")
    parser.add_argument(
        "--vocoder",
        default=None,
        help="vocoder checkpoint (none: Griffin-Lim; auto: the shipped one where it fits)",
    )


def run(args: argparse.Namespace) -> int:
    from samuel_pl.audio import convert_channels, read_audio, write_audio
    from samuel_pl.generation import mix_tracks, resolve_device, safe_peak
    from samuel_pl.generation.live_engine import LiveConfig, LiveEngine
    from samuel_pl.generation.live_stream import (
        LiveStream,
        listener_audio,
        play_blocks,
        play_realtime,
        summary_line,
    )

    out = Path(args.out)
    for p in (out, args.mix):
        if p is not None and Path(p).suffix.lower() not in AUDIO_EXTENSIONS:
            raise SamuelError(f"{p}: unsupported output extension (use .wav, .flac, .ogg)")
    for name in ("latency", "lookahead", "chunk", "future"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value >= 0):
            raise SamuelError(f"--{name} must be a finite number >= 0, got {value}")
    if not Path(args.ckpt).is_file():
        raise SamuelError(f"{args.ckpt}: checkpoint not found")
    config = LiveConfig(
        latency=args.latency, lookahead=args.lookahead, chunk=args.chunk, future=args.future,
        sampler=args.sampler, steps=args.steps, cfg=args.cfg, seed=args.seed,
    )  # fmt: skip
    device = resolve_device(args.device)
    engine = LiveEngine.from_checkpoint(args.ckpt, config, device, args.vocoder).warmup()
    sr = engine.sr
    stream = LiveStream(engine)
    if args.vocals == "-":
        rate = args.sr or sr
        if rate < 1000:
            raise SamuelError(f"--sr must be >= 1000 Hz, got {rate}")
        vocals, results = play_blocks(stream, _blocks(sys.stdin.buffer, rate, sr), sr)
        if not vocals.size:
            raise SamuelError("stdin: no audio (expected raw s16le mono PCM)")
    else:
        audio, _ = read_audio(args.vocals, sr, 1)  # (1, N) at the codec rate
        vocals = audio[0]
        results = play_realtime(stream, vocals, sr)
    heard = listener_audio(results, vocals.size, sr, config.latency)
    write_audio(out, safe_peak(heard[None]), sr)
    if args.mix:
        voc = convert_channels(vocals[None], 1)
        write_audio(args.mix, mix_tracks(voc, heard[None]), sr)
    log = Path(args.log) if args.log else out.with_suffix(".jsonl")
    from samuel_pl.files import write_text

    lines = [json.dumps(r.record(stream.t0, sr)) for r in results]
    write_text(log, "\n".join(lines) + "\n")
    print(
        f"{len(results)} chunks of {engine.chunk / engine.frame_rate:.2f} s, lookahead "
        f"{engine.lookahead / engine.frame_rate:.2f} s; wrote {out} and {log}"
    )
    print(summary_line(stream.summary()))
    return 0


def _blocks(fh: BinaryIO, rate: int, sr: int) -> Iterator[np.ndarray]:
    """s16le mono blocks from ``fh`` as float32 at ``sr`` (soxr stream when rates differ)."""
    import soxr

    rs = soxr.ResampleStream(rate, sr, 1, dtype="float32") if rate != sr else None
    odd = b""
    while True:
        data = fh.read(STDIN_BLOCK * 2)
        end = not data
        data, odd = odd + data, b""
        if len(data) % 2:
            data, odd = data[:-1], data[-1:]
        x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        if rs is not None:
            x = rs.resample_chunk(x, last=end)
        if x.size:
            yield x
        if end:
            return
