"""The definitions store called directly: specs cached per change, workbooks, namespaces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from levante.db.connect import make_engine
from levante.engine.store import definitions as store

WF = "version: '2.0'\nflow:\n  input: [a]\n  tasks:\n    t:\n      action: std.echo output=1\n"


@pytest.fixture
def db(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def test_spec_is_parsed_once_per_change(db: Engine) -> None:
    specs = store.ParsedSpecs()  # the engine runtime's, in the engine
    with db.begin() as conn:
        [row] = store.create_workflows(conn, WF)
    with db.connect() as conn:
        head, spec = store.get_workflow_spec(conn, "flow", specs=specs)
        again_head, again = store.get_workflow_spec(conn, row["id"], specs=specs)
        assert store.get_workflow_spec(conn, "flow")[1] is not spec  # without: parsed
    assert again is spec
    assert head["id"] == again_head["id"] == row["id"]
    assert "definition" not in head
    assert spec.input_names() == ["a"]

    with db.begin() as conn:
        store.update_workflows(conn, WF.replace("[a]", "[a, b]"))
    with db.connect() as conn:
        _, changed = store.get_workflow_spec(conn, "flow", specs=specs)
    assert changed is not spec
    assert changed.input_names() == ["a", "b"]

    with db.connect() as conn, pytest.raises(store.NotFound):
        store.get_workflow_spec(conn, "nope")


def test_namespaces_fall_back_to_the_default(db: Engine) -> None:
    with db.begin() as conn:
        store.create_workflows(conn, WF)
        store.create_workflows(conn, WF.replace("output=1", "output=2"), namespace="ns")
        # "flow" exists in both namespaces; a second one in "ns" is a duplicate
        with pytest.raises(store.DuplicateError):
            store.create_workflows(conn, WF, namespace="ns")
    with db.connect() as conn:
        in_ns = store.get_workflow(conn, "flow", "ns")
        default = store.get_workflow(conn, "flow")
        fallback = store.get_workflow(conn, "flow", "other")
    assert in_ns["namespace"] == "ns" and default["namespace"] == ""
    assert fallback["id"] == default["id"]


def test_workbook_members_follow_the_workbook(db: Engine) -> None:
    book = (
        "version: '2.0'\nname: wb\nactions:\n  say:\n    base: std.echo\n"
        "    base-input:\n      output: <% $.x %>\n    input: [x]\n"
        "workflows:\n  one:\n    tasks:\n      t:\n        action: say x=1\n"
        "  two:\n    tasks:\n      t:\n        workflow: one\n"
    )
    with db.begin() as conn:
        store.create_workbook(conn, book)
    with db.connect() as conn:
        _, two = store.get_workflow_spec(conn, "wb.two")
        found = store.get_adhoc_action(conn, "wb.say")
        assert store.get_adhoc_action(conn, "say") is None
    assert two.name == "wb.two"
    assert two.tasks["t"].workflow == "wb.one"
    assert found is not None and found[1].base == "std.echo"

    smaller = book[: book.index("  two:")]
    with db.begin() as conn:
        store.update_workbook(conn, smaller)
    with db.connect() as conn:
        with pytest.raises(store.NotFound):
            store.get_workflow(conn, "wb.two")
        store.get_workflow(conn, "wb.one")
    with db.begin() as conn:
        store.delete_workbook(conn, "wb")
    with db.connect() as conn:
        with pytest.raises(store.NotFound):
            store.get_workflow(conn, "wb.one")
        assert store.get_adhoc_action(conn, "wb.say") is None


def test_scope_and_input_errors(db: Engine) -> None:
    with db.begin() as conn:
        with pytest.raises(store.InvalidRequest):
            store.create_workflows(conn, WF, scope="everyone")
        with pytest.raises(store.NotFound):
            store.update_workflows(conn, WF)
        with pytest.raises(store.InvalidRequest):
            store.create_environment(conn, "e", variables=[1, 2])
