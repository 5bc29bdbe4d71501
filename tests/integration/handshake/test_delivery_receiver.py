"""The notifier delivering to the platform's receiver over real HTTP on loopback.

A delivery is retried while the receiver is down and lands once it is up; events of one
execution arrive in order; the platform execution ends with the right status and result;
the notifier logs the lines docs/architecture.md promises.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from levante.contract.tables import outbox as event_deliveries
from levante.db.connect import make_engine
from levante.engine.platform_link.delivery import DeliveryService
from levante.platform.api.app import create_app
from tests.conftest import free_port
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    engine_event,
    engine_task,
    engine_workflow,
    platform_execution,
    platform_row,
    wait_for,
)

FAST = {"initial_backoff": 0.05, "max_backoff": 0.2, "poll_interval": 0.05,
        "request_timeout": 2}


def test_delivery_retried_while_the_receiver_is_down(
    migrated_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="levante.engine.notifier")
    port = free_port()
    config = config_for(tmp_path, migrated_url, notifier=FAST)
    db = make_engine(migrated_url)
    callback = f"http://127.0.0.1:{port}/v1/webhooks/levante"
    wf_id = engine_workflow(db, {
        "env": {"levante": {"execution_id": "", "callback_url": callback}},
        "notify": [{"type": "levante"}],
    }, state="SUCCESS", output={"answer": 42})
    ex_id = platform_execution(db, wf_id)
    task_id = engine_task(db, wf_id, "first")
    engine_event(db, wf_id, "WORKFLOW_LAUNCHED")
    engine_event(db, wf_id, "TASK_SUCCEEDED", task_id)
    engine_event(db, wf_id, "WORKFLOW_SUCCEEDED")

    def attempts() -> int:
        with db.connect() as conn:
            return int(conn.execute(select(event_deliveries.c.attempts)
                                    .order_by(event_deliveries.c.event_id)).scalars().first()
                       or 0)

    notifier = Background(DeliveryService(config, db)).start()
    receiver = ServedApp(create_app(config, db), port)
    try:
        wait_for(lambda: attempts() >= 2, 5.0)
        assert platform_row(db, ex_id)["status"] == "running"
        receiver.start()
        wait_for(lambda: platform_row(db, ex_id)["status"] == "succeeded", 5.0)
    finally:
        notifier.stop()
        receiver.stop()
    row = platform_row(db, ex_id)
    assert row["result"]["answer"] == 42
    assert row["result"]["extra"] == {"state": "SUCCESS", "state_info": None}
    assert [t["name"] for t in row["result"]["tasks"]] == ["first"]
    assert row["result"]["tasks"][0]["workflow_execution_id"] == wf_id
    assert row["end_timestamp"] is not None
    assert [e["status"] for e in row["log"]][-1] == "succeeded"
    with db.connect() as conn:
        done = conn.execute(select(event_deliveries.c.event, event_deliveries.c.state,
                                   event_deliveries.c.delivered_at)
                            .order_by(event_deliveries.c.event_id)).all()
    assert [d.state for d in done] == ["delivered"] * 3
    stamps = [d.delivered_at for d in done]
    assert stamps == sorted(stamps)  # in order, each after the one before
    text = caplog.text
    assert f"[{wf_id}] The workflow event WORKFLOW_SUCCEEDED for {wf_id} will be published " \
           "to levante." in text
    assert f"[{wf_id}] The workflow event WORKFLOW_SUCCEEDED for {wf_id} is published " \
           "to levante." in text
    assert f"[{wf_id}] The task event TASK_SUCCEEDED for {task_id} is processed for " \
           "levante." in text
    db.dispose()
