"""The web pages: the demo host page with the widget, the agent console and the knowledge console.

The pages are plain HTML files in ``grounddesk/api/static`` (no build step), served as they are, except the host
page: the server fills its widget tag's identity placeholders. When ``auth.identity_secret`` is set and a demo
customer is chosen (``service.demo_customer_id``, or ``?as=C-1001`` with ``service.demo_mode``), the page carries
that customer id signed as the company's own site would sign it (:func:`~grounddesk.api.auth_tokens.sign_identity`);
otherwise the placeholders are emptied and the visitor is anonymous.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse

from grounddesk.api.auth_tokens import sign_identity
from grounddesk.api.deps import ServicesDep
from grounddesk.api.services import Services
from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = ["STATIC_DIR", "render_index", "router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)

_CUSTOMER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NO_STORE = {"Cache-Control": "no-store"}


def _page(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if not path.is_file():
        raise GrounddeskError(f"The page {name} is not installed", code=ErrorCode.FILE_NOT_FOUND)
    return FileResponse(path, media_type="text/html; charset=utf-8")


def render_index(services: Services, customer_id: str | None) -> str:
    """The host page with the widget's identity filled in (signed) for ``customer_id``, or left anonymous.

    Args:
        services: The service's objects (settings and clock).
        customer_id: The demo customer to sign in as; None for an anonymous visitor.

    Returns:
        The page's HTML.
    """
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    secret = services.auth.identity_secret
    values = {"customer_id": "", "identity_timestamp": "", "identity_signature": ""}
    if secret is not None and customer_id:
        timestamp = int(services.clock().timestamp())
        values = {
            "customer_id": customer_id,
            "identity_timestamp": str(timestamp),
            "identity_signature": sign_identity(customer_id, timestamp, secret.get_secret_value()),
        }
    for key, value in values.items():
        # Only quoted attribute values: the page's comment that documents the placeholders stays as it is.
        page = page.replace('"{{' + key + '}}"', '"' + html.escape(value, quote=True) + '"')
    return page


@router.get("/", response_class=HTMLResponse)
def index(services: ServicesDep, as_customer: Annotated[str | None, Query(alias="as")] = None) -> HTMLResponse:
    """The demo host page "Northwind Outfitters" with the chat widget."""
    settings = services.service
    customer_id = settings.demo_customer_id
    if settings.demo_mode and as_customer is not None:
        customer_id = as_customer if _CUSTOMER_ID.fullmatch(as_customer) else None
    return HTMLResponse(render_index(services, customer_id), headers=_NO_STORE)


@router.get("/console", response_class=HTMLResponse)
def console() -> FileResponse:
    """The agent console."""
    return _page("console.html")


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge() -> FileResponse:
    """The knowledge console."""
    return _page("knowledge.html")
