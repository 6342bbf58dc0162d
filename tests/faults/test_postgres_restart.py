"""PostgreSQL restarted under load: requests fail cleanly while it is down, and the service recovers by itself.

The service runs as a child process with its SQL store and its checkpoints on a PostgreSQL database made for the
test. Six customers chat while the test restarts the PostgreSQL server (``pg_ctlcluster ... restart``: every
connection drops, new ones are refused until it is back). Every request the service could not serve must get an
HTTP error in the ``{"code", "detail"}`` form, none may hang; afterwards the same service process (never restarted)
serves again, and every accepted message has exactly one reply, none lost or doubled.

Needs ``GROUNDDESK_TEST_POSTGRES_URL`` (an admin URL of a PostgreSQL server on this machine) and the right to
restart that server (root, Debian's ``pg_ctlcluster``); skipped otherwise, with the reason.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from faults_support import child_env, prepared_home

from grounddesk.testing.fault_drills import run_outage_drill
from grounddesk.testing.postgres_admin import (
    ThrowawayDatabase,
    postmaster_started,
    restart_cluster,
    restart_unavailable,
)
from grounddesk.testing.service_process import ServiceProcess

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
POSTGRES_URL_ENV = "GROUNDDESK_TEST_POSTGRES_URL"
logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 20.0


def test_a_postgres_restart_under_load_fails_requests_cleanly_and_the_service_recovers_by_itself(
    tmp_path: Path,
) -> None:
    admin_url = os.environ.get(POSTGRES_URL_ENV)
    reason = restart_unavailable(admin_url)
    if reason is not None:
        pytest.skip(reason)
    assert admin_url is not None
    database = ThrowawayDatabase.create(admin_url)
    try:
        settings = prepared_home(tmp_path / "home", database.url_text)
        started_before = postmaster_started(database.url)
        with ServiceProcess(child_env(settings), log_path=tmp_path / "service.log") as service:
            report = run_outage_drill(
                service,
                settings.database_url(),
                lambda: restart_cluster(admin_url),
                customers=6,
                request_timeout_s=REQUEST_TIMEOUT_S,
            )
        started_after = postmaster_started(database.url)
    finally:
        database.drop()
    logger.info("postgres restart drill: %s", report.model_dump_json())
    assert started_after != started_before  # the server really restarted
    assert not report.service_restarted
    # Clean failures: an HTTP error with a {"code", "detail"} body, no hang, no dropped connection.
    assert report.requests_without_answer == 0
    assert report.failures_without_error_body == 0
    assert all(status.startswith("5") for status in report.failed_requests)
    assert report.longest_request_s < REQUEST_TIMEOUT_S
    # Recovered by itself: the customers were served again, and nothing was lost or doubled.
    assert report.replies_after_outage >= 12
    assert report.audit.problems == []
    assert report.audit.unanswered == report.audit.duplicate_replies == report.audit.duplicate_messages == 0
