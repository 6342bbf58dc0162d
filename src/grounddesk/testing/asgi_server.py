"""Serve an ASGI app (FastAPI) on 127.0.0.1 from a background thread, for tests and local demos.

The listening socket is bound before the thread starts, so the URL is known at once, and :meth:`AsgiServer.start`
returns only when uvicorn has finished its startup (an event, not a sleep). Needs the ``uvicorn`` package.

Example:
    >>> with AsgiServer(app) as server:
    ...     httpx.get(f"{server.base_url}/health")
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType
from typing import Any, Literal, Self

__all__ = ["AsgiServer"]

logger = logging.getLogger(__name__)


class AsgiServer:
    """An ASGI app served by uvicorn on a free loopback port, in a daemon thread.

    Args:
        app: The ASGI application.
        host: The address to bind (loopback by default: nothing outside the machine can reach it).
        port: The port; 0 picks a free one.
        startup_timeout_s: How long :meth:`start` waits for uvicorn.
        graceful_shutdown_s: How long :meth:`stop` lets requests in flight finish.
        ws: uvicorn's WebSocket implementation: ``"none"`` (default), or ``"websockets"`` / ``"auto"`` for an app
            that serves WebSockets.
        lifespan: ``"off"`` (default: the caller builds what the app needs) or ``"on"`` to run the app's lifespan.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 15.0,
        graceful_shutdown_s: float = 2.0,
        ws: Literal["none", "auto", "websockets", "websockets-sansio", "wsproto"] = "none",
        lifespan: Literal["off", "on", "auto"] = "off",
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._startup_timeout_s = startup_timeout_s
        self._graceful_shutdown_s = graceful_shutdown_s
        self._ws = ws
        self._lifespan = lifespan
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port served (known once started)."""
        if self._bound_port is None:
            raise RuntimeError("the server is not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> Self:
        """Bind, start uvicorn in a thread and wait until it serves.

        Raises:
            RuntimeError: uvicorn did not start in time, or failed to.
        """
        import uvicorn

        ready = threading.Event()

        class _Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                ready.set()

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections: without it a keep-alive response written in two pieces waits for the
        # client's delayed ACK (about 40 ms per request on Linux loopback).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self._host, self._port))
        sock.listen(128)
        self._bound_port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan=self._lifespan,
            ws=self._ws,
            http="h11",
            timeout_graceful_shutdown=int(max(self._graceful_shutdown_s, 1)),
        )
        server = _Server(config)

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            finally:
                ready.set()  # wakes start() when uvicorn gave up during startup

        thread = threading.Thread(target=serve, name=f"asgi-server-{sock.getsockname()[1]}", daemon=True)
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        if not ready.wait(self._startup_timeout_s) or not server.started:
            self.stop()
            raise RuntimeError(f"uvicorn did not start on {self._host} within {self._startup_timeout_s:g}s")
        logger.debug("asgi server started", extra={"url": self.base_url})
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self._graceful_shutdown_s + 10)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._thread, self._server, self._socket = None, None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
