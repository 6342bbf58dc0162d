"""A scripted OpenAI-compatible chat server on 127.0.0.1, for testing LLM mode through the real client.

The server speaks enough of the Chat Completions API for the OpenAI SDK and langchain-openai's ``ChatOpenAI``:
``POST .../chat/completions`` (plain JSON, or server-sent events when the request says ``"stream": true``) and
``GET .../models``. Replies come from a script, answers are recorded, and nothing is generated: a test says
exactly what the "model" answers and then asserts what the client sent.

Replies, one per request, in order:

* ``"text"`` or :class:`Completion` — an assistant message (optionally with tool calls);
* :class:`ToolCall` (or a list of them) — a tool-calling reply;
* :class:`ErrorReply` — an HTTP error with OpenAI's error body (and e.g. ``retry-after-ms``);
* :class:`Hang` — no answer until the server closes, so the client times out;
* a ``dict`` — sent verbatim as the JSON body (malformed responses).

A callable passed to :meth:`ScriptedOpenAIServer.script` answers every request once the queue is empty.

Example:
    >>> with ScriptedOpenAIServer() as server:  # doctest: +SKIP
    ...     server.script("Returns are free within 30 days [1].")
    ...     model = ChatOpenAI(base_url=server.base_url, api_key="sk-test", model="scripted")
    ...     model.invoke("hi").content
    ...     server.requests[0].content("user")
    'Returns are free within 30 days [1].'
    'hi'
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = [
    "Completion",
    "ErrorReply",
    "Hang",
    "RecordedRequest",
    "Reply",
    "ScriptedOpenAIServer",
    "ToolCall",
]

_HANG_LIMIT_S = 30.0  # a hung request is released at close at the latest, or after this


@dataclass(frozen=True)
class ToolCall:
    """One function call the scripted model makes; ``arguments`` as a mapping, or raw (possibly bad) JSON."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Completion:
    """An assistant message: text, tool calls or both; ``finish_reason`` defaults from the content."""

    content: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with OpenAI's ``{"error": {...}}`` body."""

    status: int = 500
    message: str = "scripted failure"
    type: str = "server_error"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """No reply at all until the server closes: the client's timeout fires."""


Reply = str | Completion | ToolCall | Sequence[ToolCall] | ErrorReply | Hang | Mapping[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received; ``headers`` have lower-case names, ``body`` is the parsed JSON."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool definitions sent."""
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        """Names of the function tools sent, in order."""
        return [t["function"]["name"] for t in self.tools if t.get("type") == "function"]

    def content(self, role: str) -> str:
        """The text of every message with ``role`` (``system``, ``user``, ...), joined by blank lines."""
        texts: list[str] = []
        for message in self.messages:
            if message.get("role") != role:
                continue
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            texts.append(str(content or ""))
        return "\n\n".join(texts)


Responder = Callable[[RecordedRequest], Reply]


class ScriptedOpenAIServer:
    """An OpenAI-compatible HTTP server on an ephemeral 127.0.0.1 port answering from a script.

    Args:
        *replies: Initial queue of replies (see the module docstring).
        model: The model name reported when a request names none.

    Use as a context manager; :attr:`base_url` (ending in ``/v1``) goes to the client.
    """

    def __init__(self, *replies: Reply, model: str = "scripted-model") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque(replies)
        self._responder: Responder | None = None
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        if self._server is None:
            raise RuntimeError("the server is not running: use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply | Responder) -> None:
        """Queue replies; a callable instead answers every request that finds the queue empty."""
        with self._lock:
            for reply in replies:
                if callable(reply):
                    self._responder = reply
                else:
                    self._queue.append(reply)

    def __enter__(self) -> ScriptedOpenAIServer:
        self._release.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-openai", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
            responder = self._responder
        if responder is not None:
            return responder(request)
        return ErrorReply(500, "the scripted server has no reply left", headers={"x-should-retry": "false"})

    def _completion(self, request: RecordedRequest, reply: Completion) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [self._tool_call(call) for call in reply.tool_calls]
        prompt_words = sum(len(str(m.get("content") or "").split()) for m in request.messages)
        answer_words = len((reply.content or "").split())
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.body.get("model") or self.model),
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply), "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": answer_words,
                "total_tokens": prompt_words + answer_words,
            },
        }

    def _tool_call(self, call: ToolCall) -> dict[str, Any]:
        arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(dict(call.arguments))
        return {
            "id": call.id or f"call_{next(self._ids)}",
            "type": "function",
            "function": {"name": call.name, "arguments": arguments},
        }


def _finish(reply: Completion) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _as_completion(reply: Reply) -> Completion | None:
    if isinstance(reply, str):
        return Completion(content=reply)
    if isinstance(reply, Completion):
        return reply
    if isinstance(reply, ToolCall):
        return Completion(tool_calls=[reply])
    if isinstance(reply, Sequence) and all(isinstance(r, ToolCall) for r in reply):
        return Completion(tool_calls=[r for r in reply if isinstance(r, ToolCall)])
    return None


def _stream_chunks(body: Mapping[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A completion body cut into ``chat.completion.chunk`` events, the way OpenAI streams it."""
    choice = body["choices"][0]
    message = choice["message"]
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"]}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    words = (message.get("content") or "").split(" ")
    for i, word in enumerate(words if message.get("content") else []):
        chunks.append(chunk({"content": word if i == 0 else f" {word}"}))
    for index, call in enumerate(message.get("tool_calls") or []):
        chunks.append(chunk({"tool_calls": [{"index": index, **call}]}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": body["usage"]})
    return chunks


def _handler_class(server: ScriptedOpenAIServer) -> type[BaseHTTPRequestHandler]:
    return type("ScriptedHandler", (_Handler,), {"scripted": server})


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_GET(self) -> None:
        """``GET /v1/models``: the one scripted model."""
        if self.path.split("?")[0].rstrip("/").endswith("/models"):
            model = {"id": self.scripted.model, "object": "model", "owned_by": "grounddesk"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._json(404, _error_body(f"no route {self.path}", "not_found"))

    def do_POST(self) -> None:
        """``POST .../chat/completions``: the next scripted reply."""
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            self._json(404, _error_body(f"no route {self.path}", "not_found"))
            return
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, _error_body("the request body is not JSON", "invalid_request_error"))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest("POST", self.path, headers, body if isinstance(body, dict) else {})
        self._reply(request, self.scripted._next_reply(request))

    def _reply(self, request: RecordedRequest, reply: Reply) -> None:
        if isinstance(reply, Hang):
            self.scripted._release.wait(_HANG_LIMIT_S)
            self.close_connection = True
            return
        if isinstance(reply, ErrorReply):
            self._json(reply.status, _error_body(reply.message, reply.type), reply.headers)
            return
        completion = _as_completion(reply)
        if completion is None:
            self._json(200, dict(reply) if isinstance(reply, Mapping) else {})
            return
        body = self.scripted._completion(request, completion)
        if request.body.get("stream"):
            usage = bool((request.body.get("stream_options") or {}).get("include_usage"))
            self._sse(_stream_chunks(body, usage))
        else:
            self._json(200, body)

    def _json(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, chunks: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for item in chunks:
            self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
