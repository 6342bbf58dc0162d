r"""Refuse text that no store can hold, at the edge, with ``422 invalid_input`` instead of a database error later.

PostgreSQL refuses NUL characters in text, and no UTF-8 store (SQLite, PostgreSQL, Qdrant payloads) takes a lone
UTF-16 surrogate, which JSON can spell (``"\ud800"``) and Python decodes happily. Either one reaching a store is a
500 for the client's mistake (the NUL one on PostgreSQL only, so a suite run on SQLite never sees it). The
:class:`StorableText` middleware checks paths, query strings and JSON bodies; :func:`unstorable` is the same test for
code that takes text another way (WebSocket frames).

Example:
    >>> unstorable({"text": "fine"}), unstorable(["a\x00b"])
    (None, 'a NUL character')
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grounddesk.errors import ErrorCode

__all__ = ["StorableText", "unstorable"]

_MAX_DEPTH = 64


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone UTF-16 surrogate (not a character)"
    return None


def unstorable(value: Any, _depth: int = 0) -> str | None:
    """What makes ``value`` (a JSON value: strings in lists and objects, keys included) unstorable, or None."""
    if _depth > _MAX_DEPTH:
        return None  # nesting this deep is refused by the body models anyway
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = unstorable(key, _depth + 1) or unstorable(item, _depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = unstorable(item, _depth + 1)
            if problem:
                return problem
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = bytes(value).split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class StorableText:
    """Answer ``422 {"code": "invalid_input"}`` to a request whose path, query or JSON body holds unstorable text.

    A JSON body is read whole before the app sees it (the size limit outside this middleware bounds it) and handed on
    unchanged; bodies of other types (uploaded files) pass untouched.

    Args:
        app: The wrapped app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = _text_problem(str(scope.get("path", ""))) or _text_problem(
            unquote(bytes(scope.get("query_string", b"")).decode("latin-1"), errors="surrogateescape")
        )
        if problem is None and scope["type"] == "http" and _is_json(scope):
            body, receive = await _buffered(receive)
            try:
                problem = unstorable(json.loads(body)) if body else None
            except (ValueError, RecursionError):
                problem = None  # not JSON: the route's validation answers that
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1007})
        else:
            await _refuse(send, problem)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that replays it before passing on to the real one."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            replay: list[Message] = [message]
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            break
    body = b"".join(chunks)

    async def replaying() -> Message:
        return replay.pop(0) if replay else await receive()

    return body, replaying


async def _refuse(send: Send, problem: str) -> None:
    detail = f"The request contains {problem}, which no field accepts."
    data = json.dumps({"code": str(ErrorCode.INVALID_INPUT), "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
