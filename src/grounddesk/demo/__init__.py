"""Sample data for ``grounddesk demo``: a fictional outdoor retailer's help centre."""

from pathlib import Path

__all__ = ["knowledge_dir"]


def knowledge_dir() -> Path:
    """The folder of sample knowledge documents shipped with the package."""
    return Path(__file__).resolve().parent / "knowledge"
