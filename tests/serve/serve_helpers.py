"""Shared pieces of the web demo tests: a real uvicorn server on a free loopback port, HTTP calls,
a synthetic vocal, and the headless Chromium driver."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

# One browser-like client: it keeps the demo's session cookie, as a browser would.
COOKIES = http.cookiejar.CookieJar()
_OPENER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(COOKIES))

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def write_vocal(path: Path, seconds: float, sr: int, channels: int = 1) -> Path:
    """A sung-like sine melody with a syllable envelope, written with soundfile."""
    t = np.arange(int(seconds * sr)) / sr
    notes = np.array([220.0, 247.0, 262.0, 294.0, 330.0])
    f = notes[(t * 3).astype(int) % len(notes)]
    env = 0.5 * (1 - np.cos(2 * np.pi * ((t * 3) % 1.0)))
    x = 0.4 * env * np.sin(2 * np.pi * np.cumsum(f) / sr)
    sf.write(str(path), np.stack([x] * channels, axis=1).astype(np.float32), sr)
    return path


@contextlib.contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1:<free port> in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def call(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one request with the shared session cookie; HTTP
    errors are returned, not raised."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with _OPENER.open(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def call_json(url: str, data: bytes | None = None, **kw: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = call(url, data, **kw)
    return status, json.loads(body)


def wait_done(base: str, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a job until it is done or failed; returns its last state."""
    deadline = time.monotonic() + timeout
    while True:
        status, job = call_json(f"{base}/api/jobs/{job_id}")
        assert status == 200, job
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']} after {timeout} s"
        time.sleep(0.05)


def chromium_missing() -> str:
    """Why the browser tests cannot run here ('' when they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.exists() and shutil.which(exe.name) is None:
            return f"{exe} is missing (apt-get install chromium chromium-driver; .ci/run does this)"
    return ""


def chromium(width: int = 900, height: int = 1100, fake_audio: Path | None = None) -> Any:
    """Headless Debian Chromium driven by Selenium, with a fake microphone (a beep, or the WAV
    ``fake_audio`` played in a loop)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    if fake_audio is not None:
        opts.add_argument(f"--use-file-for-fake-audio-capture={fake_audio}")
    driver_path = CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")
    return webdriver.Chrome(options=opts, service=Service(str(driver_path)))
