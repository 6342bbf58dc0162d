"""When to escalate, the persistent human queue, and hand-back to the bot."""

__all__: list[str] = []
