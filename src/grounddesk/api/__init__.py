"""The FastAPI service: widget chat, agent console and knowledge console."""

__all__: list[str] = []
