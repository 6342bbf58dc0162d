"""LangChain tools the agent may call (CRM, ERP, knowledge), with approval tiers for write actions."""

__all__: list[str] = []
