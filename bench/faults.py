"""Fault drills with figures: kill -9 under load, PostgreSQL restarted under load, the knowledge store gone.

1. ``kill``: the service in a child process on a SQLite home, ``--customers`` simulated customers chatting over
   HTTP (re-sending, with the same client message id, whatever got no reply), ``kill -9`` at random moments
   ``--kills`` times, each followed by a cold restart (``--standby``: the next process is pre-imported). Then every
   conversation is audited: each accepted message stored once, with exactly one reply or one ticket.
2. ``postgres``: the same service on a new PostgreSQL database; ``pg_ctlcluster ... restart`` mid-load. Requests
   must fail cleanly (5xx with a ``{"code", "detail"}`` body, no hang) and the process, never restarted, must
   serve again by itself. Needs ``GROUNDDESK_TEST_POSTGRES_URL`` (admin URL of a PostgreSQL server on this machine)
   and root; otherwise reported as skipped with the reason. It restarts the whole server: do not run it while
   anything else uses that server.
3. ``knowledge``: the service in this process; its vector store is closed under it; a customer's question.

The service is ``python -m grounddesk.testing.service_process`` (``grounddesk serve`` with the model-free
HashingEmbedder); ``--real-model`` runs ``grounddesk serve`` itself, with the bundled model, on a home made by
``grounddesk demo --no-serve`` (restarts then include loading the model).

    python bench/faults.py [--kills 20] [--customers 6] [--seed 7] [--standby] [--real-model]
                           [--pg-down-s 0] [--only kill,postgres,knowledge]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import REPO
from grounddesk.api.app import create_app
from grounddesk.api.services import build_services
from grounddesk.api.settings import LimitsSettings, ServiceSettings
from grounddesk.config import AgentSettings, DatabaseSettings, Settings
from grounddesk.testing.asgi_server import AsgiServer
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.testing.fault_drills import run_kill_drill, run_outage_drill
from grounddesk.testing.postgres_admin import (
    ThrowawayDatabase,
    postmaster_started,
    restart_cluster,
    restart_unavailable,
)
from grounddesk.testing.service_process import HASHING_DIMENSION, ServiceProcess, prepare_home, service_env

ANSWER_THRESHOLD = 0.3  # the HashingEmbedder's confidence runs lower than the real model's
NO_LIMITS = json.dumps({"enabled": False})  # the drills measure durability, not the abuse limits


def _settings(home: Path, database_url: str | None = None) -> Settings:
    return Settings(
        home=home,
        database=DatabaseSettings(url=database_url),
        agent=AgentSettings(answer_threshold=ANSWER_THRESHOLD),
        service=ServiceSettings(limits=LimitsSettings(enabled=False)),
    )


def _hashing_service(settings: Settings, log: Path, *, standby: bool = False) -> ServiceProcess:
    prepare_home(settings)
    env = service_env(
        settings, GROUNDDESK_AGENT_ANSWER_THRESHOLD=str(ANSWER_THRESHOLD), GROUNDDESK_SERVICE_LIMITS=NO_LIMITS
    )
    return ServiceProcess(env, log_path=log, standby=standby)


def _real_model_service(settings: Settings, log: Path) -> ServiceProcess:
    grounddesk = shutil.which("grounddesk") or str(Path(sys.executable).parent / "grounddesk")
    env = service_env(settings, GROUNDDESK_SERVICE_LIMITS=NO_LIMITS)
    subprocess.run([grounddesk, "demo", "--no-serve"], env=env, check=True, capture_output=True, cwd=REPO)
    return ServiceProcess(env, command=[grounddesk, "serve"], log_path=log, startup_timeout_s=300.0)


def kill_drill(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """``kill -9`` under load, ``args.kills`` times."""
    settings = _settings(work / "kill-home")
    log = work / "kill-service.log"
    if args.real_model:
        service = _real_model_service(settings, log)
    else:
        service = _hashing_service(settings, log, standby=args.standby)
    with service:
        report = run_kill_drill(
            service, settings.database_url(), kills=args.kills, customers=args.customers, seed=args.seed
        )
    figures = report.model_dump(mode="json", exclude={"records"})
    figures["restart"] = "warm standby" if args.standby and not args.real_model else "cold"
    figures["service"] = "grounddesk serve (bundled model)" if args.real_model else "service_process (HashingEmbedder)"
    return figures


def postgres_drill(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """PostgreSQL restarted while customers chat."""
    admin_url = os.environ.get("GROUNDDESK_TEST_POSTGRES_URL")
    reason = restart_unavailable(admin_url)
    if reason is not None or admin_url is None:
        return {"skipped": reason}
    database = ThrowawayDatabase.create(admin_url)
    try:
        settings = _settings(work / "pg-home", database.url_text)
        before = postmaster_started(database.url)
        with _hashing_service(settings, work / "pg-service.log") as service:
            report = run_outage_drill(
                service,
                settings.database_url(),
                lambda: restart_cluster(admin_url, down_s=args.pg_down_s),
                customers=args.customers,
            )
        restarted = postmaster_started(database.url) != before
    finally:
        database.drop()
    return {"postgres_restarted": restarted, "down_s": args.pg_down_s, **report.model_dump(mode="json")}


def knowledge_drill(work: Path) -> dict[str, Any]:
    """The vector store closed under a running service; one question before, one after."""
    settings = _settings(work / "kb-home")
    prepare_home(settings)
    services = build_services(settings, embedder=HashingEmbedder(HASHING_DIMENSION))
    try:
        with (
            AsgiServer(create_app(settings, services=services)) as server,
            httpx.Client(base_url=server.base_url, timeout=30.0) as client,
        ):
            before = _ask(client, "m-before")
            services.knowledge.store.close()
            started = time.monotonic()
            after = _ask(client, "m-after")
            seconds = time.monotonic() - started
            ticket = services.queue.active_for_conversation(after["conversation_id"])
            ready = client.get("/readyz")
    finally:
        services.close()
    return {
        "before": before["type"],
        "after": after["type"],
        "ticket_reason": ticket.reason if ticket else None,
        "seconds_to_handoff": round(seconds, 3),
        "readyz": ready.status_code,
        "vector_store_check": ready.json()["checks"]["vector_store"]["status"],
    }


def _ask(client: httpx.Client, message_id: str) -> dict[str, Any]:
    created = client.post("/v1/conversations", json={}).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    path = f"/v1/conversations/{created['id']}"
    body = {"client_message_id": message_id, "text": "What is your return policy?"}
    client.post(f"{path}/messages", json=body, headers=headers).raise_for_status()
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        for event in client.get(path, headers=headers).json()["events"]:
            if event["reply_to"] == message_id and event["type"] in ("answer", "clarify", "handoff"):
                return {"type": event["type"], "conversation_id": created["id"]}
        time.sleep(0.05)
    raise TimeoutError("no reply within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--customers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--standby", action="store_true", help="pre-import the next service process")
    parser.add_argument("--real-model", action="store_true", help="kill drill on `grounddesk serve` itself")
    parser.add_argument("--pg-down-s", type=float, default=0.0, help="0: pg_ctlcluster restart; N: stop, N s, start")
    parser.add_argument("--only", default="kill,postgres,knowledge")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    results: dict[str, Any] = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="gd-faults-") as tmp:
        work = Path(tmp)
        if "kill" in wanted:
            results["kill"] = kill_drill(args, work)
        if "postgres" in wanted:
            results["postgres"] = postgres_drill(args, work)
        if "knowledge" in wanted:
            results["knowledge"] = knowledge_drill(work)
    sys.stdout.write(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
