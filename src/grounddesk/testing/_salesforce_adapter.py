"""A requests transport adapter that sends ``https://*.salesforce.com`` traffic to the emulator on 127.0.0.1.

simple-salesforce builds every URL itself (``https://login.salesforce.com/...``, ``https://<instance>/...``), and
the emulator speaks plain HTTP on a loopback port. Mounting :class:`EmulatorAdapter` on the ``requests.Session``
handed to simple-salesforce's ``session=`` argument rewrites those URLs to the emulator, keeping path and query;
any other host is refused, so a test can never reach the real Salesforce.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

__all__ = ["EmulatorAdapter", "salesforce_session"]


class EmulatorAdapter(HTTPAdapter):
    """Routes HTTPS requests for ``*.salesforce.com`` hosts to an ``http://127.0.0.1:<port>`` emulator.

    Args:
        base_url: The emulator's ``http://127.0.0.1:<port>``.
        host_suffix: Hosts routed to the emulator (``login.salesforce.com``, ``acme.my.salesforce.com``, ...).
    """

    def __init__(self, base_url: str, *, host_suffix: str = "salesforce.com") -> None:
        super().__init__()
        target = urlsplit(base_url)
        self._netloc = target.netloc
        self._scheme = target.scheme or "http"
        self._suffix = host_suffix.lower()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite the URL to the emulator and send it; refuse hosts outside ``host_suffix``."""
        parts = urlsplit(request.url or "")
        host = (parts.hostname or "").lower()
        if not (host == self._suffix or host.endswith("." + self._suffix)):
            raise requests.ConnectionError(f"the Salesforce emulator adapter does not route {host!r}", request=request)
        request.headers["X-Forwarded-Host"] = parts.netloc
        request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


def salesforce_session(emulator: Any) -> requests.Session:
    """A ``requests.Session`` whose HTTPS traffic to Salesforce hosts goes to ``emulator`` (started).

    ``trust_env`` is off, so proxy variables of the environment cannot divert it.

    Args:
        emulator: A started :class:`~grounddesk.testing.salesforce_emulator.SalesforceEmulator` (anything with
            a ``base_url``).

    Returns:
        The session, to pass as ``session=`` to simple-salesforce or ``SalesforceCRM``.
    """
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", EmulatorAdapter(emulator.base_url))
    return session
