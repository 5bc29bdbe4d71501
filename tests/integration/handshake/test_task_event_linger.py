"""`[notifier] task_event_linger`: task events for a `levante` subscriber wait up to the
linger to travel in one request with what follows them; a workflow event makes them due at
once and is sent with them; linger 0 sends each at once; `webhook` subscribers (Mistral's
shape) are never delayed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from levante.contract.tables import outbox as event_deliveries
from levante.db.connect import make_engine
from levante.engine.core.runtime import EngineRuntime
from levante.engine.platform_link.delivery import DeliveryService
from tests.conftest import free_port
from tests.integration.engine.runtime.harness import ThreadWorker, define, wait_done
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    engine_event,
    engine_task,
    engine_workflow,
    wait_for,
)

FAST = {"initial_backoff": 0.05, "max_backoff": 0.2, "poll_interval": 0.05,
        "request_timeout": 5}


@dataclass
class Request_:
    path: str
    events: list[dict[str, Any]]  # one event, or the events of a batch, in order
    batch: bool
    at: datetime


@dataclass
class Recorder:
    """Subscribers on loopback: records every POST (to any path) and answers 200."""

    requests: list[Request_] = field(default_factory=list)

    async def post(self, request: Request) -> Response:
        body = json.loads(await request.body())
        batch = isinstance(body, dict) and "events" in body and "event" not in body
        self.requests.append(Request_(request.url.path, body["events"] if batch else [body],
                                      batch, datetime.now(UTC)))
        return Response(status_code=200)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.post, methods=["POST"])])

    def to(self, path: str) -> list[Request_]:
        return [r for r in list(self.requests) if r.path == path]

    def names(self, path: str) -> list[list[str]]:
        return [[e["event"] for e in r.events] for r in self.to(path)]


@dataclass
class Site:
    db: Engine
    url: str
    tmp_path: Path
    recorder: Recorder
    base: str
    parts: list[Any] = field(default_factory=list)

    def notifier(self, linger: float) -> None:
        config = config_for(self.tmp_path, self.url,
                            notifier={**FAST, "task_event_linger": linger})
        self.parts.append(Background(DeliveryService(config, self.db)).start())


@pytest.fixture
def site(migrated_url: str, tmp_path: Path) -> Iterator[Site]:
    recorder = Recorder()
    served = ServedApp(recorder.app(), free_port()).start()
    db = make_engine(migrated_url)
    found = Site(db, migrated_url, tmp_path, recorder, served.url)
    try:
        yield found
    finally:
        for part in reversed(found.parts):
            part.stop()
        served.stop()
        db.dispose()


def _deliveries(db: Engine, url: str | None = None) -> list[dict[str, Any]]:
    query = select(event_deliveries).order_by(event_deliveries.c.event_id)
    if url is not None:
        query = query.where(event_deliveries.c.url == url)
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _wait(row: dict[str, Any]) -> float:
    """Seconds between a delivery's fan-out and when it is due (before any claim)."""
    return (_aware(row["next_attempt_at"]) - _aware(row["created_at"])).total_seconds()


def _claimed_after(row: dict[str, Any]) -> float:
    """Seconds between a delivery's fan-out and its first attempt."""
    assert row["first_attempt_at"] is not None
    return (_aware(row["first_attempt_at"]) - _aware(row["created_at"])).total_seconds()


def test_task_events_wait_for_the_workflow_event_and_go_with_it(site: Site) -> None:
    db, hook = site.db, f"{site.base}/levante"
    wf = engine_workflow(db, {"notify": [{"type": "levante", "url": hook}]})
    task = engine_task(db, wf, "t1")
    site.notifier(linger=30.0)
    first = engine_event(db, wf, "TASK_LAUNCHED", task)
    second = engine_event(db, wf, "TASK_SUCCEEDED", task)
    wait_for(lambda: len(_deliveries(db)) == 2, 10.0)
    for row in _deliveries(db):  # fanned out due only after the linger
        assert row["state"] == "pending" and row["attempts"] == 0
        assert 25.0 <= _wait(row) <= 31.0
    time.sleep(0.5)
    assert site.recorder.requests == []  # they wait (for 30 s, or company)
    last = engine_event(db, wf, "WORKFLOW_SUCCEEDED")
    # Far less than the 30 s linger: the workflow event brings them along, in one request.
    wait_for(lambda: bool(site.recorder.requests), 10.0)
    wait_for(lambda: all(r["state"] == "delivered" for r in _deliveries(db)), 10.0)
    [sent] = site.recorder.to("/levante")
    assert sent.batch
    assert [(e["event"], e["event_id"]) for e in sent.events] == [
        ("TASK_LAUNCHED", first), ("TASK_SUCCEEDED", second), ("WORKFLOW_SUCCEEDED", last)]


def test_with_no_linger_a_task_event_goes_at_once(site: Site) -> None:
    db, hook = site.db, f"{site.base}/levante"
    wf = engine_workflow(db, {"notify": [{"type": "levante", "url": hook}]})
    task = engine_task(db, wf, "t1")
    site.notifier(linger=0.0)
    event_id = engine_event(db, wf, "TASK_LAUNCHED", task)
    # No workflow event ever follows: it is sent on its own.
    wait_for(lambda: bool(site.recorder.requests), 10.0)
    [sent] = site.recorder.to("/levante")
    assert [(e["event"], e["event_id"]) for e in sent.events] == [("TASK_LAUNCHED", event_id)]
    wait_for(lambda: _deliveries(db)[0]["state"] == "delivered", 10.0)
    [row] = _deliveries(db)
    assert _claimed_after(row) < 10.0  # due when fanned out (not a linger away)


def test_webhook_subscribers_are_never_delayed(site: Site) -> None:
    db = site.db
    ours, theirs = f"{site.base}/levante", f"{site.base}/webhook"
    wf = engine_workflow(db, {"notify": [{"type": "levante", "url": ours},
                                         {"type": "webhook", "url": theirs}]})
    task = engine_task(db, wf, "t1")
    site.notifier(linger=30.0)
    launched = engine_event(db, wf, "TASK_LAUNCHED", task)
    wait_for(lambda: bool(site.recorder.to("/webhook")), 10.0)
    assert site.recorder.names("/webhook") == [["TASK_LAUNCHED"]]
    wait_for(lambda: _deliveries(db, theirs)[0]["state"] == "delivered", 10.0)
    [mistral] = _deliveries(db, theirs)
    assert _claimed_after(mistral) < 10.0
    [platform] = _deliveries(db, ours)
    assert platform["state"] == "pending" and _wait(platform) >= 25.0
    assert site.recorder.to("/levante") == []
    done = engine_event(db, wf, "WORKFLOW_SUCCEEDED")
    wait_for(lambda: bool(site.recorder.to("/levante"))
             and len(site.recorder.to("/webhook")) == 2, 10.0)
    assert site.recorder.names("/webhook") == [["TASK_LAUNCHED"], ["WORKFLOW_SUCCEEDED"]]
    [batch] = site.recorder.to("/levante")
    assert [e["event_id"] for e in batch.events] == [launched, done]


SLOW = """
version: '2.0'
slow:
  tasks:
    t1:
      action: std.echo output=null delay=0.5
      on-success: t2
    t2:
      action: std.echo output=null delay=2
"""


def test_a_real_workflow_longer_than_the_linger(site: Site) -> None:
    """t1's end and t2's start (one step, task events only) wait the linger (0.2 s) and
    then go on their own, long before the workflow ends; the workflow's end goes at once
    with the task events of its step."""
    db, hook = site.db, f"{site.base}/levante"
    ns = f"t{uuid.uuid4().hex[:10]}"
    define(db, ns, SLOW)
    linger = 0.2
    site.notifier(linger=linger)
    rt = EngineRuntime(db)
    worker = ThreadWorker(rt, poll_interval=0.2).start()
    site.parts.append(worker)
    ex = rt.start_workflow(workflow_identifier="slow", namespace=ns,
                           params={"notify": [{"type": "levante", "url": hook}]})
    done = wait_done(db, ex["id"], 20.0)
    assert done["state"] == "SUCCESS", done["state_info"]
    wait_for(lambda: any("WORKFLOW_SUCCEEDED" in n for n in site.recorder.names("/levante")),
             10.0)
    wait_for(lambda: all(r["state"] == "delivered" for r in _deliveries(db)), 10.0)
    sent = site.recorder.to("/levante")
    flat = [e for r in sent for e in r.events]
    # Every event once, in order.
    assert [e["event_id"] for e in flat] == [r["event_id"] for r in _deliveries(db)]
    assert [e["event"] for e in flat] == [
        "WORKFLOW_LAUNCHED", "TASK_LAUNCHED", "TASK_SUCCEEDED", "TASK_LAUNCHED",
        "TASK_SUCCEEDED", "WORKFLOW_SUCCEEDED"]
    # The middle step's task events went together, on their own, after the linger.
    middle = [r for r in sent if all(e["event"].startswith("TASK_") for e in r.events)]
    assert [[e["event"] for e in r.events] for r in middle] == [
        ["TASK_SUCCEEDED", "TASK_LAUNCHED"]]
    [alone] = middle
    assert alone.batch
    for event in alone.events:
        written = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        assert (alone.at - _aware(written)).total_seconds() >= linger * 0.75
    # The workflow's end: at once, with the task event of its step, last.
    assert [e["event"] for e in sent[-1].events] == ["TASK_SUCCEEDED", "WORKFLOW_SUCCEEDED"]
    assert sent.index(alone) < len(sent) - 1
