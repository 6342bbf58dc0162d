"""The LangGraph conversation agent (receive, guard, understand, act, retrieve, compose, score, decide)."""

__all__: list[str] = []
