"""``kill -9`` the service twenty times while customers chat: after each restart nothing is lost or doubled.

The service runs as a child process on a SQLite home (the shipped service with the model-free embedder, see
:mod:`grounddesk.testing.service_process`). Six simulated customers chat over HTTP and re-send, with the same
``client_message_id``, every message that got no reply (as the widget does after a reconnect). The drill kills the
process at random moments, restarts it at once, and at the end audits every conversation: each accepted message
stored once, with exactly one reply (answer, clarification, or hand-off with its ticket).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from faults_support import child_env

from grounddesk.config import Settings
from grounddesk.testing.fault_drills import run_kill_drill
from grounddesk.testing.service_process import ServiceProcess

pytestmark = pytest.mark.faults
logger = logging.getLogger(__name__)

KILLS = 20


def test_killing_the_service_twenty_times_under_load_loses_and_duplicates_nothing(
    fresh_home: Settings, tmp_path: Path
) -> None:
    # standby: the next process is imported ahead, so twenty restarts fit in a test's time (bench/faults.py
    # measures cold restarts).
    with ServiceProcess(child_env(fresh_home), log_path=tmp_path / "service.log", standby=True) as service:
        report = run_kill_drill(service, fresh_home.database_url(), kills=KILLS, customers=6, seed=7)
        kills = service.kills
    logger.info("kill drill: %s", report.model_dump_json(exclude={"records"}))
    audit = report.audit
    assert audit.problems == []
    assert kills == KILLS and report.kills == KILLS
    # The kills land while customers wait for replies, and the customers had to re-send.
    assert report.kills_with_messages_in_flight >= KILLS // 2
    assert audit.resent > 0 and audit.sends > audit.messages_sent
    assert "transport" in report.failed_requests
    # Every kind of outcome went through the kills, each once per message.
    assert audit.answers > 0 and audit.clarifications > 0 and audit.handoffs > 0
    assert audit.answers + audit.clarifications + audit.handoffs == audit.messages_sent
    assert audit.tickets == audit.handoffs
    assert audit.duplicate_messages == audit.duplicate_replies == audit.duplicate_tickets == audit.unanswered == 0
