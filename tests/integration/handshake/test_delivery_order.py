"""Two notifiers on one database deliver every event once acknowledged, in order per
execution, to a Mistral-style `webhook` subscriber that fails now and then."""

from __future__ import annotations

import json
import random
from pathlib import Path

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from levante.contract.signing import signing_secret, verify
from levante.contract.tables import outbox as event_deliveries
from levante.db.connect import make_engine
from levante.engine.platform_link.delivery import DeliveryService
from tests.conftest import free_port
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    engine_event,
    engine_workflow,
    wait_for,
)

EVENTS = ("WORKFLOW_LAUNCHED", "WORKFLOW_PAUSED", "WORKFLOW_RESUMED", "WORKFLOW_SUCCEEDED")


class Recorder:
    """Acknowledges (2xx) about two thirds of the requests; records what it acknowledged."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.acked: list[tuple[str, int]] = []
        self.bad_signatures = 0
        self.random = random.Random(7)

    async def hook(self, request: Request) -> Response:
        raw = await request.body()
        try:
            verify(self.secret, dict(request.headers), raw)
        except Exception:
            self.bad_signatures += 1
            return Response(status_code=401)
        if self.random.random() < 0.33:
            return Response(status_code=503)
        body = json.loads(raw)
        self.acked.append((body["root_execution_id"], body["event_id"]))
        return Response(status_code=200)


def test_two_notifiers_deliver_in_order(migrated_url: str, tmp_path: Path) -> None:
    config = config_for(tmp_path, migrated_url, notifier={
        "initial_backoff": 0.01, "max_backoff": 0.05, "poll_interval": 0.05})
    db = make_engine(migrated_url)
    recorder = Recorder(signing_secret(config))
    served = ServedApp(Starlette(routes=[Route("/hook", recorder.hook, methods=["POST"])]),
                       free_port()).start()
    expected: dict[str, list[int]] = {}
    for _ in range(6):
        wf = engine_workflow(db, {"notify": [{"type": "webhook", "url": f"{served.url}/hook",
                                              "headers": {"X-Token": "t"}}]})
        expected[wf] = [engine_event(db, wf, e) for e in EVENTS]
    first = Background(DeliveryService(config, db)).start()
    second = Background(DeliveryService(config, db)).start()

    def all_delivered() -> bool:
        with db.connect() as conn:
            states = conn.execute(select(event_deliveries.c.state)).scalars().all()
        return len(states) == 24 and set(states) == {"delivered"}

    try:
        wait_for(all_delivered, 20.0, 0.05)
    finally:
        first.stop()
        second.stop()
        served.stop()
    assert recorder.bad_signatures == 0
    for wf, ids in expected.items():
        seen = [event_id for root, event_id in recorder.acked if root == wf]
        # At least once: a duplicate can only repeat the latest event, never go back.
        deduped = [e for i, e in enumerate(seen) if i == 0 or e != seen[i - 1]]
        assert deduped == ids
    db.dispose()
