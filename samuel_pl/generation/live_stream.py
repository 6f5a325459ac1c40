"""Real-time driver of :class:`~samuel_pl.generation.live_engine.LiveEngine`: one worker thread, a
bounded output queue, deadlines and underruns. The CLI (a file played at real-time pace) and the
web demo (a microphone over a WebSocket) both feed a :class:`LiveStream`.

Timing: vocal sample ``n`` arrives at ``arrival(n)`` (the wall time of the :meth:`LiveStream.feed`
that brought it); its accompaniment must be out by ``arrival(n) + latency`` to be heard in time.
A chunk's latency is ``ready - arrival(start)`` for its first sample (the worst one in it); a
chunk out after its deadline is an *underrun* (a listener hears silence for the part that was
due before it was ready); a chunk whose deadline has passed before it starts is skipped (silence)
so a stream that fell behind catches up instead of drifting.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from samuel_pl.generation.live_engine import Chunk, LiveEngine

Clock = Callable[[], float]


@dataclass
class LiveResult:
    """A chunk with its timing."""

    chunk: Chunk
    arrived: float
    """Wall time (clock) the chunk's first vocal sample arrived."""
    ready: float
    """Wall time the chunk's audio was out."""
    latency: float
    """``ready - arrived`` in seconds."""
    late: bool
    """Out after its deadline (or skipped): an underrun."""

    def record(self, t0: float, sr: int) -> dict[str, object]:
        """One JSON line of the timing log (times relative to the stream's start ``t0``)."""
        c = self.chunk
        return {
            "chunk": c.index,
            "start_s": round(c.start / sr, 4),
            "end_s": round((c.start + c.audio.size) / sr, 4),
            "needed_s": round(c.needed / sr, 4),
            "arrived_s": round(self.arrived - t0, 4),
            "ready_s": round(self.ready - t0, 4),
            "latency_s": round(self.latency, 4),
            "late": self.late,
            "skipped": c.skipped,
            **{f"{k}_s": round(v, 4) for k, v in c.seconds.items()},
        }


class LiveStream:
    """Run ``engine`` on a worker thread as audio is fed; results come out of :attr:`out`.

    Args:
        engine: a fresh :class:`LiveEngine`.
        max_out: results the output queue holds; a consumer that falls further behind loses
            chunks (counted in :attr:`dropped`), the server keeps nothing for it.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, engine: LiveEngine, max_out: int = 32, clock: Clock = time.monotonic):
        self.engine, self.clock = engine, clock
        self.latency = float(engine.config.latency)
        self.out: queue.Queue[LiveResult | None] = queue.Queue(maxsize=max_out)
        self.dropped = 0
        self.results: deque[LiveResult] = deque(maxlen=100_000)  # for the summary and the log
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._pending: list[np.ndarray] = []
        self._arrivals: deque[tuple[int, float]] = deque()  # (received after the feed, time)
        self._received, self._closed, self._stop = 0, False, False
        self._thread = threading.Thread(target=self._run, name="samuel-live", daemon=True)
        self.t0 = clock()

    def start(self) -> LiveStream:
        self.t0 = self.clock()
        self._thread.start()
        return self

    def feed(self, samples: np.ndarray) -> None:
        """Hand over (N,) float32 vocal samples at the codec rate (never blocks on the model)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._cond:
            if self._closed:
                return
            self._pending.append(x)
            self._received += x.size
            self._arrivals.append((self._received, self.clock()))
            self._cond.notify()

    def close(self) -> None:
        """The vocal has ended: the worker finishes the remaining chunks, then sends None."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def abort(self) -> None:
        """Stop now (a client left): the worker ends after its current chunk."""
        with self._cond:
            self._stop = self._closed = True
            self._pending.clear()
            self._cond.notify()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def arrival(self, sample: int) -> float:
        """Wall time at which vocal sample ``sample`` arrived (its feed's time)."""
        with self._cond:
            ends = [e for e, _ in self._arrivals]
            i = min(bisect.bisect_right(ends, sample), len(ends) - 1)
            return self._arrivals[i][1] if ends else self.clock()

    def _take(self) -> bool:
        """Move fed audio into the engine; False when the worker should stop."""
        with self._cond:
            while not self._stop:
                pending, self._pending = self._pending, []
                for x in pending:
                    self.engine.push(x)
                if self._closed and not self.engine.closed:
                    self.engine.close()
                if self.engine.ready() or self.engine.done:
                    break
                self._cond.wait(0.05)
            return not self._stop and not self.engine.done

    def _trim_arrivals(self, sample: int) -> None:
        with self._cond:
            while len(self._arrivals) > 1 and self._arrivals[1][0] <= sample:
                self._arrivals.popleft()

    def _run(self) -> None:
        try:
            while self._take():
                start = self.engine.emitted
                arrived = self.arrival(start)
                deadline = arrived + self.latency
                skip = self.clock() > deadline
                chunk = self.engine.skip() if skip else self.engine.step()
                ready = self.clock()
                res = LiveResult(chunk, arrived, ready, ready - arrived, skip or ready > deadline)
                self._trim_arrivals(chunk.start)
                self.results.append(res)
                try:
                    self.out.put_nowait(res)
                except queue.Full:
                    self.dropped += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self.error = exc
        finally:
            while True:  # the end marker always gets in: drop the oldest result if need be
                try:
                    self.out.put_nowait(None)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        self.out.get_nowait()
                        self.dropped += 1

    # ----- summary -----------------------------------------------------------------------------
    def summary(self) -> dict[str, float | int]:
        """Latency p50/p95/max (seconds, computed chunks) and underruns (late or skipped)."""
        return summarize(list(self.results), self.dropped)


def summarize(results: list[LiveResult], dropped: int = 0) -> dict[str, float | int]:
    """Latency percentiles over computed chunks, and the underrun count."""
    lat = np.array([r.latency for r in results if not r.chunk.skipped], dtype=np.float64)
    q = (lambda p: float(np.percentile(lat, p))) if lat.size else (lambda p: math.nan)
    return {
        "chunks": len(results),
        "latency_p50_s": q(50),
        "latency_p95_s": q(95),
        "latency_max_s": float(lat.max()) if lat.size else math.nan,
        "underruns": sum(1 for r in results if r.late),
        "skipped": sum(1 for r in results if r.chunk.skipped),
        "dropped": int(dropped),
    }


def summary_line(summary: dict[str, float | int]) -> str:
    """``latency p50 X s p95 Y s max Z s underruns N``."""
    return (
        f"latency p50 {summary['latency_p50_s']:.3f} s p95 {summary['latency_p95_s']:.3f} s "
        f"max {summary['latency_max_s']:.3f} s underruns {summary['underruns']}"
    )


def listener_audio(results: list[LiveResult], total: int, sr: int, latency: float) -> np.ndarray:
    """(total,) what a listener heard, aligned with the vocal: each chunk's samples that were due
    (``arrived + (n - start) / sr + latency``) before the chunk was ready are silence."""
    out = np.zeros(total, np.float32)
    for r in results:
        c = r.chunk
        if c.skipped or c.start >= total:
            continue
        lost = max(0, math.ceil((r.ready - r.arrived - latency) * sr))
        lo, hi = c.start + lost, min(total, c.start + c.audio.size)
        if hi > lo:
            out[lo:hi] = c.audio[lost : lost + hi - lo]
    return out


def play_blocks(
    stream: LiveStream,
    blocks: Iterable[np.ndarray],
    sr: int,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[np.ndarray, list[LiveResult]]:
    """Feed (N_i,) blocks at ``sr``, each no earlier than its last sample would have been sung
    (real-time pace), while collecting the results; returns (the vocal (N,), every result)."""
    collected: list[LiveResult] = []

    def collect() -> None:
        while (item := stream.out.get()) is not None:
            collected.append(item)

    reader = threading.Thread(target=collect, name="samuel-live-out", daemon=True)
    reader.start()
    stream.start()
    pieces, fed = [], 0
    try:
        for x in blocks:
            fed += x.size
            wait = stream.t0 + fed / sr - stream.clock()
            if wait > 0:
                sleep(wait)
            stream.feed(x)
            pieces.append(x)
    finally:
        stream.close()
        reader.join()
        stream.join()
    if stream.error is not None:
        raise stream.error
    vocals = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return vocals, collected


def play_realtime(
    stream: LiveStream, vocals: np.ndarray, sr: int, block: float = 0.02
) -> list[LiveResult]:
    """:func:`play_blocks` of (N,) ``vocals`` cut into ``block``-second pieces."""
    step = max(1, int(block * sr))
    return play_blocks(stream, (vocals[i : i + step] for i in range(0, vocals.size, step)), sr)[1]


__all__ = [
    "LiveResult",
    "LiveStream",
    "listener_audio",
    "play_blocks",
    "play_realtime",
    "summarize",
    "summary_line",
]
