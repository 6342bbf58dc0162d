"""The SQL store shared by every component: engines, the shared metadata, and migrations.

Example:
    >>> from grounddesk.db import create_engine_for, upgrade
    >>> engine = create_engine_for(settings.database_url())
    >>> upgrade(engine)
"""

from grounddesk.db.base import NAMING_CONVENTION, Base, JSONType, metadata
from grounddesk.db.engine import (
    DEFAULT_BUSY_TIMEOUT_S,
    assert_engine_configured,
    create_engine_for,
    normalise_url,
    read_only,
)
from grounddesk.db.migrate import current_revision, downgrade, head_revision, upgrade
from grounddesk.db.types import UTCDateTime, utc_now

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "NAMING_CONVENTION",
    "Base",
    "JSONType",
    "UTCDateTime",
    "assert_engine_configured",
    "create_engine_for",
    "current_revision",
    "downgrade",
    "head_revision",
    "metadata",
    "normalise_url",
    "read_only",
    "upgrade",
    "utc_now",
]
