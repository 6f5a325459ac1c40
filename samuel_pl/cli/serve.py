"""Serve the browser demo: upload or record a vocal, hear and download the accompaniment.

Binds to 127.0.0.1 by default (the demo has no authentication; use --host 0.0.0.0 only on a
trusted network). One generation runs at a time; up to --max-queue more wait. Uploads over
--max-mb or longer than --max-seconds, and files that are not WAV, FLAC, OGG, MP3 or AIFF, are
refused with a message. --port 0 picks a free port. Stop with Ctrl-C.

Requests must name the bound host (or --allowed-host) in their Host header, POSTs must come from
the demo's own page (Origin), and a job's state and files are visible only to the browser
session (cookie) that created it.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import math
import signal
import socket
import sys
import threading
from collections.abc import Iterator

from samuel_pl.errors import SamuelError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="LitSamuel checkpoint (e.g. last.ckpt)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 = any free)")
    parser.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu) | cpu | cuda | mps"
    )
    parser.add_argument(
        "--vocoder",
        default=None,
        help="task: vocoder checkpoint the mel codec decodes with (none: Griffin-Lim; auto: the "
        "shipped vocoder where it fits; default: "
        "the checkpoint's codec.vocoder)",
    )
    limits = [
        ("--max-mb", float, 25.0, "largest upload in MB"),
        ("--max-seconds", float, 60.0, "longest vocal in seconds"),
        ("--max-queue", int, 4, "generations that may wait behind the running one"),
        ("--max-steps", int, 1000, "most sampler steps per window"),
        ("--max-queue-mb", float, 512.0, "decoded audio the queued jobs may hold, in MB"),
        ("--read-timeout", float, 30.0, "seconds an upload may send nothing before it is dropped"),
    ]
    for flag, kind, default, text in limits:
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default {default:g})")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (e.g. behind a proxy); repeatable",
    )


def run(args: argparse.Namespace) -> int:
    from samuel_pl.web.limits import Limits

    try:
        import uvicorn

        from samuel_pl.web.app import create_app
    except ImportError as exc:
        raise SamuelError(
            f"the web demo needs the serve extra ({exc.name} is missing): pip install -e '.[serve]'"
        ) from None
    from samuel_pl.generation import Accompanist
    from samuel_pl.web.render import Renderer

    if not 0 <= args.port <= 65535:
        raise SamuelError(f"--port must be in [0, 65535], got {args.port}")
    try:
        limits = Limits(
            max_bytes=int(args.max_mb * 2**20) if math.isfinite(args.max_mb) else 0,
            max_seconds=args.max_seconds,
            max_queue=args.max_queue,
            max_steps=args.max_steps,
            max_queue_bytes=int(args.max_queue_mb * 2**20)
            if math.isfinite(args.max_queue_mb)
            else 0,
            read_timeout_s=args.read_timeout,
        )
    except ValueError as exc:
        raise SamuelError(f"invalid limits: {exc}") from None
    sock = _bind(args.host, args.port)
    acc = Accompanist.from_checkpoint(args.ckpt, args.device, vocoder=args.vocoder)
    hosts = allowed_hosts(args.host, args.allowed_host)
    app = create_app(Renderer(acc, args.ckpt), limits, hosts)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if not _loopback(args.host):
        unchecked = "" if hosts else "; any Host header is answered (name it: --allowed-host)"
        sys.stderr.write(
            f"warning: listening on {args.host}, reachable from other machines; "
            f"the demo has no authentication{unchecked}\n"
        )
    print(f"serving on http://{shown}:{port} (model on {acc.device.type}; Ctrl-C stops)")
    sys.stdout.flush()
    config = uvicorn.Config(  # beyond 32 open connections uvicorn answers 503
        app, log_level="warning", access_log=False, lifespan="on", limit_concurrency=32
    )
    with _stop_quietly():
        uvicorn.Server(config).run(sockets=[sock])
    print("stopped")
    return 0


class _Stop(Exception):
    """SIGTERM, re-raised by uvicorn after its graceful shutdown."""


@contextlib.contextmanager
def _stop_quietly() -> Iterator[None]:
    """Treat Ctrl-C and SIGTERM (after uvicorn has shut down cleanly) as a normal exit."""
    main = threading.current_thread() is threading.main_thread()

    def stop(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); SamuelError naming the address when it is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SamuelError(f"cannot resolve host {host!r} ({exc.strerror})") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise SamuelError(
            f"cannot listen on {host}:{port} ({exc.strerror}); try --port 0"
        ) from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def allowed_hosts(host: str, extra: list[str]) -> list[str] | None:
    """Host header names to answer: the loopback names (bound to loopback) or the bound address,
    plus ``extra``; None (any) for a wildcard bind (0.0.0.0, ::) without ``extra``."""
    from samuel_pl.web.request_guard import LOOPBACK_HOSTS, host_name

    names = [host_name(h) for h in extra]
    if _loopback(host):
        return [*LOOPBACK_HOSTS, *names]
    if host in ("0.0.0.0", "::", ""):
        return names or None
    return [host_name(host), *names]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
