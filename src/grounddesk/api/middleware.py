"""ASGI middleware of the service: a request size limit and security headers.

Both are plain ASGI (no ``BaseHTTPMiddleware``), so streamed responses (SSE) and WebSockets pass untouched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grounddesk.api.errors import REQUEST_TOO_LARGE

__all__ = ["RequestSizeLimit", "SecurityHeaders", "content_security_policy"]


class _TooLarge(HTTPException):
    """The body grew past the limit while it was being read.

    An ``HTTPException``, so FastAPI's body parsing lets it through (it turns other errors into a 400) and the
    error handlers answer ``413 request_too_large``.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_detail(limit))


class RequestSizeLimit:
    """Refuse request bodies over a limit with ``413 {"code": "request_too_large"}``.

    A declared ``Content-Length`` over the limit is refused before the body is read; a body without one (chunked)
    is counted as it arrives and refused as soon as it passes the limit.

    Args:
        app: The wrapped app.
        max_bytes: The limit for every path...
        overrides: ...except these path prefixes, which get their own limit (e.g. uploads).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, overrides: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = tuple(overrides)

    def _limit(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)


def _too_large_detail(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes."


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"code": REQUEST_TOO_LARGE, "detail": _too_large_detail(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def content_security_policy(frame_ancestors: Sequence[str]) -> str:
    """The Content-Security-Policy of every response: only our own scripts, styles and connections."""
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


class SecurityHeaders:
    """Add security headers to every HTTP response.

    ``Content-Security-Policy`` (``default-src 'self'``, ``frame-ancestors`` from the settings),
    ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, and ``Cache-Control: no-store`` on the API
    (``/v1``), whose answers carry tokens and personal data.

    Args:
        app: The wrapped app.
        frame_ancestors: Who may show our pages in a frame (``'self'``, origins); empty: nobody.
    """

    def __init__(self, app: ASGIApp, frame_ancestors: Sequence[str]) -> None:
        self.app = app
        self.csp = content_security_policy(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/v1/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
