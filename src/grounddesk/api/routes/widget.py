"""What the widget needs to know before it renders anything: which hosts it may link to, and its limits.

Public (the widget calls it before a conversation exists): nothing in it is secret.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from grounddesk.api.deps import ServicesDep

__all__ = ["WidgetConfig", "router"]

router = APIRouter(prefix="/v1/widget", tags=["widget"])


class WidgetConfig(BaseModel):
    """The widget's settings from the service."""

    link_hosts: list[str] = Field(
        description="Hosts answers may link to besides the service's own origin; other links are shown as text"
    )
    max_message_chars: int = Field(description="The longest message the service accepts")


@router.get("/config", response_model=WidgetConfig)
def widget_config(services: ServicesDep) -> WidgetConfig:
    """The link allowlist and message limit the widget applies."""
    service = services.service
    hosts = sorted({host.strip().lower() for host in service.link_hosts if host.strip()})
    return WidgetConfig(link_hosts=hosts, max_message_chars=service.max_message_chars)
