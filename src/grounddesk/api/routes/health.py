"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from grounddesk.api.deps import ServicesDep
from grounddesk.api.services import Services

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (it does not look at its dependencies)."""
    return {"status": "ok"}


def _check(name: str, probe: Any) -> dict[str, str]:
    try:
        probe()
    except Exception as exc:  # a probe reports any failure instead of raising
        logger.warning("readiness check failed", extra={"check": name, "error": type(exc).__name__})
        return {"status": "fail", "error": type(exc).__name__}
    return {"status": "ok"}


def _database(services: Services) -> None:
    with services.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: the SQL store answers and the knowledge store (registry and vectors) is reachable."""
    kb = services.knowledge
    checks = {
        "database": _check("database", lambda: _database(services)),
        "knowledge_registry": _check("knowledge_registry", kb.registry.current_generation),
        "vector_store": _check("vector_store", kb.store.count),
    }
    ready = all(c["status"] == "ok" for c in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
