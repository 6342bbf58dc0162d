"""Staff sign-in: ``login`` gives a session token (shown once), ``logout`` ends it, ``me`` says who it is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from grounddesk.api.auth_staff import SESSION_TOKEN_PREFIX
from grounddesk.api.deps import AnyStaff, ServicesDep, bearer_token
from grounddesk.api.schemas import LoginBody, LoginResult, UserOut, user_json

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/login", response_model=LoginResult)
def login(body: LoginBody, services: ServicesDep) -> LoginResult:
    """Check a username and password and open a session (401 ``invalid_credentials`` when wrong)."""
    token, session = services.staff.login(body.username, body.password)
    return LoginResult(token=token, user=UserOut.model_validate(user_json(session.user)), expires_at=session.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, user: AnyStaff, services: ServicesDep) -> Response:
    """End the session whose token is sent (API keys are not sessions: nothing to end)."""
    token = bearer_token(request)
    if token and token.startswith(SESSION_TOKEN_PREFIX):
        services.staff.logout(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
def me(user: AnyStaff) -> dict[str, Any]:
    """The signed-in staff user."""
    return user_json(user)
