"""The Live mode's WebSocket: a take streams back in order and in time; the guards hold; a client
that leaves frees the server."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from typing import Any

import numpy as np
import pytest

aiohttp = pytest.importorskip("aiohttp")
HEADER = struct.Struct("<IIfI")
SR = 22050


def _pcm(seconds: float) -> bytes:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2").tobytes()


async def _cookie(session: Any, base: str) -> None:
    async with session.get(base + "/") as resp:
        assert resp.status == 200


async def _take(base: str, seconds: float, latency: float = 1.5, leave_after: float = 0.0):
    ws_url = base.replace("http", "ws") + f"/api/live?latency={latency}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await _cookie(session, base)
        async with session.ws_connect(ws_url, origin=base) as ws:
            ready = json.loads((await ws.receive()).data)
            assert ready["type"] == "ready" and ready["sample_rate"] == SR
            pcm, block = _pcm(seconds), 2 * 441  # 20 ms blocks at real-time pace
            chunks, arrivals, end = [], [], None
            t0 = time.monotonic()

            async def read() -> None:
                nonlocal end
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        idx, start, lat, flags = HEADER.unpack_from(msg.data)
                        audio = np.frombuffer(msg.data[HEADER.size :], "<f4")
                        chunks.append((idx, start, lat, flags, audio))
                        arrivals.append(time.monotonic() - t0)
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        end = json.loads(msg.data)
                        return

            reader = asyncio.create_task(read())
            for i in range(0, len(pcm), block):
                await asyncio.sleep(max(0.0, t0 + (i + block) / 2 / SR - time.monotonic()))
                await ws.send_bytes(pcm[i : i + block])
                if leave_after and i / 2 / SR >= leave_after:
                    await ws.close()
                    reader.cancel()
                    return chunks, None
            await ws.send_str(json.dumps({"type": "stop"}))
            await asyncio.wait_for(reader, 60)
            return chunks, arrivals, end


def test_a_take_comes_back_whole_in_order_and_within_the_latency(served) -> None:
    base, _ = served
    chunks, arrivals, end = asyncio.run(_take(base, 4.0))
    starts = [c[1] for c in chunks]
    ends = [c[1] + c[4].size for c in chunks]
    assert [c[0] for c in chunks] == list(range(len(chunks)))
    assert starts[0] == 0 and starts[1:] == ends[:-1] and ends[-1] == 4 * SR
    assert end["type"] == "end" and end["summary"]["chunks"] == len(chunks)
    # continuous: while singing, each chunk is back before its audio is due (start / sr + 1.5)
    sung = [c for c, t in zip(chunks, arrivals, strict=True) if c[1] + c[4].size <= 4 * SR - SR]
    assert sung and all(t <= c[1] / SR + 1.5 + 0.25 for c, t in zip(sung, arrivals, strict=False))
    assert all(np.abs(c[4]).max() > 0 for c in chunks if not c[3] & 2)


def test_the_guards_hold_for_the_websocket(served) -> None:
    base, _ = served
    url = base.replace("http", "ws") + "/api/live"

    async def attempt(origin: str | None, cookie: bool, host: str | None = None) -> Any:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            if cookie:
                await _cookie(session, base)
            headers = {"Host": host} if host else {}
            try:
                async with session.ws_connect(url, origin=origin, headers=headers) as ws:
                    msg = await ws.receive()
                    return ("closed", ws.close_code, msg.type)
            except aiohttp.WSServerHandshakeError as exc:
                return ("refused", exc.status)

    assert asyncio.run(attempt("http://evil.example", True)) == ("refused", 403)
    assert asyncio.run(attempt(None, True)) == ("refused", 403)  # no Origin header
    assert asyncio.run(attempt(base, True, host="evil.example"))[0] == "refused"
    assert asyncio.run(attempt(base, False)) == ("refused", 403)  # no session cookie


def test_a_client_that_leaves_frees_the_live_slot(served) -> None:
    base, _ = served
    asyncio.run(_take(base, 3.0, leave_after=1.0))
    deadline = time.monotonic() + 20
    while True:  # the next take starts (the slot is free once the worker has stopped)
        try:
            chunks, _, end = asyncio.run(_take(base, 1.0))
            break
        except aiohttp.WSServerHandshakeError as exc:  # 403 while the slot is still taken
            assert exc.status == 403 and time.monotonic() < deadline
            time.sleep(0.2)
    assert end["summary"]["chunks"] == len(chunks) >= 1
