"""Migration 0009: definitions stored before languages were recorded are Mistral v2, and
the engine still reads them after the upgrade; the downgrade drops the column."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import MetaData, Table, insert, inspect, select

from levante.db import manage
from levante.db.connect import make_engine
from levante.engine.store import definitions as store

BEFORE = "0008"
AFTER = "0009"
TABLES = ("workbooks", "workflow_definitions", "action_definitions")
TEXT = "version: '2.0'\nold:\n  input: [a]\n  tasks:\n    t:\n      action: std.noop\n"
SPEC = {"name": "old", "input": [{"name": "a", "default": None, "required": True}],
        "tasks": [{"name": "t", "action": "std.noop", "line": 5}], "line": 2}


def _columns(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def _store_old_rows(url: str) -> None:
    """Rows as a 0008 database holds them, written with the tables as they were then."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    common = {"namespace": "", "scope": "private", "project_id": "<default-project>",
              "created_at": now, "updated_at": None}
    try:
        meta = MetaData()
        with engine.begin() as conn:
            wfs = Table("workflow_definitions", meta, autoload_with=conn)
            books = Table("workbooks", meta, autoload_with=conn)
            acts = Table("action_definitions", meta, autoload_with=conn)
            conn.execute(insert(wfs).values(
                id="00000000-0000-0000-0000-000000000001", name="old", definition=TEXT,
                spec=SPEC, input="a", tags=[], is_system=False, workbook_name=None,
                checksum="0" * 64, **common))
            conn.execute(insert(books).values(
                id="00000000-0000-0000-0000-000000000002", name="wb", definition="x",
                spec={"name": "wb"}, tags=[], **common))
            conn.execute(insert(acts).values(
                id="00000000-0000-0000-0000-000000000003", name="say", definition="x",
                spec={"name": "say", "base": "std.echo"}, input="", description=None,
                tags=[], is_system=False, workbook_name=None, **common))
    finally:
        engine.dispose()


def test_existing_definitions_become_mistral_v2(database_url: str) -> None:
    manage.upgrade(database_url, BEFORE)
    assert all("language" not in _columns(database_url, t) for t in TABLES)
    _store_old_rows(database_url)

    manage.upgrade(database_url, AFTER)
    engine = make_engine(database_url)
    try:
        meta = MetaData()
        with engine.connect() as conn:
            for name in TABLES:
                table = Table(name, meta, autoload_with=conn)
                assert conn.execute(select(table.c.language)).scalars().all() == ["mistral-v2"]
            head, graph = store.get_workflow_spec(conn, "old")
            found = store.get_adhoc_action(conn, "say")
        assert head["language"] == "mistral-v2"
        assert graph.input_names() == ["a"] and list(graph.tasks) == ["t"]
        assert found is not None and found[1].base == "std.echo"
        with engine.begin() as conn:  # a new definition records its language too
            [row] = store.create_workflows(conn, TEXT.replace("old:", "new:"))
        assert row["language"] == "mistral-v2"
        assert json.dumps(row["spec"])  # stored as the engine's JSON graph
    finally:
        engine.dispose()

    manage.downgrade(database_url, BEFORE)
    assert all("language" not in _columns(database_url, t) for t in TABLES)
    manage.upgrade(database_url, "head")
    assert manage.check(database_url) == []
