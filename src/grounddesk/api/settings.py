"""Settings of the HTTP service (nested as ``Settings.service``; env ``GROUNDDESK_SERVICE_...``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_GREETING", "LimitsSettings", "ServiceSettings"]

DEFAULT_GREETING = (
    "Hi! I'm the Northwind assistant. I answer from our help articles, and I can pass you to a person at any time."
)


class LimitsSettings(BaseModel):
    """Abuse limits: request rates, conversation length, and how much work one conversation may cause.

    Rates are token buckets held in the process (each replica counts on its own): a bucket holds ``*_burst``
    tokens, refills at ``*_per_minute``, and a request that finds it empty gets ``429 rate_limited`` with
    ``Retry-After``.

    Example:
        >>> LimitsSettings(ip_per_minute=60, conversation_messages_per_minute=10, max_turns_per_conversation=50)
    """

    enabled: bool = Field(default=True, description="Off: no rate limits and no turn cap (budgets still apply)")
    ip_per_minute: float = Field(default=240.0, gt=0, description="Requests per client address on ip_paths")
    ip_burst: int = Field(default=120, ge=1, description="Requests a client address may send at once")
    ip_paths: list[str] = Field(
        default_factory=lambda: ["/v1/conversations", "/v1/auth"],
        description="Path prefixes counted per client address: the anonymous, customer-facing API and sign-in",
    )
    conversation_messages_per_minute: float = Field(
        default=20.0, gt=0, description="Customer messages per conversation (HTTP and WebSocket)"
    )
    conversation_burst: int = Field(default=8, ge=1, description="Messages a conversation may send at once")
    max_turns_per_conversation: int = Field(
        default=200, ge=1, description="Customer messages one conversation may hold (then 429 conversation_limit)"
    )
    tool_calls_per_conversation: int = Field(
        default=40, ge=1, description="Tool runs one conversation may cause (then the agent escalates)"
    )
    recursion_limit: int = Field(
        default=40, ge=5, le=1000, description="LangGraph supersteps one turn may take (a runaway loop stops)"
    )
    max_tracked_keys: int = Field(
        default=100_000, ge=100, description="Buckets kept in memory; the least recently used are dropped first"
    )


class ServiceSettings(BaseModel):
    """Where the service listens, how large requests may be, and who may embed or call it from a browser.

    Example:
        >>> ServiceSettings(cors_origins=["https://www.example.com"], frame_ancestors=["https://www.example.com"])
    """

    host: str = Field(default="127.0.0.1", description="Address to bind; 0.0.0.0 to serve other machines")
    port: int = Field(default=8000, ge=0, le=65535)
    max_request_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body (413 request_too_large above it)"
    )
    max_upload_bytes: int = Field(
        default=20_000_000, ge=1024, description="Largest knowledge upload request (all files together)"
    )
    max_message_chars: int = Field(default=4000, ge=1, le=100_000, description="Longest customer message")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins whose pages may call the API and load the widget (e.g. the company's site); "
        "empty: same origin only",
    )
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["'self'"],
        description="CSP frame-ancestors: who may show the service's pages in a frame",
    )
    link_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (e.g. www.example.com) the widget may link to besides the service's own origin; "
        "links to any other host are shown as plain text",
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Reverse proxies in front of the service that append X-Forwarded-For and set "
        "X-Forwarded-Proto; 0: those headers are ignored (the client address is the socket's peer)",
    )
    hsts_max_age_s: int = Field(
        default=31_536_000, ge=0, description="Strict-Transport-Security max-age, sent on HTTPS requests only"
    )
    limits: LimitsSettings = Field(default_factory=LimitsSettings, description="Abuse limits")
    public_base_url: str | None = Field(
        default=None, description="The URL customers reach the service at (e.g. https://support.example.com)"
    )
    greeting: str = Field(default=DEFAULT_GREETING, description="The widget's first line in a new conversation")
    resolved_message: str = Field(
        default="Our support team marked your request as resolved. I'm the assistant again: ask me anything else.",
        description="Shown to the customer when a person resolves the conversation",
    )
    returned_message: str = Field(
        default="You're chatting with the assistant again.",
        description="Shown to the customer when a person hands the conversation back to the bot",
    )
    demo_customer_id: str | None = Field(
        default=None,
        description="The demo host page (GET /) signs in as this customer id when the identity secret is set",
    )
    demo_mode: bool = Field(
        default=False, description="Let GET /?as=<customer id> pick the demo customer (never in production)"
    )
    queue_sweep_s: float = Field(
        default=30.0, gt=0, description="How often overdue tickets are flagged and unclaimed customers offered contact"
    )
    sse_keepalive_s: float = Field(default=15.0, gt=0, description="Comment lines sent on idle event streams")
    turn_workers: int = Field(
        default=4, ge=1, le=64, description="Threads that run the bot's turns (CPU work: a few per core suffice)"
    )
    shutdown_grace_s: float = Field(default=10.0, ge=0, description="How long shutdown waits for turns in flight")
    wal_checkpoint_s: float = Field(
        default=1.0,
        gt=0,
        description="SQLite only: how often a background thread checkpoints the write-ahead logs (grounddesk.db.wal)",
    )
