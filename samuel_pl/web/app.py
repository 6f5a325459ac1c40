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

Errors are JSON ``{"error": message}`` with 400 (bad settings), 404, 413 (too large or too
long), 415 (not an accepted audio file) or 503 (queue full).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samuel_pl.errors import SamuelError
from samuel_pl.web.jobs import JobQueue, QueueFull
from samuel_pl.web.limits import Limits, Rejected, format_of, load_vocal, parse_settings
from samuel_pl.web.render import OUTPUTS, Renderer

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


def create_app(renderer: Renderer, limits: Limits | None = None) -> Starlette:
    """The demo app; its worker starts and stops with the ASGI lifespan.

    ``app.state.jobs`` is the :class:`JobQueue` (tests inspect it).
    """
    lim = limits or Limits()
    jobs = JobQueue(renderer, lim.max_queue, lim.keep_jobs)
    info = {**renderer.info(), "limits": lim.describe()}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        jobs.start()
        try:
            yield
        finally:
            jobs.stop()

    async def page(request: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    async def get_info(request: Request) -> Response:
        return JSONResponse(info)

    async def post_job(request: Request) -> Response:
        folder = None
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
            await _receive(request, upload, lim.max_bytes)
            vocals, sr = await run_in_threadpool(load_vocal, upload, lim)
            upload.unlink()
            meta = {"filename": _safe_name(request.query_params.get("filename", ""))}
            job = jobs.submit(job_id, folder, settings, (vocals, sr), meta)
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
        except SamuelError as exc:
            _discard(jobs, folder)
            return _error(400, str(exc).splitlines()[0])
        except BaseException:
            _discard(jobs, folder)
            raise
        url = f"/api/jobs/{job.id}"
        return JSONResponse(jobs.snapshot(job), status_code=202, headers={"location": url})

    async def get_job(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        if job is None:
            return _error(404, f"unknown job (the last {lim.keep_jobs} finished jobs are kept)")
        return JSONResponse(jobs.snapshot(job), headers={"cache-control": "no-store"})

    async def get_file(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
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
            headers={"content-disposition": f'{kind}; filename="{nice}"'},
        )

    routes = [
        Route("/", page),
        Route("/api/info", get_info),
        Route("/api/jobs", post_job, methods=["POST"]),
        Route("/api/jobs/{job_id:str}", get_job),
        Route("/api/jobs/{job_id:str}/{name:str}", get_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs = jobs
    app.state.limits = lim
    app.add_middleware(_SecurityHeaders)
    return app


async def _receive(request: Request, dest: Path, limit: int) -> int:
    """Stream the body into ``dest``; Rejected 413 as soon as it passes ``limit`` bytes."""
    too_big = f"the file is larger than the {limit / 2**20:.1f} MB limit"
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Rejected(400, "invalid Content-Length")
        if int(declared) > limit:
            raise Rejected(413, too_big)
    size = 0
    with dest.open("wb") as fh:
        async for chunk in request.stream():
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
