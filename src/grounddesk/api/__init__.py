"""The FastAPI service: widget chat, agent console and knowledge console.

Light on purpose: importing ``grounddesk.api`` (e.g. for :mod:`grounddesk.api.auth_tables` from the migrations)
must not import FastAPI. The app factory and the services are loaded on first use.

Example:
    >>> from grounddesk.api import create_app
    >>> app = create_app(Settings())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grounddesk.api.app import create_app
    from grounddesk.api.services import Services, build_services
    from grounddesk.api.settings import ServiceSettings

__all__ = ["ServiceSettings", "Services", "build_services", "create_app"]

_LAZY = {
    "create_app": "grounddesk.api.app",
    "Services": "grounddesk.api.services",
    "build_services": "grounddesk.api.services",
    "ServiceSettings": "grounddesk.api.settings",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
