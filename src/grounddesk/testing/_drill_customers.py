"""Simulated widget customers for the fault drills: they chat over HTTP and re-send what got no reply.

Each customer is a thread with its own HTTP client. It starts a conversation, sends a message with a fresh
``client_message_id``, and reads the conversation (``GET /v1/conversations/{id}``) until a reply answers that id
(``answer``, ``clarify`` or ``handoff`` with ``reply_to`` = the id). When the service fails it (no connection,
a 5xx, a 429) or stays silent too long, it re-sends the same message with the same id, as the widget does after a
reconnect. After a hand-off it starts a new conversation (the bot is silent while a person owns one).

Every HTTP failure is recorded with its status, whether its body had the ``{"code", "detail"}`` form, and how long
the request took, so a drill can tell a clean failure from a hang or a malformed error.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["QUESTIONS", "Customer", "DrillLog", "Failure", "SentMessage"]

#: What the customers ask, with weights: mostly answers from the demo help centre, some questions the bot must
#: clarify, some hand-offs (a person asked for; a question answered with too little confidence).
QUESTIONS: tuple[tuple[str, int], ...] = (
    ("What is your return policy?", 3),
    ("Can I return a gift?", 2),
    ("Can I exchange a jacket for a different size?", 2),
    ("Do you ship to the UK?", 2),
    ("Where is my order?", 1),
    ("Where can I find my tracking number?", 1),
    ("How long do refunds take to arrive?", 1),
    ("I want to talk to a person", 1),
)
_REPLY_TYPES = frozenset({"answer", "clarify", "handoff"})
_POLL_S = 0.2


@dataclass
class SentMessage:
    """One customer message and what became of it (times are ``time.monotonic()``)."""

    conversation_id: str
    client_message_id: str
    text: str
    first_sent_at: float
    sends: int = 0
    sent_at: list[float] = field(default_factory=list)
    accepted: bool = False
    replied_at: float | None = None
    reply_type: str | None = None


@dataclass
class Failure:
    """A request the service did not serve: a status >= 500 or 429, or no HTTP answer at all (``status`` None)."""

    at: float
    method: str
    path: str
    status: int | None
    seconds: float
    error_shape: bool = False
    detail: str = ""


@dataclass
class DrillLog:
    """What all customers did, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    conversations: dict[str, str] = field(default_factory=dict)
    messages: dict[str, SentMessage] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0
    longest_request_s: float = 0.0
    gave_up: list[str] = field(default_factory=list)

    def unanswered(self) -> list[str]:
        """Client message ids sent and not answered yet."""
        with self.lock:
            return [m.client_message_id for m in self.messages.values() if m.replied_at is None]

    def replied_at(self, client_message_id: str) -> float | None:
        """When the customer saw the reply to a message."""
        with self.lock:
            return self.messages[client_message_id].replied_at

    def failure_counts(self) -> dict[str, int]:
        """Failures by status (``transport`` for requests that got no HTTP answer)."""
        with self.lock:
            return dict(Counter(str(f.status) if f.status is not None else "transport" for f in self.failures))


class Customer(threading.Thread):
    """One simulated customer (a thread); stops after the current message once ``stop`` is set.

    Args:
        name: Prefix of its client message ids.
        base_url: The service.
        log: Where it records what it does.
        stop: Set to make it finish.
        seed: Its questions are drawn from a generator seeded with this.
        request_timeout_s: A request without an answer by then counts as a failure (and is retried).
        resend_after_s: Re-send a message that got no reply for this long, even without a failure seen.
        give_up_after_s: Stop waiting for a reply after this long (the drill then reports the message).
        max_messages: Messages per conversation before starting a new one.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        log: DrillLog,
        stop: threading.Event,
        *,
        seed: int,
        request_timeout_s: float = 15.0,
        resend_after_s: float = 10.0,
        give_up_after_s: float = 120.0,
        max_messages: int = 6,
    ) -> None:
        super().__init__(name=f"customer-{name}", daemon=True)
        self.customer = name
        self.base_url = base_url
        self.log = log
        self.stop = stop
        self.rng = random.Random(seed)
        self.request_timeout_s = request_timeout_s
        self.resend_after_s = resend_after_s
        self.give_up_after_s = give_up_after_s
        self.max_messages = max_messages
        self.sent = 0
        self.error: BaseException | None = None
        self._texts = [text for text, weight in QUESTIONS for _ in range(weight)]

    def run(self) -> None:
        """Chat until stopped."""
        try:
            with httpx.Client(base_url=self.base_url, timeout=self.request_timeout_s) as client:
                while not self.stop.is_set():
                    self._conversation(client)
        except BaseException as exc:  # reported by the drill, which joins the thread
            self.error = exc

    def _conversation(self, client: httpx.Client) -> None:
        created = self._until_served(client, "POST", "/v1/conversations", json={})
        conversation_id, token = str(created["id"]), str(created["token"])
        with self.log.lock:
            self.log.conversations[conversation_id] = token
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(self.max_messages):
            if self.stop.is_set():
                return
            self.sent += 1
            message = SentMessage(
                conversation_id, f"{self.customer}-{self.sent}", self.rng.choice(self._texts), time.monotonic()
            )
            with self.log.lock:
                self.log.messages[message.client_message_id] = message
            self._send(client, message, headers)
            if self._await_reply(client, message, headers) in (None, "handoff"):
                return

    def _send(self, client: httpx.Client, message: SentMessage, headers: dict[str, str]) -> None:
        body = {"client_message_id": message.client_message_id, "text": message.text}
        path = f"/v1/conversations/{message.conversation_id}/messages"
        self._until_served(client, "POST", path, json=body, headers=headers)
        with self.log.lock:
            message.sends += 1
            message.sent_at.append(time.monotonic())
            message.accepted = True

    def _await_reply(self, client: httpx.Client, message: SentMessage, headers: dict[str, str]) -> str | None:
        path = f"/v1/conversations/{message.conversation_id}"
        started = last_send = time.monotonic()
        failed = False
        while time.monotonic() - started < self.give_up_after_s:
            response = self._request(client, "GET", path, headers=headers)
            if response is None:
                failed = True
            else:
                reply = _reply_to(response.json()["events"], message.client_message_id)
                if reply is not None:
                    with self.log.lock:
                        message.replied_at, message.reply_type = time.monotonic(), reply
                    return reply
                if failed or time.monotonic() - last_send > self.resend_after_s:
                    # The service failed us (maybe it restarted and lost the turn): send the same message again.
                    self._send(client, message, headers)
                    failed, last_send = False, time.monotonic()
            time.sleep(_POLL_S)  # a widget without a socket polls; the drills read over plain HTTP
        with self.log.lock:
            self.log.gave_up.append(message.client_message_id)
        return None

    def _until_served(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Retry a request until the service answers it (2xx); a 4xx is a bug in the drill or the service."""
        deadline = time.monotonic() + self.give_up_after_s
        while True:
            response = self._request(client, method, path, **kwargs)
            if response is not None:
                response.raise_for_status()
                body: dict[str, Any] = response.json()
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path}: the service did not serve it within {self.give_up_after_s:g}s")
            time.sleep(_POLL_S)  # waiting for a service that is restarting

    def _request(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One request; None (and a recorded failure) when the service did not serve it."""
        started = time.monotonic()
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self._record(Failure(started, method, path, None, time.monotonic() - started, detail=type(exc).__name__))
            return None
        seconds = time.monotonic() - started
        with self.log.lock:
            self.log.requests += 1
            self.log.longest_request_s = max(self.log.longest_request_s, seconds)
        if response.status_code < 500 and response.status_code != 429:
            return response
        self._record(Failure(started, method, path, response.status_code, seconds, _error_shape(response), ""))
        if response.status_code == 429:
            time.sleep(float(response.headers.get("retry-after", "1")))
        return None

    def _record(self, failure: Failure) -> None:
        with self.log.lock:
            self.log.failures.append(failure)


def _reply_to(events: list[dict[str, Any]], client_message_id: str) -> str | None:
    for event in events:
        if event.get("reply_to") == client_message_id and event.get("type") in _REPLY_TYPES:
            return str(event["type"])
    return None


def _error_shape(response: httpx.Response) -> bool:
    """Whether an error body is ``{"code": str, "detail": str, ...}``."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(body.get("detail"), str)
