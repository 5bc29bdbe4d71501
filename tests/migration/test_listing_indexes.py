"""The indexes of migrations 0010 and 0014 serve the listings: no sort of every match, no
table scan.

Each listing query the stores really send is captured and explained on the migrated
database (SQLite and PostgreSQL): its plan must read an index in the listing's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, insert, text

from levante.db.connect import make_engine
from levante.db.metadata import all_metadata
from levante.engine.store import queries
from levante.platform.core import store
from levante.platform.datastore import store as kv_store
from levante.platform.inquiries import store as inquiry_store
from levante.platform.rules import store as rule_store
from levante.platform.triggers import store as trigger_store

ST2_LISTINGS: list[dict[str, Any]] = [
    {"parent": "null"},
    {"parent": "null", "action": "core.local"},
    {"parent": "null", "status": "failed"},
    {"parent": "null", "user": "alice"},
    {"parent": "null", "offset": 500},
    {},
    {"parent": "0" * 24},
    {"parent": "null", "ascending": True},
]


def seed(engine: Engine, count: int = 3000) -> None:
    """A history big enough for the planners to prefer what they would at scale."""
    tables = all_metadata().tables
    base = datetime(2026, 3, 1, tzinfo=UTC)
    platform_rows, engine_rows = [], []
    for n in range(count):
        when = base + timedelta(seconds=n)
        platform_rows.append({
            "id": f"{n:024x}", "action_ref": f"pack{n % 40}.action", "action": {},
            "runner": {}, "status": ("succeeded", "failed", "canceled")[n % 3],
            "parameters": {}, "context": {}, "result": {},
            "parent": f"{n - 1:024x}" if n % 10 == 9 else None, "user": f"user{n % 20}",
            "timeout": 60, "start_timestamp": when, "end_timestamp": when, "log": []})
        ident = f"00000000-0000-0000-0000-{n:012x}"
        engine_rows.append({
            "id": ident, "name": "wf", "description": "", "workflow_name": "wf",
            "workflow_namespace": "", "spec": {}, "state": ("SUCCESS", "ERROR", "RUNNING",
                                                            "PAUSED")[n % 4],
            "tags": [], "params": {}, "input": {}, "output": {}, "context": {},
            "runtime_context": {}, "accepted": True, "root_execution_id": ident,
            "project_id": "p", "created_at": when, "updated_at": when})
    with engine.begin() as conn:
        conn.execute(insert(tables["executions"]), platform_rows)
        conn.execute(insert(tables["workflow_executions"]), engine_rows)
        conn.execute(text("ANALYZE"))


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements sent on `engine` while inside, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                 executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def plan(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        # Tiny tables: judge the plan's shape, as it would be on a big one.
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_bitmapscan = off"))
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return "\n".join(str(row[0]) for row in rows)


def assert_served_by_index(engine: Engine, run: Callable[[], Any]) -> None:
    with captured(engine) as seen:
        run()
    assert seen
    for statement, parameters in seen:
        shown = plan(engine, statement, parameters)
        where = f"{statement}\n--- plan:\n{shown}"
        if engine.dialect.name == "sqlite":
            assert "TEMP B-TREE" not in shown, where
            scans = [line for line in shown.splitlines()
                     if line.startswith("SCAN") and not line.startswith("SCAN anon")]
            assert all("INDEX" in line for line in scans), where
        else:
            assert "Sort" not in shown and "Seq Scan" not in shown, where


def test_st2_execution_listings_read_an_index_in_their_order(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    seed(engine)
    try:
        for filters in ST2_LISTINGS:
            assert_served_by_index(
                engine, lambda f=filters: store.list_executions(engine, **f))
    finally:
        engine.dispose()


def test_engine_execution_listings_read_an_index_in_their_order(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    seed(engine)
    listing = queries.executions_listing()
    try:
        for raw in ({"state": "SUCCESS"}, {}):
            request = queries.ListRequest(
                filters=raw, limit=100, sort_keys=("created_at",), sort_dirs=("desc",))

            def run(request: queries.ListRequest = request) -> None:
                with engine.connect() as conn:
                    queries.list_rows(conn, listing, request)

            assert_served_by_index(engine, run)
    finally:
        engine.dispose()


def seed_events(engine: Engine, count: int = 3000) -> None:
    """Trigger instances, enforcements, keys and inquiries, as history leaves them."""
    tables = all_metadata().tables
    base = datetime(2026, 3, 1, tzinfo=UTC)
    instances, enforcements, pairs = [], [], []
    for n in range(count):
        when = base + timedelta(seconds=n)
        instances.append({
            "id": f"{n:024x}", "trigger": f"pack.trigger{n % 30}", "payload": {},
            "occurrence_time": when, "status": ("processed", "processing_failed")[n % 2],
            "payload_from": None, "claimed_by": None, "lease_until": None})
        enforcements.append({
            "id": f"{n:024x}", "rule_id": f"{n % 30:024x}", "rule_ref": f"pack.rule{n % 30}",
            "trigger_instance_id": f"{n:024x}", "execution_id": f"{n:024x}",
            "status": "succeeded", "failure_reason": None, "enforced_at": when})
        pairs.append({
            "id": f"{n:024x}", "scope": ("system", "user")[n % 2],
            "owner": "" if n % 2 == 0 else f"user{n % 20}", "name": f"key.{n}",
            "value": "v", "secret": False, "created_at": when, "updated_at": when,
            "expires_at": None})
    with engine.begin() as conn:
        conn.execute(insert(tables["trigger_instances"]), instances)
        conn.execute(insert(tables["rule_enforcements"]), enforcements)
        conn.execute(insert(tables["kv_pairs"]), pairs)
        conn.execute(text("ANALYZE"))


def test_event_key_and_inquiry_listings_read_an_index_in_their_order(
        migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    seed(engine)
    seed_events(engine)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    try:
        for trigger, status in ((None, None), ("pack.trigger3", None), (None, "processed")):
            assert_served_by_index(engine, lambda t=trigger, s=status: trigger_store
                                   .list_instances(engine, t, s, None, None, 50, 0))
        for filters in ({}, {"rule_ref": "pack.rule4"}, {"offset": 500}):
            assert_served_by_index(engine, lambda f=filters: rule_store.list_enforcements(
                engine, limit=50, **f))
        assert_served_by_index(engine, lambda: inquiry_store.list_pending(engine, 50))
        assert_served_by_index(engine, lambda: kv_store.list_pairs(
            engine, [("system", ""), ("user", "user3")], "key.1", 50, 0, now))
    finally:
        engine.dispose()
