"""The service's routers, one module per audience: widget chat, agent console, knowledge console, auth, pages."""

from grounddesk.api.routes import auth, chat, health, knowledge, pages, tickets

__all__ = ["auth", "chat", "health", "knowledge", "pages", "tickets"]
