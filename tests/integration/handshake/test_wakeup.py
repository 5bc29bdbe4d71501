"""The notifier is woken by the runtime's commit, not by its poll interval: in the same
process by `levante.engine.wakeup.events_committed(db)`, across processes by NOTIFY on
PostgreSQL (`notify_in_transaction`) or by the data version on SQLite."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, insert, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from levante.contract.tables import outbox as event_deliveries
from levante.db.connect import make_engine
from levante.engine import wakeup
from levante.engine.models import engine_events
from levante.engine.platform_link.delivery import DeliveryService
from tests.conftest import free_port
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    engine_workflow,
    now,
    wait_for,
)


def test_listeners_are_called_and_removed() -> None:
    calls: list[str] = []

    def listener() -> None:
        calls.append("now")

    def later() -> None:
        calls.append("later")

    db, other = create_engine("sqlite://"), create_engine("sqlite://")
    wakeup.add_listener(db, listener, later)
    wakeup.events_committed(db)
    wakeup.events_committed(db, urgent=False)
    wakeup.events_committed(other)  # another database: not this listener's
    wakeup.remove_listener(db, listener, later)
    wakeup.events_committed(db)
    wakeup.events_committed(db, urgent=False)
    assert calls == ["now", "later"]


def test_a_commit_wakes_the_notifier_before_its_poll_interval(
    migrated_url: str, tmp_path: Path
) -> None:
    async def ok(request: Request) -> Response:
        return Response(status_code=204)

    served = ServedApp(Starlette(routes=[Route("/hook", ok, methods=["POST"])]),
                       free_port()).start()
    config = config_for(tmp_path, migrated_url, notifier={"poll_interval": 30})
    db = make_engine(migrated_url)
    wf = engine_workflow(db, {"notify": [{"type": "webhook", "url": f"{served.url}/hook"}]})
    service = Background(DeliveryService(config, db)).start()
    try:
        time.sleep(0.3)  # the notifier found nothing and now sleeps for its poll interval
        with db.begin() as conn:
            conn.execute(insert(engine_events).values(
                execution_id=wf, root_execution_id=wf, task_execution_id=None,
                event="WORKFLOW_LAUNCHED", payload={}, created_at=now(), delivered_at=None,
                attempts=0, next_attempt_at=now(), last_error=None))
            wakeup.notify_in_transaction(conn)
        if migrated_url.startswith("sqlite"):
            wakeup.events_committed(db)  # on PostgreSQL the NOTIFY alone must do

        def delivered() -> bool:
            with db.connect() as conn:
                return conn.execute(select(event_deliveries.c.state)).scalar() == "delivered"

        wait_for(delivered, 5.0)  # far less than the 30 s poll interval
    finally:
        service.stop()
        served.stop()
        db.dispose()
