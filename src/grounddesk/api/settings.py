"""Settings of the HTTP service (nested as ``Settings.service``; env ``GROUNDDESK_SERVICE_...``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_GREETING", "ServiceSettings"]

DEFAULT_GREETING = (
    "Hi! I'm the Northwind assistant. I answer from our help articles, and I can pass you to a person at any time."
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
    sse_keepalive_s: float = Field(default=15.0, gt=0, description="Comment lines sent on idle event streams")
    shutdown_grace_s: float = Field(default=10.0, ge=0, description="How long shutdown waits for turns in flight")
