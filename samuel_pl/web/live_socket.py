"""The demo's Live mode: a microphone over a WebSocket through the live engine, chunks back.

``GET /api/live?latency=1.5&lookahead=0.2`` upgrades to a WebSocket (Host, Origin and the session
cookie are checked as for every request: :mod:`samuel_pl.web.request_guard`). Protocol:

* server -> client, text: ``{"type": "ready", "sample_rate", "latency", "chunk_s",
  "lookahead_s"}`` first; ``{"type": "end", "summary": {...}}`` last; ``{"type": "error",
  "message"}`` before a close for bad input.
* client -> server, binary: the vocal as signed 16-bit little-endian mono PCM at
  ``sample_rate``, any block size up to :data:`MAX_MESSAGE` bytes; text ``{"type": "stop"}``
  ends the take (the remaining accompaniment still comes back, then ``end``).
* server -> client, binary: one chunk each: a 16-byte header (little-endian uint32 chunk index,
  uint32 first sample, float32 latency in seconds, uint32 flags: 1 late, 2 skipped) followed by
  float32 mono samples. Sample ``n`` of the take is meant to be heard ``latency`` seconds after
  vocal sample ``n`` was sung.

One live take runs at a time (another gets ``1013``). A take ends after
:data:`MAX_TAKE_SECONDS`, when the client sends nothing for the read timeout, when it does not
read what is sent for :data:`SEND_TIMEOUT` seconds, or when it leaves; the engine's worker then
stops and nothing of the take is kept on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import queue
import struct
import threading
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from samuel_pl.errors import SamuelError
from samuel_pl.generation.live_engine import LiveConfig, LiveEngine
from samuel_pl.generation.live_stream import LiveStream
from samuel_pl.web.request_guard import session_of

log = logging.getLogger("samuel_pl.web")
MAX_MESSAGE = 1 << 16  # bytes of PCM per message (~1.5 s at 22 kHz)
MAX_TAKE_SECONDS = 600.0
SEND_TIMEOUT = 10.0
HEADER = struct.Struct("<IIfI")


def live_route(module: Any, codec: Any, device: Any, read_timeout: float = 30.0) -> WebSocketRoute:
    """The ``/api/live`` WebSocket route over a loaded model (an Accompanist's parts)."""
    busy = threading.Lock()

    async def endpoint(ws: WebSocket) -> None:
        if session_of(ws) is None:  # type: ignore[arg-type]
            await ws.close(code=1008, reason="no session: load the page first")
            return
        if not busy.acquire(blocking=False):
            await ws.close(code=1013, reason="another live take is running; try again later")
            return
        try:
            await _take(ws, module, codec, device, read_timeout)
        finally:
            busy.release()

    return WebSocketRoute("/api/live", endpoint)


def _config(params: Any) -> LiveConfig:
    def number(name: str, default: float, lo: float, hi: float) -> float:
        raw = params.get(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise SamuelError(f"{name} must be a number, got {raw!r}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise SamuelError(f"{name} must be in [{lo:g}, {hi:g}] s, got {raw}")
        return value

    return LiveConfig(
        latency=number("latency", 1.5, 0.1, 10.0),
        lookahead=number("lookahead", 0.2, 0.0, 2.0),
    )


async def _take(ws: WebSocket, module: Any, codec: Any, device: Any, timeout: float) -> None:
    await ws.accept()
    try:
        config = _config(ws.query_params)
        engine = await run_in_threadpool(lambda: LiveEngine(module, codec, config, device).warmup())
    except SamuelError as exc:
        await ws.send_text(json.dumps({"type": "error", "message": str(exc).splitlines()[0]}))
        await ws.close(code=1008)
        return
    stream = LiveStream(engine, max_out=64).start()
    sr = engine.sr
    await ws.send_text(
        json.dumps({
            "type": "ready", "sample_rate": sr, "latency": config.latency,
            "chunk_s": round(engine.chunk / engine.frame_rate, 4),
            "lookahead_s": round(engine.lookahead / engine.frame_rate, 4),
        })
    )  # fmt: skip
    sender = asyncio.create_task(_send_chunks(ws, stream))
    try:
        await _receive(ws, stream, sr, timeout, sender)
        await sender  # the rest of the take, then "end"
    except (WebSocketDisconnect, RuntimeError, TimeoutError) as exc:
        log.info("live take ended early: %s", type(exc).__name__)
    finally:
        stream.abort()
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
        await run_in_threadpool(stream.join, 5.0)
        with contextlib.suppress(Exception):
            await ws.close()


async def _receive(
    ws: WebSocket, stream: LiveStream, sr: int, timeout: float, sender: asyncio.Task[None]
) -> None:
    """Feed the client's PCM until it says stop (or the take is too long); then close."""
    fed = 0
    while True:
        if sender.done():  # the client stopped reading (or left): end the take
            sender.result()
            raise RuntimeError("the sender ended")
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))
        data, text = msg.get("bytes"), msg.get("text")
        if data is not None:
            if len(data) > MAX_MESSAGE or len(data) % 2:
                raise RuntimeError("bad PCM message")
            x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
            fed += x.size
            stream.feed(x)
            if fed >= MAX_TAKE_SECONDS * sr:
                break
        elif text is not None and json.loads(text or "{}").get("type") == "stop":
            break
    stream.close()


async def _send_chunks(ws: WebSocket, stream: LiveStream) -> None:
    """Send each result as it comes; ``end`` with the summary when the stream is over."""
    while True:
        try:
            item = await run_in_threadpool(stream.out.get, True, 0.25)
        except queue.Empty:
            if not stream.alive and stream.out.empty():
                break
            continue
        if item is None:
            break
        c = item.chunk
        flags = (1 if item.late else 0) | (2 if c.skipped else 0)
        head = HEADER.pack(c.index, c.start, item.latency, flags)
        payload = head + np.ascontiguousarray(c.audio, dtype="<f4").tobytes()
        await asyncio.wait_for(ws.send_bytes(payload), SEND_TIMEOUT)
    summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in stream.summary().items()}  # fmt: skip
    await ws.send_text(json.dumps({"type": "end", "summary": summary}))
