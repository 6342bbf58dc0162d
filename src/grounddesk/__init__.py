"""grounddesk: a grounded, calibrated, human-in-the-loop customer-support agent framework."""

__version__ = "0.1.0"

__all__ = ["__version__"]
