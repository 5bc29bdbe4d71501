"""Fan-out and claims on a real database: order per execution tree, leases, give-up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from levante.contract.tables import outbox as event_deliveries
from levante.db.connect import make_engine
from levante.engine.models import engine_events
from levante.engine.store import outbox
from tests.integration.handshake.support import engine_event, engine_workflow


def _notify(url: str) -> dict:
    return {"notify": [{"type": "webhook", "url": url}]}


def _claim(db, limit: int = 10, lease: float = 60.0) -> list[dict]:
    with outbox.writing(db) as conn:
        outbox.fanout(conn, [])
        return [line[0] for line in outbox.claim(conn, lease, limit)]


def _done(db, rows: list[dict], ok: bool = True) -> None:
    with outbox.writing(db) as conn:
        state = outbox.DELIVERED if ok else outbox.PENDING
        outbox.record(conn, [outbox.Outcome(r["id"], state, 200 if ok else 500,
                                            None if ok else "boom", 1,
                                            None if ok else outbox.now())
                             for r in rows])


def test_only_the_head_of_each_line_is_claimed(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    a = engine_workflow(db, _notify("http://a"))
    b = engine_workflow(db, _notify("http://a"))
    a1 = engine_event(db, a, "WORKFLOW_LAUNCHED")
    b1 = engine_event(db, b, "WORKFLOW_LAUNCHED")
    a2 = engine_event(db, a, "WORKFLOW_SUCCEEDED")
    first = _claim(db)
    assert sorted(r["event_id"] for r in first) == [a1, b1]
    # a2 waits behind a1, whose attempt is in flight (leased): nothing else is due.
    assert _claim(db) == []
    _done(db, [r for r in first if r["event_id"] == a1])
    second = _claim(db)
    assert [r["event_id"] for r in second] == [a2]
    db.dispose()


def test_a_failed_attempt_keeps_the_line_blocked_until_retried(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, _notify("http://a"))
    e1 = engine_event(db, wf, "WORKFLOW_LAUNCHED")
    engine_event(db, wf, "WORKFLOW_SUCCEEDED")
    (head,) = _claim(db)
    assert head["event_id"] == e1
    with outbox.writing(db) as conn:
        outbox.record(conn, [outbox.Outcome(head["id"], outbox.PENDING, 503, "down", 1,
                                            outbox.now() + timedelta(hours=1))])
    assert _claim(db) == []  # e2 may not overtake e1
    with db.begin() as conn:  # time passes: e1 is due again
        conn.execute(update(event_deliveries).values(next_attempt_at=outbox.now()))
    (again,) = _claim(db)
    assert again["event_id"] == e1 and again["attempts"] == 1
    db.dispose()


def test_given_up_deliveries_no_longer_block(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, _notify("http://a"))
    engine_event(db, wf, "WORKFLOW_LAUNCHED")
    e2 = engine_event(db, wf, "WORKFLOW_SUCCEEDED")
    (head,) = _claim(db)
    with outbox.writing(db) as conn:
        outbox.record(conn, [outbox.Outcome(head["id"], outbox.FAILED, None, "gone", 1, None)])
    (nxt,) = _claim(db)
    assert nxt["event_id"] == e2
    with db.connect() as conn:
        states = dict(conn.execute(select(event_deliveries.c.event_id,
                                          event_deliveries.c.state)).all())
    assert states[head["event_id"]] == "failed"
    db.dispose()


def test_fanout_marks_events_and_skips_unsubscribed(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    quiet = engine_workflow(db, {})
    loud = engine_workflow(db, {"notify": [
        {"type": "webhook", "url": "http://a", "event_types": ["WORKFLOW_SUCCEEDED"]},
        {"type": "webhook", "url": "http://b"},
    ]})
    engine_event(db, quiet, "WORKFLOW_LAUNCHED")
    engine_event(db, loud, "WORKFLOW_LAUNCHED")
    engine_event(db, loud, "WORKFLOW_SUCCEEDED")
    with outbox.writing(db) as conn:
        assert outbox.fanout(conn, ["http://global"]) == 3
        assert outbox.fanout(conn, ["http://global"]) == 0
    with db.connect() as conn:
        made = conn.execute(select(event_deliveries.c.event, event_deliveries.c.url)
                            .order_by(event_deliveries.c.id)).all()
        pending = conn.execute(select(engine_events.c.id)
                               .where(engine_events.c.delivered_at.is_(None))).all()
    assert pending == []
    assert sorted(made) == sorted([
        ("WORKFLOW_LAUNCHED", "http://global"),
        ("WORKFLOW_LAUNCHED", "http://b"), ("WORKFLOW_LAUNCHED", "http://global"),
        ("WORKFLOW_SUCCEEDED", "http://a"), ("WORKFLOW_SUCCEEDED", "http://b"),
        ("WORKFLOW_SUCCEEDED", "http://global"),
    ])
    db.dispose()


def test_levante_lines_come_in_batches_in_order(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, {"env": {"levante": {"callback_url": "http://p"}},
                              "notify": [{"type": "levante"}, {"type": "webhook",
                                                                "url": "http://w"}]})
    ids = [engine_event(db, wf, e) for e in ("WORKFLOW_LAUNCHED", "TASK_LAUNCHED",
                                              "TASK_SUCCEEDED", "WORKFLOW_SUCCEEDED")]
    with outbox.writing(db) as conn:
        outbox.fanout(conn, [])
        lines = outbox.claim(conn, 60.0, 10, batch=3)
    by_kind = {line[0]["kind"]: [d["event_id"] for d in line] for line in lines}
    assert by_kind == {"levante": ids[:3], "webhook": ids[:1]}
    db.dispose()


def test_purge_forgets_only_old_finished_deliveries(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    wf = engine_workflow(db, _notify("http://a"))
    engine_event(db, wf, "WORKFLOW_LAUNCHED")
    engine_event(db, wf, "WORKFLOW_SUCCEEDED")
    first = _claim(db)
    _done(db, first)
    later = outbox.now() + timedelta(days=1)
    with outbox.writing(db) as conn:
        assert outbox.purge(conn, outbox.now() - timedelta(days=1)) == 0
        assert outbox.purge(conn, later) == 1  # the delivered one; the pending one stays
    with db.connect() as conn:
        left = conn.execute(select(event_deliveries.c.state)).scalars().all()
    assert left == ["pending"]
    db.dispose()
