"""FastAPI dependencies: the services, and who is calling (a staff user or a conversation's customer).

Customers authenticate with their conversation token (``Authorization: Bearer v1....`` or ``?token=``); a token
opens exactly one conversation. Staff use a session token (``Bearer gds_...``) or an API key (``Bearer gdk_...`` or
``X-API-Key: gdk_...``); a customer token on a staff endpoint is refused with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.requests import HTTPConnection

from grounddesk.api.auth import AuthRequired, Forbidden, InvalidToken, Role, StaffUser, require_role
from grounddesk.api.auth_staff import API_KEY_PREFIX, SESSION_TOKEN_PREFIX
from grounddesk.api.auth_tokens import CustomerClaims
from grounddesk.api.services import Services
from grounddesk.errors import ConfigurationError

__all__ = [
    "AgentUser",
    "AnyStaff",
    "CustomerDep",
    "KnowledgeUser",
    "ServicesDep",
    "bearer_token",
    "customer_claims",
    "get_services",
    "resolve_customer",
    "resolve_staff",
    "staff_user",
]


def get_services(conn: HTTPConnection) -> Services:
    """The app's services (HTTP requests and WebSockets alike)."""
    services = getattr(conn.app.state, "services", None)
    if not isinstance(services, Services):
        raise ConfigurationError("The service is not started: its services were not built")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(conn: HTTPConnection) -> str | None:
    """The bearer token of the ``Authorization`` header, if any."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def resolve_staff(services: Services, token: str) -> StaffUser:
    """The staff user a session token or API key belongs to.

    Raises:
        InvalidToken: Unknown, expired, revoked or malformed token.
        Forbidden: A customer's conversation token.
    """
    if token.startswith(API_KEY_PREFIX):
        return services.staff.resolve_api_key(token)
    if token.startswith(SESSION_TOKEN_PREFIX):
        return services.staff.resolve_session(token)
    try:
        services.tokens.decode(token)
    except InvalidToken:
        raise InvalidToken("Not a staff session token or API key: sign in", reason="malformed") from None
    raise Forbidden("A customer's conversation token cannot be used for staff endpoints", reason="customer_token")


def staff_user(conn: HTTPConnection, services: ServicesDep) -> StaffUser:
    """The signed-in staff user (session token or API key).

    Raises:
        AuthRequired: No credentials.
        InvalidToken, Forbidden: See :func:`resolve_staff`.
    """
    key = conn.headers.get("x-api-key")
    token = key.strip() if key else bearer_token(conn)
    if not token:
        raise AuthRequired("Sign in first: send 'Authorization: Bearer <session token>' or 'X-API-Key'")
    return resolve_staff(services, token)


def require_staff(*roles: Role) -> Callable[[StaffUser], StaffUser]:
    """A dependency: the signed-in staff user, who must hold one of ``roles`` (an admin holds them all)."""

    def dependency(user: Annotated[StaffUser, Depends(staff_user)]) -> StaffUser:
        return require_role(user, *roles)

    return dependency


AnyStaff = Annotated[StaffUser, Depends(require_staff())]
AgentUser = Annotated[StaffUser, Depends(require_staff(Role.AGENT))]
KnowledgeUser = Annotated[StaffUser, Depends(require_staff(Role.KNOWLEDGE_MANAGER))]


def resolve_customer(services: Services, token: str | None, conversation_id: str) -> CustomerClaims:
    """Check a conversation token for ``conversation_id``.

    Raises:
        AuthRequired: No token.
        InvalidToken: Forged, tampered with, expired, or a staff token.
        Forbidden: A valid token for another conversation.
    """
    if not token:
        raise AuthRequired("This conversation needs its token: 'Authorization: Bearer <token>' or '?token='")
    if token.startswith((SESSION_TOKEN_PREFIX, API_KEY_PREFIX)):
        raise InvalidToken("Staff credentials do not open a customer conversation", reason="staff_token")
    return services.tokens.verify(token, conversation_id)


def customer_claims(
    request: Request, services: ServicesDep, conversation_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> CustomerClaims:
    """The claims of the conversation token sent with a request about ``conversation_id``."""
    token = bearer_token(request) or request.query_params.get("token")
    return resolve_customer(services, token, conversation_id)


CustomerDep = Annotated[CustomerClaims, Depends(customer_claims)]
