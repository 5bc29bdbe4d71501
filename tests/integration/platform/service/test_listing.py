"""Execution listings: time filters, the bounded count, pages read from the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from levante.db.metadata import all_metadata
from levante.platform.core import store
from tests.integration.platform.service.conftest import Db, Served


def _seed(engine: Engine, count: int, parent_every: int = 0) -> list[str]:
    """`count` finished executions one minute apart (ids in start order)."""
    table = all_metadata().tables["executions"]
    base = datetime(2026, 3, 1, tzinfo=UTC)
    ids = [f"{n:024x}" for n in range(1, count + 1)]
    rows = [{
        "id": ident, "action_ref": "core.noop" if n % 2 else "core.local",
        "action": {"ref": "core.noop"}, "runner": {"name": "noop"}, "status": "succeeded",
        "parameters": {}, "context": {"user": "stanley"}, "result": {},
        "parent": ids[n - 1] if parent_every and n and n % parent_every == 0 else None,
        "user": "stanley" if n % 3 else "alice", "timeout": 60,
        "start_timestamp": base + timedelta(minutes=n), "end_timestamp": None, "log": [],
    } for n, ident in enumerate(ids)]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    return ids


def test_time_filters_keep_executions_started_inside_the_window(served: Served) -> None:
    ids = _seed(served.engine, 10)
    with served.client() as client:
        after = client.get("/executions", params={"timestamp_gt": "2026-03-01T00:07:00Z"})
        assert [e["id"] for e in after.json()] == [ids[9], ids[8]]
        assert after.headers["X-Total-Count"] == "2"
        window = client.get("/executions", params={
            "timestamp_gt": "2026-03-01T00:02:00+00:00",
            "timestamp_lt": "2026-03-01T01:05:00+01:00",  # 00:05 UTC
            "sort_asc": "true"})
        assert [e["id"] for e in window.json()] == ids[3:5]
        naive = client.get("/executions", params={"timestamp_lt": "2026-03-01T00:01:30"})
        assert [e["id"] for e in naive.json()] == [ids[1], ids[0]]
        bad = client.get("/executions", params={"timestamp_gt": "yesterday"})
        assert bad.status_code == 400
        assert "timestamp_gt" in bad.json()["faultstring"]
        assert "yesterday" in bad.json()["faultstring"]


def test_pages_follow_the_order_and_skip_what_they_skip(platform_db: Db) -> None:
    ids = _seed(platform_db.engine, 30, parent_every=5)
    top = [i for n, i in enumerate(ids) if n % 5 or n == 0]
    rows, total = store.list_executions(platform_db.engine, parent="null", limit=4, offset=3)
    assert [r["id"] for r in rows] == list(reversed(top))[3:7]
    assert total == len(top)
    rows, total = store.list_executions(platform_db.engine, parent="null", user="alice",
                                        action="core.local", ascending=True, limit=None)
    expected = [i for n, i in enumerate(ids)
                if (n % 5 or n == 0) and n % 3 == 0 and n % 2 == 0]
    assert [r["id"] for r in rows] == expected
    assert total == len(expected)


def test_the_count_stops_at_its_cap_and_the_page_is_still_whole(platform_db: Db) -> None:
    ids = _seed(platform_db.engine, 25)
    rows, total = store.list_executions(platform_db.engine, limit=5, count_cap=10)
    assert total == 10
    assert [r["id"] for r in rows] == list(reversed(ids))[:5]
    # The count always reaches past the page asked for: "more exist" is never missed.
    rows, total = store.list_executions(platform_db.engine, limit=3, offset=15, count_cap=10)
    assert [r["id"] for r in rows] == list(reversed(ids))[15:18]
    assert total == 19
