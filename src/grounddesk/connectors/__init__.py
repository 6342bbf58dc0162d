"""CRM and ERP back-ends behind Protocols: Salesforce, REST ERP and the SQLite demo."""

__all__: list[str] = []
