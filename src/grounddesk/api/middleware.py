"""ASGI middleware of the service: a request size limit, a rate limit per client address, security headers.

All are plain ASGI (no ``BaseHTTPMiddleware``), so streamed responses (SSE) and WebSockets pass untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grounddesk.api.errors import REQUEST_TOO_LARGE
from grounddesk.api.limits import RateLimiter, client_address, counted, retry_after_header
from grounddesk.errors import ErrorCode

__all__ = [
    "AddressRateLimit",
    "AllowlistCORS",
    "RequestSizeLimit",
    "SecurityHeaders",
    "content_security_policy",
    "served_over_tls",
]


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
    body = {"code": REQUEST_TOO_LARGE, "detail": _too_large_detail(limit)}
    await _send_json(send, 413, body, [(b"connection", b"close")])


async def _send_json(send: Send, status: int, body: Mapping[str, object], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class AddressRateLimit:
    """Refuse HTTP requests from a client address whose bucket is empty: ``429 {"code": "rate_limited"}``.

    Only paths under ``prefixes`` are counted (by default the customer-facing API and sign-in). The address is the
    socket's peer, or the ``X-Forwarded-For`` entry appended by the outermost of ``trusted_proxy_hops`` proxies.

    Args:
        app: The wrapped app.
        limiter: The buckets, by address.
        prefixes: Path prefixes to count.
        trusted_proxy_hops: Reverse proxies in front of the service (0: trust no forwarded header).
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, prefixes: Sequence[str], trusted_proxy_hops: int = 0):
        self.app = app
        self.limiter = limiter
        self.prefixes = tuple(prefixes)
        self.hops = trusted_proxy_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection."""
        if scope["type"] != "http" or not counted(str(scope.get("path", "")), self.prefixes):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(client_address(scope, self.hops))
        if wait is None:
            await self.app(scope, receive, send)
            return
        seconds = retry_after_header(wait)
        body = {
            "code": str(ErrorCode.RATE_LIMITED),
            "detail": f"Too many requests from your address. Please try again in {seconds} s.",
            "retry_after_s": int(seconds),
        }
        await _send_json(send, 429, body, [(b"retry-after", seconds.encode())])


def content_security_policy(frame_ancestors: Sequence[str]) -> str:
    """The Content-Security-Policy of every response: only our own scripts, styles and connections.

    No inline script, no ``eval``, no plugins; images only from us (and ``data:`` for the inline icons), so an
    answer can never make the page load a picture from elsewhere.
    """
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


def served_over_tls(scope: Scope, trusted_proxy_hops: int = 0) -> bool:
    """Whether the client reached us over HTTPS: the request's scheme, or a trusted proxy's ``X-Forwarded-Proto``."""
    if str(scope.get("scheme")) in ("https", "wss"):
        return True
    if trusted_proxy_hops <= 0:
        return False
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            # The proxy that faces the client sets it; behind several, it is the first value.
            first: str = bytes(value).decode("latin-1").split(",")[0]
            return first.strip().lower() == "https"
    return False


class SecurityHeaders:
    """Add security headers to every HTTP response.

    ``Content-Security-Policy`` (``script-src 'self'``, ``frame-ancestors`` from the settings),
    ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``Cache-Control: no-store`` on the API
    (``/v1``), whose answers carry tokens and personal data, and ``Strict-Transport-Security`` on requests that
    came over HTTPS (never on plain HTTP, where a browser ignores it and a local setup would be locked out).

    Args:
        app: The wrapped app.
        frame_ancestors: Who may show our pages in a frame (``'self'``, origins); empty: nobody.
        hsts_max_age_s: ``max-age`` of ``Strict-Transport-Security``; 0: never sent.
        trusted_proxy_hops: Reverse proxies in front of the service, whose ``X-Forwarded-Proto`` is believed.
    """

    def __init__(
        self, app: ASGIApp, frame_ancestors: Sequence[str], *, hsts_max_age_s: int = 0, trusted_proxy_hops: int = 0
    ) -> None:
        self.app = app
        self.csp = content_security_policy(frame_ancestors)
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains" if hsts_max_age_s > 0 else None
        self.hops = trusted_proxy_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/v1/")
        hsts = self.hsts if self.hsts and served_over_tls(scope, self.hops) else None

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if api:
                    headers.setdefault("Cache-Control", "no-store")
                if hsts:
                    headers.setdefault("Strict-Transport-Security", hsts)
            await send(message)

        await self.app(scope, receive, with_headers)


class AllowlistCORS(CORSMiddleware):
    """Starlette's CORS middleware for an explicit origin allowlist, refusing preflights in our error shape.

    An allowed origin gets ``Access-Control-Allow-Origin`` (and ``Retry-After`` exposed, so the widget can back off
    from a 429); any other origin gets no CORS header at all, and its preflight a ``400 {"code": "cors_refused"}``.

    Args:
        app: The wrapped app.
        origins: The allowed origins, e.g. ``https://www.example.com``.
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "Last-Event-ID"],
            expose_headers=["Retry-After"],
            allow_credentials=False,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer: Starlette's, with a refusal as ``{"code", "detail"}``."""
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = bytes(response.body).decode() or "Disallowed CORS request"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return JSONResponse(
            {"code": "cors_refused", "detail": f"{detail}: this origin may not call the API"},
            status_code=response.status_code,
            headers=headers,
        )
