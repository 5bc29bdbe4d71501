"""Migration 0015: the pending rows of `event_deliveries` and `engine_reports` move into the
one `outbox` (in order, each with its route and line), and back on downgrade."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from levante.db import manage
from levante.db.connect import make_engine

STAMP = "2026-12-01 10:00:00+00:00"


def _rows(url: str, query: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(query))]
    finally:
        engine.dispose()


def _execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _delivery(event_id: int, state: str) -> str:
    return (
        "INSERT INTO event_deliveries (event_id, event, execution_id, root_execution_id, "
        "task_execution_id, subscriber, url, headers, state, attempts, created_at, "
        f"next_attempt_at) VALUES ({event_id}, 'WORKFLOW_LAUNCHED', 'wf', 'root', NULL, "
        f"'levante', 'http://p/hook', '{{}}', '{state}', 1, '{STAMP}', '{STAMP}')"
    )


def _report(target: str, state: str) -> str:
    return (
        "INSERT INTO engine_reports (execution_id, kind, target_id, url, body, state, "
        f"attempts, created_at, next_attempt_at) VALUES ('ex1', 'action', '{target}', "
        f"'/v2/action_executions/{target}', '{{\"state\": \"SUCCESS\"}}', '{state}', 0, "
        f"'{STAMP}', '{STAMP}')"
    )


def test_pending_messages_move_into_the_outbox_and_back(database_url: str) -> None:
    manage.upgrade(database_url, "0014")
    _execute(database_url, _delivery(1, "delivered"), _delivery(2, "pending"),
             _delivery(3, "pending"), _report("a1", "acknowledged"), _report("a2", "pending"))
    manage.upgrade(database_url, "0015")
    moved = _rows(database_url, "SELECT route, kind, line, event_id, target_id, state, "
                                "attempts FROM outbox ORDER BY id")
    assert moved == [
        {"route": "events", "kind": "levante", "line": "root http://p/hook", "event_id": 2,
         "target_id": None, "state": "pending", "attempts": 1},
        {"route": "events", "kind": "levante", "line": "root http://p/hook", "event_id": 3,
         "target_id": None, "state": "pending", "attempts": 1},
        {"route": "reports", "kind": "action", "line": "a2", "event_id": None,
         "target_id": "a2", "state": "pending", "attempts": 0},
    ]
    manage.downgrade(database_url, "0014")
    assert [r["event_id"] for r in _rows(
        database_url, "SELECT event_id FROM event_deliveries ORDER BY id")] == [2, 3]
    assert [r["target_id"] for r in _rows(
        database_url, "SELECT target_id FROM engine_reports ORDER BY id")] == ["a2"]
    manage.downgrade(database_url, "base")
