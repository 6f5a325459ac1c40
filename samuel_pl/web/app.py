"""The web demo as a small Starlette (ASGI) app: one HTML page and a JSON job API.

Routes:
    GET  /                          the page (static/index.html)
    GET  /static/<file>             its script and style sheet
    GET  /api/info                  model, sampler defaults and limits
    POST /api/jobs?filename=F&sampler=&steps=&cfg=&seed=
                                    body: the raw audio file; 202 with the job, or an error
    GET  /api/jobs/<id>             the job's state, progress and (when done) result URLs
    GET  /api/jobs/<id>/<file>      accompaniment.wav | mix.wav | spectrogram.png
                                    (``?download=1`` for an attachment)
    WS   /api/live?latency=&lookahead=   Live mode (web/live_socket.py): vocal PCM in, chunks out

Errors are JSON ``{"error": message}`` with 400 (bad settings), 403 (another origin), 404,
408 (stalled upload), 413 (too large or too long), 415 (not an accepted audio file), 421 (a
Host this server does not answer to) or 503 (queue full). Jobs belong to the browser session
that created them (see :mod:`samuel_pl.web.request_guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samuel_pl.errors import SamuelError
from samuel_pl.web.jobs import JobQueue, QueueFull
from samuel_pl.web.limits import Limits, Rejected, format_of, load_vocal, parse_settings
from samuel_pl.web.render import OUTPUTS, Renderer
from samuel_pl.web.request_guard import (
    LOOPBACK_HOSTS,
    RequestGuard,
    new_session,
    owns,
    session_of,
    set_session,
)

log = logging.getLogger("samuel_pl.web")
STATIC = Path(__file__).resolve().parent / "static"
_MEDIA = {".wav": "audio/wav", ".png": "image/png"}
_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        b"style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    ),
]


def create_app(
    renderer: Renderer,
    limits: Limits | None = None,
    allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
) -> Starlette:
    """The demo app; its worker starts and stops with the ASGI lifespan.

    ``allowed_hosts``: Host header names the app answers to (None: any). ``app.state.jobs`` is
    the :class:`JobQueue` (tests inspect it).
    """
    lim = limits or Limits()
    jobs = JobQueue(renderer, lim.max_queue, lim.keep_jobs, max_bytes=lim.max_queue_bytes)
    info = {**renderer.info(), "limits": lim.describe()}
    rate, channels = info.get("sample_rate"), info.get("channels")  # the model's

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        jobs.start()
        try:
            yield
        finally:
            jobs.stop()

    async def page(request: Request) -> Response:
        response = HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))
        if session_of(request) is None:
            set_session(response, new_session())
        return response

    async def get_info(request: Request) -> Response:
        return JSONResponse(info)

    async def post_job(request: Request) -> Response:
        folder = None
        session = session_of(request) or new_session()
        try:
            ext = format_of(request.query_params.get("filename", ""))
            settings = parse_settings(
                dict(request.query_params), info["samplers"], info["defaults"], lim
            )
            settings = renderer.effective(settings)
            if settings["steps"] > lim.max_steps:
                raise Rejected(
                    400,
                    f"{settings['sampler']} runs {settings['steps']} steps; this server allows "
                    f"at most {lim.max_steps}",
                )
            if request.headers.get("content-type", "").startswith("multipart/"):
                raise Rejected(415, "send the audio file itself as the request body")
            if jobs.full():
                raise QueueFull("busy")
            job_id, folder = jobs.new_folder()
            upload = folder / f"input{ext}"
            await _receive(request, upload, lim)
            vocals, sr = await run_in_threadpool(load_vocal, upload, lim, rate, channels)
            upload.unlink()
            meta = {
                "filename": _safe_name(request.query_params.get("filename", "")),
                "owner": session,
            }
            job = jobs.submit(job_id, folder, settings, (vocals, sr), meta, size=vocals.nbytes)
        except Rejected as exc:
            _discard(jobs, folder)
            return _error(exc.status, exc.message)
        except QueueFull:
            _discard(jobs, folder)
            return _error(
                503,
                f"the server is busy (its queue of {lim.max_queue} is full); try again in a minute",
                {"retry-after": "30"},
            )
        except ClientDisconnect:
            _discard(jobs, folder)
            log.warning("client disconnected during an upload; its files were removed")
            return Response(status_code=400)  # nobody is left to read it
        except SamuelError as exc:
            _discard(jobs, folder)
            return _error(400, str(exc).splitlines()[0])
        except BaseException:
            _discard(jobs, folder)
            raise
        url = f"/api/jobs/{job.id}"
        response = JSONResponse(jobs.snapshot(job), status_code=202, headers={"location": url})
        if session_of(request) is None:
            set_session(response, session)
        return response

    def own_job(request: Request) -> Any:
        job = jobs.get(request.path_params["job_id"])
        return job if job is not None and owns(session_of(request), job.meta.get("owner")) else None

    async def get_job(request: Request) -> Response:
        job = own_job(request)
        if job is None:
            return _error(
                404,
                f"unknown job (jobs are visible only to the browser session that created them; "
                f"the last {lim.keep_jobs} finished jobs are kept)",
            )
        return JSONResponse(jobs.snapshot(job), headers={"cache-control": "no-store"})

    async def get_file(request: Request) -> Response:
        job = own_job(request)
        name = request.path_params["name"]
        if job is None or name not in OUTPUTS or job.state != "done":
            return _error(404, "no such file")
        stem = Path(name).stem
        given = job.meta.get("filename") or ""
        nice = f"{given}-{name}" if stem != "spectrogram" and given else name
        kind = "attachment" if request.query_params.get("download") else "inline"
        return FileResponse(
            job.folder / name,
            media_type=_MEDIA[Path(name).suffix],
            headers={
                "content-disposition": f'{kind}; filename="{nice}"',
                "cache-control": "private",
            },
        )

    routes = [
        Route("/", page),
        Route("/api/info", get_info),
        Route("/api/jobs", post_job, methods=["POST"]),
        Route("/api/jobs/{job_id:str}", get_job),
        Route("/api/jobs/{job_id:str}/{name:str}", get_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    acc = getattr(renderer, "acc", None)
    if acc is not None:  # Live mode: the microphone over a WebSocket (web/live_socket.py)
        from samuel_pl.web.live_socket import live_route

        routes.insert(0, live_route(acc.module, acc.codec, acc.device, lim.read_timeout_s))
        info["live"] = {"latency": 1.5, "lookahead": 0.2}
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs = jobs
    app.state.limits = lim
    app.add_middleware(RequestGuard, allowed_hosts=allowed_hosts)
    app.add_middleware(_SecurityHeaders)
    return app


async def _receive(request: Request, dest: Path, lim: Limits) -> int:
    """Stream the body into ``dest``; Rejected 413 as soon as it passes ``lim.max_bytes``, 408
    when the client sends nothing for ``lim.read_timeout_s`` or takes longer than
    ``lim.upload_timeout_s`` in all."""
    limit = lim.max_bytes
    too_big = f"the file is larger than the {limit / 2**20:.1f} MB limit"
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Rejected(400, "invalid Content-Length")
        if int(declared) > limit:
            raise Rejected(413, too_big)
    size = 0
    deadline = time.monotonic() + lim.upload_timeout_s
    chunks = request.stream().__aiter__()
    with dest.open("wb") as fh:
        while True:
            left = deadline - time.monotonic()
            try:
                chunk = await asyncio.wait_for(
                    chunks.__anext__(), timeout=max(min(lim.read_timeout_s, left), 0.0)
                )
            except StopAsyncIteration:
                break
            except TimeoutError:
                why = (
                    f"did not finish within {lim.upload_timeout_s:g} s"
                    if left <= lim.read_timeout_s
                    else f"stalled (nothing received for {lim.read_timeout_s:g} s)"
                )
                raise Rejected(408, f"the upload {why}; send it again") from None
            size += len(chunk)
            if size > limit:
                raise Rejected(413, too_big)
            fh.write(chunk)
    if size == 0:
        raise Rejected(400, "the upload is empty; send an audio file as the request body")
    return size


def _safe_name(filename: str) -> str:
    """A download-name stem from the uploaded name: letters, digits, ``-_`` only, 40 chars."""
    stem = Path(filename.replace("\\", "/")).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:40].strip("_")


def _discard(jobs: JobQueue, folder: Path | None) -> None:
    if folder is not None:
        jobs.discard(folder)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _SecurityHeaders:
    """Adds no-sniff, no-referrer and a same-origin content security policy to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
