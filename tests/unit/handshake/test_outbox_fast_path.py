"""The notifier's one-transaction path: what fan-out reads is reused for the bodies, and
its transactions on PostgreSQL do not wait for the WAL flush."""

from __future__ import annotations

from sqlalchemy import text

from levante.db.connect import make_engine
from levante.engine.platform_link.delivery import event_body
from levante.engine.store import outbox
from tests.integration.handshake.support import engine_event, engine_task, engine_workflow


def test_material_from_the_fan_out_is_the_material_read_again(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    # (a `levante` subscriber: the events of one line are claimed together)
    wf = engine_workflow(db, {"notify": [{"type": "levante", "url": "http://a"}]})
    task = engine_task(db, wf, "one")
    engine_event(db, wf, "WORKFLOW_LAUNCHED")
    engine_event(db, wf, "TASK_SUCCEEDED", task)
    engine_event(db, wf, "WORKFLOW_SUCCEEDED")
    with outbox.writing(db) as conn:
        seen: dict = {}
        assert outbox.fanout(conn, [], seen=seen) == 3
        assert len(seen["events"]) == 3 and wf in seen["workflows"]
        lines = outbox.claim(conn, 60.0, 10, 50)
        flat = [d for line in lines for d in line]
        assert len(flat) == 3
        fresh = outbox.event_material(conn, flat, seen)
        again = outbox.event_material(conn, flat)
    # (the events differ only in `delivered_at`, stamped by the fan-out: no body has it)
    assert [event_body(d, fresh) for d in flat] == [event_body(d, again) for d in flat]
    assert fresh["workflows"] == again["workflows"] and fresh["tasks"] == again["tasks"]
    assert fresh["tasks"][task]["name"] == "one"
    db.dispose()


def test_material_reads_what_the_fan_out_did_not_see(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, {"notify": [{"type": "webhook", "url": "http://a"}]})
    engine_event(db, wf, "WORKFLOW_LAUNCHED")
    with outbox.writing(db) as conn:
        outbox.fanout(conn, [])  # fanned out earlier: a retry is claimed with no `seen`
    with outbox.writing(db) as conn:
        seen: dict = {}
        assert outbox.fanout(conn, [], seen=seen) == 0
        flat = [d for line in outbox.claim(conn, 60.0, 10) for d in line]
        material = outbox.event_material(conn, flat, seen)
    assert [d["event"] for d in flat] == ["WORKFLOW_LAUNCHED"]
    assert set(material["events"]) == {flat[0]["event_id"]}
    assert set(material["workflows"]) == {wf}
    db.dispose()


def test_notifier_transactions_on_postgresql_commit_without_waiting_for_the_flush(
    migrated_url: str,
) -> None:
    db = make_engine(migrated_url)
    with outbox.writing(db) as conn:
        if conn.dialect.name == "postgresql":
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
    if db.dialect.name == "postgresql":
        with db.connect() as conn:  # only the notifier's own transactions
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    db.dispose()
