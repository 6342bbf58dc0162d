"""The service in a child process that can be killed: for fault tests and fault benchmarks.

``python -m grounddesk.testing.service_process --port N`` is ``grounddesk serve`` with one difference: the
model-free :class:`~grounddesk.testing.embedders.HashingEmbedder` stands in for the sentence-transformers model,
which takes seconds to load at every start (a test that restarts the service twenty times cannot wait for it).
Everything else is the shipped service: settings from the environment (``GROUNDDESK_HOME``,
``GROUNDDESK_DATABASE_URL``, ...), :func:`~grounddesk.api.services.build_services`,
:func:`~grounddesk.api.app.create_app` and uvicorn.

:class:`ServiceProcess` starts such a process (or any command that takes ``--host``/``--port``, e.g.
``grounddesk serve``), waits until ``/readyz`` answers 200, kills it with ``SIGKILL`` and starts it again on the
same port. :func:`prepare_home` imports and approves the demo help centre with the same embedder, so the child
answers from it.

With ``standby=True`` the next process is started ahead, while the current one serves: it imports everything
(the slow part of a start, seconds on a busy machine) and then waits for a line on its standard input before it
builds the services and binds the port. A restart then costs only the build, which keeps a drill of twenty kills
within a test's time; a cold restart (the default) measures what a plain supervisor would see.

Example:
    >>> settings = Settings(home=tmp / "home")
    >>> prepare_home(settings)
    >>> with ServiceProcess(service_env(settings)) as service:
    ...     httpx.post(f"{service.base_url}/v1/conversations", json={})
    ...     service.kill()          # kill -9, mid-whatever
    ...     service.start()         # same port, same home
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from grounddesk.config import Settings
from grounddesk.testing.embedders import HashingEmbedder

__all__ = ["HASHING_DIMENSION", "ServiceProcess", "free_port", "main", "prepare_home", "service_env"]

logger = logging.getLogger(__name__)

#: The HashingEmbedder's vector size in the child (the home's knowledge must be embedded with the same).
HASHING_DIMENSION = 256
_MODULE = "grounddesk.testing.service_process"
_POLL_S = 0.05
_PRELOAD = (
    "grounddesk.agent.calibration",
    "grounddesk.agent.compose",
    "grounddesk.agent.confidence",
    "grounddesk.agent.graph",
    "grounddesk.agent.guard",
    "grounddesk.agent.playbook",
    "grounddesk.agent.router",
    "grounddesk.db",
    "grounddesk.knowledge.stores",
    "grounddesk.tools",
    "langgraph.checkpoint.sqlite",
)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the child binds it with ``SO_REUSEADDR``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prepare_home(settings: Settings, *, dimension: int = HASHING_DIMENSION) -> None:
    """Import and approve the demo help centre into ``settings``' stores, embedded by the HashingEmbedder.

    Args:
        settings: The child's settings (same home, same database URL).
        dimension: The HashingEmbedder's vector size; the child must use the same.

    Raises:
        AssertionError: A demo document failed to import.
    """
    from grounddesk.demo import knowledge_dir
    from grounddesk.wiring import build_knowledge_base

    kb = build_knowledge_base(settings, embedder=HashingEmbedder(dimension))
    try:
        report = kb.import_paths([knowledge_dir()], approve=True, actor="faults")
        if report.errors:
            raise AssertionError(f"demo knowledge failed to import: {report.errors}")
    finally:
        kb.close()


def service_env(settings: Settings, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The child's environment: ``base`` (default: this process's) with ``settings``' home and database.

    Args:
        settings: Where the child keeps its data.
        base: The environment to start from.
        **extra: More variables, e.g. ``GROUNDDESK_AGENT_ANSWER_THRESHOLD="0.3"``.
    """
    env = dict(os.environ if base is None else base)
    env["GROUNDDESK_HOME"] = str(settings.home)
    env["GROUNDDESK_DATABASE_URL"] = settings.database_url()
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.update(extra)
    return env


class ServiceProcess:
    """A service in a child process: start, wait until ready, ``kill -9``, start again on the same port.

    Args:
        env: The child's environment (see :func:`service_env`).
        command: The program and its arguments, without ``--host``/``--port`` (added here); default:
            ``python -m grounddesk.testing.service_process``.
        port: The port to serve on; default: a free one, kept across restarts.
        log_path: Where the child's output goes (appended across restarts); default: discarded.
        startup_timeout_s: How long :meth:`start` waits for ``/readyz`` to answer 200.
        standby: Keep the next process imported and waiting (only for the default command, see the module).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        command: Sequence[str] | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 90.0,
        standby: bool = False,
    ) -> None:
        if standby and command is not None:
            raise ValueError("standby needs the default command (python -m grounddesk.testing.service_process)")
        self.env = dict(env)
        self.command = list(command) if command is not None else [sys.executable, "-m", _MODULE]
        self.standby = standby
        self.port = port or free_port()
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.starts = 0
        self.kills = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._next: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def start(self) -> float:
        """Start the child and wait until ``/readyz`` answers 200.

        Returns:
            Seconds from the start of the process to its first ready answer.

        Raises:
            RuntimeError: The child is already running, exited during startup, or was not ready in time.
        """
        if self.pid is not None:
            raise RuntimeError("the service is already running")
        started = time.monotonic()
        if self.standby:
            process = self._next if self._next is not None and self._next.poll() is None else self._spawn()
            self._next = None
            stdin = process.stdin
            assert stdin is not None
            stdin.write(b"go\n")
            stdin.flush()
        else:
            process = self._spawn()
        self._process = process
        self.starts += 1
        self._wait_ready(process, started)
        if self.standby:
            self._next = self._spawn()
        return time.monotonic() - started

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.log_path is not None and self._log is None:
            self._log = self.log_path.open("ab")
        output: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        args = [*self.command, "--host", "127.0.0.1", "--port", str(self.port)]
        if self.standby:
            args.append("--standby")
        stdin = subprocess.PIPE if self.standby else subprocess.DEVNULL
        return subprocess.Popen(args, env=self.env, stdin=stdin, stdout=output, stderr=output)

    def _wait_ready(self, process: subprocess.Popen[bytes], started: float) -> None:
        deadline = started + self.startup_timeout_s
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the service exited during startup (code {process.returncode})")
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"the service was not ready within {self.startup_timeout_s:g}s")
                time.sleep(_POLL_S)  # polling another process's readiness: there is no event to wait on

    def kill(self) -> None:
        """``kill -9`` the child (no shutdown, no flush) and reap it. Nothing happens when it is not running."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stdin is not None:
            process.stdin.close()
        self.kills += 1

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the child gracefully (``SIGTERM``), or kill it after ``timeout_s``; end the standby; close the log."""
        for process in (self._process, self._next):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process is not None and process.stdin is not None:
                process.stdin.close()
        self._process = self._next = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve like ``grounddesk serve``, with the HashingEmbedder (settings from the environment)."""
    import uvicorn

    from grounddesk.api.app import create_app
    from grounddesk.api.services import build_services

    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dimension", type=int, default=HASHING_DIMENSION)
    parser.add_argument("--standby", action="store_true", help="Import, then wait for a line on stdin to start.")
    args = parser.parse_args(argv)
    if args.standby:
        for module in _PRELOAD:  # what build_services imports lazily: the slow part of a start
            importlib.import_module(module)
        if not sys.stdin.readline():
            return  # the parent closed our input: we are not needed
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    services = build_services(settings, embedder=HashingEmbedder(args.dimension))
    try:
        app = create_app(settings, services=services)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        services.close()


if __name__ == "__main__":
    main()
