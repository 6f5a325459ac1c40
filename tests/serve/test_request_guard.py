"""The demo against hostile clients: DNS rebinding (Host), cross-origin POSTs (Origin), stalled
and abandoned uploads, other sessions reading a job, and a queue bounded in bytes."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_helpers import call, call_json, running_server, wait_done, write_vocal  # noqa: E402

from samuel_pl.web.jobs import JobQueue, QueueFull
from samuel_pl.web.limits import Limits

FAST = "sampler=ddim&steps=2&cfg=1.5&seed=3"


def _post(base: str, body: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    hdrs = {"content-type": "application/octet-stream", **headers}
    return call_json(f"{base}/api/jobs?filename=v.wav&{FAST}", body, headers=hdrs, method="POST")


def _folders(app: Any) -> set[str]:
    return {p.name for p in app.state.jobs.root.iterdir()}


def test_requests_for_another_host_are_refused(served: tuple[str, Any], tmp_path: Path) -> None:
    base, app = served
    port = urlsplit(base).port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.2", "localhost.evil.example"):
        status, body = call_json(f"{base}/api/info", headers={"host": host})
        assert status == 421 and "does not answer to the host" in body["error"], host
    before = _folders(app)
    vocal = write_vocal(tmp_path / "v.wav", 0.3, 8000).read_bytes()
    status, body = _post(base, vocal, host=f"rebound.example:{port}")
    assert status == 421 and _folders(app) == before  # nothing was received or queued
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST", f"[::1]:{port}"):
        assert call(f"{base}/api/info", headers={"host": host})[0] == 200, host


def test_cross_origin_posts_are_refused(served: tuple[str, Any], tmp_path: Path) -> None:
    base, app = served
    vocal = write_vocal(tmp_path / "v.wav", 0.3, 8000).read_bytes()
    before = _folders(app)
    for headers in (
        {"origin": "http://evil.example", "content-type": "text/plain"},
        {"origin": "null"},
        {"origin": base.replace("127.0.0.1", "localhost")},  # another origin of the same machine
        {"sec-fetch-site": "cross-site"},
    ):
        status, body = _post(base, vocal, **headers)
        assert status == 403 and "refused" in body["error"], headers
    assert _folders(app) == before
    status, job = _post(base, vocal, origin=base, **{"sec-fetch-site": "same-origin"})
    assert status == 202, job
    assert wait_done(base, job["id"])["state"] == "done"


def test_a_job_is_visible_only_to_its_session(served: tuple[str, Any], tmp_path: Path) -> None:
    base, _ = served
    status, job = _post(base, write_vocal(tmp_path / "v.wav", 0.3, 8000).read_bytes())
    assert status == 202
    job = wait_done(base, job["id"])
    files = [job["result"][k] for k in ("accompaniment", "mix", "spectrogram")]
    assert all(call(base + f)[0] == 200 for f in files)

    def stranger(url: str, cookie: str | None = None) -> int:  # no cookie jar: another browser
        req = urllib.request.Request(url, headers={"cookie": cookie} if cookie else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    for cookie in (None, "samuel_session=" + "A" * 43, "samuel_session="):
        assert stranger(f"{base}/api/jobs/{job['id']}", cookie) == 404
        assert all(stranger(base + f, cookie) == 404 for f in files)
    # The page hands a new browser its cookie; the POST answer does too.
    with urllib.request.urlopen(f"{base}/", timeout=30) as resp:
        cookie = resp.headers["set-cookie"]
    assert "samuel_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def _raw_upload(base: str, declared: int, sent: bytes) -> socket.socket:
    """A client that declares ``declared`` body bytes and sends only ``sent``."""
    parts = urlsplit(base)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = (
        f"POST /api/jobs?filename=v.wav&{FAST} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + sent)
    return sock


def _read_reply(sock: socket.socket, first: bytes = b"", timeout: float = 10.0) -> str:
    """The whole HTTP reply: headers and the Content-Length body may arrive in separate
    segments, so read until the body is complete, the server closes, or ``timeout``."""
    data, deadline = first, time.monotonic() + timeout
    sock.settimeout(1.0)
    while time.monotonic() < deadline:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                (int(ln.split(b":", 1)[1]) for ln in head.split(b"\r\n")
                 if ln.lower().startswith(b"content-length:")), 0,
            )  # fmt: skip
            if len(body) >= length:
                break
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


@pytest.fixture()
def impatient(renderer: Any) -> Any:
    """The demo with a 0.5 s read timeout and a 2 s upload deadline, on its own port."""
    from samuel_pl.web.app import create_app

    app = create_app(renderer, Limits(read_timeout_s=0.5, upload_timeout_s=2.0))
    with running_server(app) as base:
        yield base, app


def test_a_stalled_upload_times_out_and_its_folder_is_removed(impatient: Any) -> None:
    base, app = impatient
    t0 = time.monotonic()
    sock = _raw_upload(base, 100_000, b"RIFF" + b"\0" * 100)
    reply = _read_reply(sock)
    took = time.monotonic() - t0
    sock.close()
    assert reply.startswith("HTTP/1.1 408"), reply
    assert "the upload stalled (nothing received for 0.5 s)" in reply
    assert took < 5
    assert _folders(app) == set()
    # A client that trickles bytes forever hits the upload deadline instead.
    sock = _raw_upload(base, 100_000, b"RIFF")
    t0 = time.monotonic()
    first = b""
    while not first and time.monotonic() - t0 < 10:
        sock.sendall(b"\0")
        time.sleep(0.2)
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            first = sock.recv(4096)
        sock.setblocking(True)
    reply = _read_reply(sock, first)
    sock.close()
    assert reply.startswith("HTTP/1.1 408") and "did not finish within 2 s" in reply, reply
    assert _folders(app) == set()


def test_a_client_that_disconnects_is_one_log_line(
    impatient: Any, caplog: pytest.LogCaptureFixture
) -> None:
    base, app = impatient
    with caplog.at_level(logging.INFO):
        sock = _raw_upload(base, 100_000, b"RIFF" + b"\0" * 1000)
        time.sleep(0.2)
        sock.close()
        deadline = time.monotonic() + 10
        while "client disconnected" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in lines] == [
        "client disconnected during an upload; its files were removed"
    ]
    assert "Traceback" not in caplog.text and all(r.exc_info is None for r in lines)
    assert _folders(app) == set()


def test_the_queue_is_bounded_in_bytes(tmp_path: Path) -> None:
    q = JobQueue(lambda job, progress: {}, max_queue=8, root=tmp_path, max_bytes=1000)
    first = q.new_folder()
    q.submit(*first, {}, payload=b"x", size=800)  # one job always fits an empty queue
    second = q.new_folder()
    with pytest.raises(QueueFull, match="holds 800 bytes"):
        q.submit(*second, {}, payload=b"x", size=300)
    q.submit(*second, {}, payload=b"x", size=200)
    assert q.held_bytes() == 1000
    q.start()
    deadline = time.monotonic() + 10
    while q.held_bytes() and time.monotonic() < deadline:  # finished jobs hold nothing
        time.sleep(0.01)
    q.stop()
    assert q.held_bytes() == 0
