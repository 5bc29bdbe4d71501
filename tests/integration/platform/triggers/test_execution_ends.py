"""Every way an execution ends records, in the ending's transaction, exactly one
``core.st2.generic.actiontrigger`` instance, and one notifytrigger instance per route of
the ``notify`` block that applies; their payloads are completed from the execution as
StackStorm's notifier built them. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select, update

from levante.db.connect import writing
from levante.platform.core import executions, store
from levante.platform.core.models import executions as executions_table
from levante.platform.datastore import store as kv_store
from levante.platform.triggers import execution_payloads
from levante.platform.triggers.execution_ends import ACTION_TRIGGER, NOTIFY_TRIGGER
from levante.platform.triggers.tables import trigger_instances
from levante.platform.workflows import store as wf_store
from tests.integration.platform.service.conftest import Db, Served, wait_status

NOTIFY = {
    "on-complete": {"routes": ["audit"]},
    "on-success": {"routes": ["slack", "mail"],
                   "message": "{{ action_parameters.who }} got {{ action_results.n }}",
                   "data": {"who": "{{ action_parameters.who }}",
                            "where": "{{ st2kv.system.site }}"}},
    "on-failure": {"routes": ["pager"]},
}


def instances(db: Engine, execution_id: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(trigger_instances).where(trigger_instances.c.payload_from == execution_id)
            .order_by(trigger_instances.c.trigger, trigger_instances.c.id))]


def action_with_notify(db: Engine, ref: str = "testpack.told", notify: Any = None) -> None:
    pack, _, name = ref.partition(".")
    store.insert_action(db, {
        "ref": ref, "pack": pack, "name": name, "description": "", "runner_type": "noop",
        "entry_point": "", "enabled": True, "tags": [], "metadata_file": "",
        "parameters": {"who": {"type": "string"}, "pw": {"type": "string", "secret": True}},
        "notify": NOTIFY if notify is None else notify})


def started(db: Engine, ref: str, params: dict[str, Any] | None = None,
            **kwargs: Any) -> str:
    row = executions.create_execution(db, ref, params or {}, "stanley", **kwargs)
    claimed = store.claim_requested(db, "test-runner", 10, 30, ids=[row["id"]])
    assert [c["id"] for c in claimed] == [row["id"]]
    return str(row["id"])


def test_each_end_path_records_one_action_trigger(platform_db: Db) -> None:
    db = platform_db.engine
    finished = started(db, "core.noop")
    assert store.finish(db, finished, "succeeded", {"ok": 1}, [], context={})
    assert not store.finish(db, finished, "failed", None, [], context={})  # already ended
    many = [started(db, "core.noop") for _ in range(3)]
    assert store.finish_many(db, [(m, "failed", {"n": i}, []) for i, m in enumerate(many)]) \
        == set(many)
    canceled = executions.create_execution(db, "core.noop", {}, "stanley")["id"]
    executions.request_cancel(db, canceled)
    running = started(db, "core.noop")
    assert store.transition(db, running, ["running"], "pausing") is not None  # not an end
    assert store.transition(db, running, ["pausing"], "timeout",
                            {"end_timestamp": store.now()}) is not None
    by_events = started(db, "core.noop")
    with writing(db) as conn:
        assert wf_store.update_execution(conn, by_events, "running",
                                         {"status": "abandoned", "end_timestamp": store.now()})
    expected = {finished: "succeeded", **dict.fromkeys(many, "failed"),
                canceled: "canceled", running: "timeout", by_events: "abandoned"}
    for execution_id, status in expected.items():
        found = instances(db, execution_id)
        # (processed at once: no rule names the action trigger here)
        assert [(i["trigger"], i["payload"], i["status"]) for i in found] == [
            (ACTION_TRIGGER, {"execution_id": execution_id, "status": status}, "processed")]
    with db.connect() as conn:
        full = execution_payloads.complete(conn, instances(db, finished))
    (payload,) = full.values()
    assert payload["execution_id"] == finished and payload["status"] == "succeeded"
    assert payload["action_ref"] == payload["action_name"] == "core.noop"
    assert payload["runner_ref"] == "noop" and payload["result"] == {"ok": 1}
    assert payload["parameters"] == {}
    assert payload["start_timestamp"].startswith("20") and "+00:00" in \
        payload["start_timestamp"]


def test_notify_block_records_a_notify_instance_per_route(platform_db: Db) -> None:
    db = platform_db.engine
    kv_store.put(db, "system", "", "site", "lyon", False, None, store.now())
    action_with_notify(db)
    ok = started(db, "testpack.told", {"who": "ann", "pw": "hunter2"})
    store.finish(db, ok, "succeeded", {"n": 3}, [], context={})
    bad = started(db, "testpack.told", {"who": "bob"})
    store.finish(db, bad, "failed", {"n": 0}, [], context={})
    found = instances(db, ok)
    assert [i["trigger"] for i in found] == [ACTION_TRIGGER] + [NOTIFY_TRIGGER] * 3
    assert sorted(i["payload"]["route"] for i in found[1:]) == ["audit", "mail", "slack"]
    assert sorted(i["payload"]["route"] for i in instances(db, bad)[1:]) == ["audit", "pager"]
    with db.connect() as conn:
        full = execution_payloads.complete(conn, found)
    action = full[found[0]["id"]]
    assert action["parameters"] == {"who": "ann", "pw": "********"}
    by_route = {p["route"]: p for iid, p in full.items() if iid != found[0]["id"]}
    slack = by_route["slack"]
    assert slack["message"] == "ann got 3"
    assert slack["data"] == {"who": "ann", "where": "lyon", "result": json.dumps({"n": 3})}
    assert slack["channel"] == "slack" and slack["status"] == "succeeded"
    assert slack["execution_id"] == ok and slack["action_ref"] == "testpack.told"
    assert slack["runner_ref"] == "noop"
    assert slack["start_timestamp"].endswith("Z") and slack["end_timestamp"].endswith("Z")
    assert by_route["audit"]["message"] == "Action testpack.told completed."
    assert "_notify" not in slack


def test_children_inherit_the_parent_notify_unless_skipped(platform_db: Db) -> None:
    db = platform_db.engine
    action_with_notify(db, "testpack.quiet", notify={})
    action_with_notify(db, "testpack.parent", notify={"on-complete": {"routes": ["ops"]}})
    parent = started(db, "testpack.parent")
    heard = started(db, "testpack.quiet", parent=parent, context={"chain": {"name": "a"}})
    store.finish(db, heard, "succeeded", None, [], context={})
    assert [i["trigger"] for i in instances(db, heard)] == [ACTION_TRIGGER, NOTIFY_TRIGGER]
    with writing(db) as conn:
        conn.execute(update(executions_table).where(executions_table.c.id == parent)
                     .values(parameters={"skip_notify": ["b"]}))
    skipped = started(db, "testpack.quiet", parent=parent, context={"chain": {"name": "b"}})
    store.finish(db, skipped, "succeeded", None, [], context={})
    assert [i["trigger"] for i in instances(db, skipped)] == [ACTION_TRIGGER]
    task = started(db, "testpack.quiet", parent=parent,
                   context={"mistral": {"task_name": "b", "workflow_name": "w"}})
    store.finish(db, task, "succeeded", None, [], context={})
    assert [i["trigger"] for i in instances(db, task)] == [ACTION_TRIGGER]  # a skipped task
    own = started(db, "testpack.quiet", parent=parent,
                  context={"chain": {"name": "b"}, "notify": {"on-complete": {"routes": ["x"]}}})
    store.finish(db, own, "succeeded", None, [], context={})
    assert [i["payload"].get("route") for i in instances(db, own)] == [None, "x"]
    # As StackStorm's create_request: the action's block replaces the requested one.
    replaced = started(db, "testpack.parent",
                       context={"notify": {"on-complete": {"routes": ["asked"]}}})
    store.finish(db, replaced, "succeeded", None, [], context={})
    assert [i["payload"].get("route") for i in instances(db, replaced)] == [None, "ops"]



def test_an_execution_requested_with_notify_records_it(served: Served) -> None:
    with served.client() as c:
        bad = c.post("/executions", json={"action": "core.noop",
                                          "notify": {"on-done": {"routes": ["x"]}}})
        assert bad.status_code == 400 and "'on-done'" in bad.json()["faultstring"]
        made = c.post("/executions", json={
            "action": "core.noop", "notify": {"on-success": {"routes": ["chat"],
                                                             "message": "done"}}})
        assert made.status_code == 201, made.text
        execution_id = made.json()["id"]
        wait_status(c, execution_id, {"succeeded"})
    found = instances(served.engine, execution_id)
    assert [(i["trigger"], i["payload"].get("route")) for i in found] == [
        (ACTION_TRIGGER, None), (NOTIFY_TRIGGER, "chat")]
    with served.engine.connect() as conn:
        payload = execution_payloads.complete(conn, found[1:])[found[1]["id"]]
    assert payload["message"] == "done" and payload["status"] == "succeeded"
    # The API shows (and a re-emit records) the completed payloads, as StackStorm's.
    with served.client() as c:
        shown = c.get(f"/triggerinstances/{found[0]['id']}").json()["payload"]
        assert shown["action_ref"] == "core.noop" and shown["runner_ref"] == "noop"
        listed = c.get("/triggerinstances", params={"trigger": NOTIFY_TRIGGER}).json()
        assert [i["payload"]["message"] for i in listed] == ["done"]
        again = c.post(f"/triggerinstances/{found[1]['id']}/re_emit", json={}).json()
        assert again["payload"]["message"] == "done" and "_notify" not in again["payload"]
