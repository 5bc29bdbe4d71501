"""The hot path of a fresh event: an idle notifier fans out and claims in the thread that
committed the events (no hop through the event loop first), and a fan-out held by another
transaction is looked at again at once rather than at the next poll."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from levante.contract.tables import outbox as event_deliveries
from levante.db.connect import make_engine
from levante.engine import wakeup
from levante.engine.platform_link.delivery import DeliveryService
from levante.engine.store import outbox
from tests.conftest import free_port
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    engine_event,
    engine_workflow,
    rows,
    wait_for,
)

NOWHERE = "http://127.0.0.1:9/hook"


def test_an_idle_notifier_claims_in_the_committing_thread(
    migrated_url: str, tmp_path: Path
) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, {"notify": [{"type": "webhook", "url": NOWHERE}]})
    engine_event(db, wf, "WORKFLOW_LAUNCHED")
    service = DeliveryService(config_for(tmp_path, migrated_url), db)
    loop = asyncio.new_event_loop()  # not running: what is handed over waits in it
    try:
        service._loop = loop
        service.wake()
        # Fanned out and leased before wake() returned, by this thread.
        (delivery,) = rows(db, event_deliveries)
        assert delivery["state"] == "pending"
        assert delivery["first_attempt_at"] is not None
        assert service._launching == 1
    finally:
        loop.close()
        db.dispose()


def test_a_busy_notifier_leaves_the_claim_to_its_loop(
    migrated_url: str, tmp_path: Path
) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, {"notify": [{"type": "webhook", "url": NOWHERE}]})
    engine_event(db, wf, "WORKFLOW_LAUNCHED")
    service = DeliveryService(config_for(tmp_path, migrated_url), db)
    loop = asyncio.new_event_loop()
    try:
        service._loop = loop
        service._launching = 1  # lines are on their way: their outcome's round claims
        service.wake()
        assert rows(db, event_deliveries) == []  # nothing claimed in this thread
        loop.run_until_complete(asyncio.sleep(0))
        assert service._wake.is_set()  # the loop was woken instead
    finally:
        loop.close()
        db.dispose()


def test_a_fan_out_held_elsewhere_is_looked_at_again(
    migrated_url: str, tmp_path: Path
) -> None:
    if not migrated_url.startswith("postgresql"):
        pytest.skip("the fan-out lock is PostgreSQL's (SQLite serialises writers)")

    async def ok(request: Request) -> Response:
        return Response(status_code=204)

    served = ServedApp(Starlette(routes=[Route("/hook", ok, methods=["POST"])]),
                       free_port()).start()
    db = make_engine(migrated_url)
    config = config_for(tmp_path, migrated_url, notifier={"poll_interval": 30})
    wf = engine_workflow(db, {"notify": [{"type": "webhook", "url": f"{served.url}/hook"}]})
    service = Background(DeliveryService(config, db)).start()
    holder = db.connect()
    try:
        time.sleep(0.3)  # the notifier found nothing and now sleeps for its poll interval
        tx = holder.begin()
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                       {"k": outbox.FANOUT_LOCK_KEY})
        engine_event(db, wf, "WORKFLOW_LAUNCHED")
        with db.begin() as conn:
            wakeup.notify_in_transaction(conn)  # wakes the notifier: the fan-out is held
        time.sleep(0.3)
        assert rows(db, event_deliveries) == []
        tx.rollback()  # released: the notifier looks again without waiting for a poll

        def delivered() -> bool:
            with db.connect() as conn:
                return conn.execute(select(event_deliveries.c.state)).scalar() == "delivered"

        wait_for(delivered, 5.0)  # far less than the 30 s poll interval
    finally:
        holder.close()
        service.stop()
        served.stop()
        db.dispose()
