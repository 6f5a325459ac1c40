"""Request guards of the web demo: Host and Origin checks, and the session cookie.

* Host: a request whose ``Host`` header names another host is refused (HTTP 421), so a web page
  on another domain that re-points its DNS name at this machine (DNS rebinding) cannot talk to
  the demo through the visitor's browser.
* Origin: a POST whose ``Origin`` is not this server's own (or ``Sec-Fetch-Site: cross-site``)
  is refused (HTTP 403), so another site cannot queue jobs, whatever its content type. A
  WebSocket (the Live mode) must come from the same origin too, with an ``Origin`` header, and
  is refused before it opens otherwise (the Host rule holds for it as well).
* Session: the browser gets an HttpOnly, SameSite=Strict cookie; a job is visible (state and
  files) only with the cookie of the session that created it.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "samuel_session"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def host_name(value: str) -> str:
    """The host of a ``Host`` header or URL netloc, without port or IPv6 brackets, lower-case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGuard:
    """ASGI middleware: Host allow-list (``None``: any host) and same-origin POSTs.

    Args:
        app: the wrapped app.
        allowed_hosts: host names (without port) the server answers to, e.g. the bound address
            and ``localhost``; ``None`` accepts any Host (a server bound to every interface
            without ``--allowed-host``).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if scope["type"] == "websocket":  # browsers always send Origin on a WebSocket
            problem = self.problem("WEBSOCKET", host, {"origin": "null", **headers})
            if problem:
                await receive()  # websocket.connect; a close before accept is an HTTP 403
                await send({"type": "websocket.close", "code": 1008, "reason": problem[1]})
                return
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope["method"], host, headers)
        if problem:
            status, message = problem
            body = json.dumps({"error": message}).encode()
            response = Response(body, status_code=status, media_type="application/json")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def problem(self, method: str, host: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) of a refused request, else None."""
        if self.allowed is not None and host_name(host) not in self.allowed:
            return 421, f"this server does not answer to the host {host_name(host)!r}"
        if method.upper() in _SAFE_METHODS:
            return None
        if headers.get("sec-fetch-site", "") == "cross-site":
            return 403, "cross-site requests are refused"
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if origin == "null" or parts.netloc.lower() != host.strip().lower():
                return 403, f"requests from another origin ({origin}) are refused"
        return None


def session_of(request: Request) -> str | None:
    """The session token of the request's cookie, if it is well-formed."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return (
        token
        if 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()
        else None
    )


def new_session() -> str:
    """A fresh random session token."""
    return secrets.token_urlsafe(32)


def set_session(response: Response, token: str) -> None:
    """Give the browser the session cookie (HttpOnly, SameSite=Strict, whole site)."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/")


def owns(token: str | None, owner: str | None) -> bool:
    """Whether the request's session created the job (constant-time comparison)."""
    return bool(token and owner) and hmac.compare_digest(str(token), str(owner))
