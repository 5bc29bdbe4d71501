"""Reports to the engine from the durable outbox: written in the status change's
transaction, retried while the engine is down, acknowledged once it answers."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from levante.platform.core import store
from levante.platform.workflows import reports as reporting
from levante.platform.workflows.reports import EngineReporter
from tests.integration.handshake.support import platform_execution, wait_for
from tests.integration.handshake_launch.conftest import Loopback


def _child(db: Engine, action_execution_id: str) -> str:
    """A running child execution of a workflow task, as the engine creates it."""
    ex_id = platform_execution(db, None, runner_type="local-shell-cmd")
    with store.writing(db) as conn:
        from sqlalchemy import update

        from levante.platform.core.models import executions

        conn.execute(update(executions).where(executions.c.id == ex_id).values(context={
            "user": "engine", "mistral": {"action_execution_id": action_execution_id,
                                          "workflow_execution_id": "wf", "task_name": "t"}}))
    return ex_id


def _finish(db: Engine, ex_id: str, status: str, result: object) -> None:
    with store.writing(db) as conn:
        reporting.on_status(conn, ex_id, status, result)


def _engine_action(loopback: Loopback) -> str:
    """An asynchronous action execution on the engine, RUNNING until a PUT arrives."""
    answer = httpx.post(f"{loopback.engine_url}/v2/action_executions",
                        json={"name": "std.async_noop"}, timeout=10,
                        headers=loopback.engine_headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["state"] == "RUNNING"
    return str(answer.json()["id"])


def _engine_state(loopback: Loopback, action_id: str) -> dict[str, object]:
    found: dict[str, object] = httpx.get(
        f"{loopback.engine_url}/v2/action_executions/{action_id}", timeout=5,
        headers=loopback.engine_headers).json()
    return found


def test_reports_are_retried_while_the_engine_is_down(loopback: Loopback) -> None:
    loopback.start_engine()
    action_id = _engine_action(loopback)
    loopback.stop_engine()
    ex_id = _child(loopback.db, action_id)
    _finish(loopback.db, ex_id, "succeeded", {"stdout": "hi\n", "return_code": 0})
    [report] = reporting.reports_of(loopback.db, ex_id)
    assert (report["kind"], report["target_id"], report["state"]) == ("action", action_id,
                                                                      "pending")
    loopback.start("reporter", EngineReporter(loopback.config, loopback.db,
                                              initial_backoff=0.05, max_backoff=0.2,
                                              poll_interval=0.05))
    wait_for(lambda: reporting.reports_of(loopback.db, ex_id)[0]["attempts"] >= 3, 10.0)
    [report] = reporting.reports_of(loopback.db, ex_id)
    assert report["state"] == "pending" and "ConnectError" in report["last_error"]
    loopback.start_engine()
    wait_for(lambda: reporting.reports_of(loopback.db, ex_id)[0]["state"] == "acknowledged",
             10.0)
    found = _engine_state(loopback, action_id)
    assert found["state"] == "SUCCESS"
    assert '"stdout": "hi\\n"' in str(found["output"])


def test_a_failed_child_an_already_ended_action_and_an_unknown_one(
    loopback: Loopback
) -> None:
    loopback.start_engine()
    loopback.start("reporter", EngineReporter(loopback.config, loopback.db,
                                              initial_backoff=0.05, poll_interval=0.05))
    failed_id = _engine_action(loopback)
    failed = _child(loopback.db, failed_id)
    _finish(loopback.db, failed, "timeout", {"error": "too slow"})
    wait_for(lambda: reporting.reports_of(loopback.db, failed)[0]["state"] == "acknowledged",
             10.0)
    assert _engine_state(loopback, failed_id)["state"] == "ERROR"
    # Reported twice (a second status change): the engine already has it; acknowledged.
    _finish(loopback.db, failed, "failed", {"error": "again"})
    wait_for(lambda: reporting.reports_of(loopback.db, failed)[-1]["state"] == "acknowledged",
             10.0)
    assert reporting.reports_of(loopback.db, failed)[-1]["last_status"] == 400
    unknown = _child(loopback.db, "00000000-0000-0000-0000-000000000000")
    _finish(loopback.db, unknown, "succeeded", {})
    wait_for(lambda: reporting.reports_of(loopback.db, unknown)[0]["state"] == "rejected",
             10.0)
    assert reporting.reports_of(loopback.db, unknown)[0]["last_status"] == 404


def test_only_statuses_that_matter_write_reports(loopback: Loopback) -> None:
    plain = platform_execution(loopback.db, None, runner_type="local-shell-cmd")
    _finish(loopback.db, plain, "succeeded", {})  # not a child of a workflow task
    child = _child(loopback.db, "a-1")
    _finish(loopback.db, child, "running", None)  # not final
    workflow = platform_execution(loopback.db, "wf-1")
    _finish(loopback.db, workflow, "canceling", None)
    _finish(loopback.db, workflow, "succeeded", None)  # a workflow has no action execution
    assert reporting.reports_of(loopback.db, plain) == []
    assert reporting.reports_of(loopback.db, child) == []
    [cancel] = reporting.reports_of(loopback.db, workflow)
    assert (cancel["kind"], cancel["url"], cancel["body"]) == (
        "workflow", "/v2/executions/wf-1", {"state": "CANCELLED"})


def test_a_canceled_workflow_cancels_its_children(loopback: Loopback) -> None:
    workflow = platform_execution(loopback.db, "wf-2")
    waiting = _child(loopback.db, "a-waiting")
    running = _child(loopback.db, "a-running")
    finished = _child(loopback.db, "a-done")
    with store.writing(loopback.db) as conn:
        from sqlalchemy import update

        from levante.platform.core.models import executions

        conn.execute(update(executions).where(executions.c.id.in_([waiting, running, finished]))
                     .values(parent=workflow))
        conn.execute(update(executions).where(executions.c.id == waiting)
                     .values(status="requested"))
        conn.execute(update(executions).where(executions.c.id == finished)
                     .values(status="succeeded"))
    _finish(loopback.db, workflow, "canceling", None)
    assert store.statuses_of(loopback.db, [waiting, running, finished]) == {
        waiting: "canceled", running: "canceling", finished: "succeeded"}
    row = store.get_execution(loopback.db, waiting)
    assert row is not None and row["end_timestamp"] is not None
    assert row["log"][-1]["status"] == "canceled"
    # The waiting child's end is reported to the engine; the running one's comes when its
    # runner has stopped it.
    assert [(r["kind"], r["target_id"], r["body"]["state"])
            for r in reporting.reports_of(loopback.db, waiting)] == [
        ("workflow", "wf", "CANCELLED"), ("action", "a-waiting", "CANCELLED")]
    assert reporting.reports_of(loopback.db, running) == []
    assert [r["kind"] for r in reporting.reports_of(loopback.db, workflow)] == ["workflow"]


def test_reports_go_through_when_the_platforms_service_key_is_deleted(
    loopback: Loopback
) -> None:
    """The reporter calls the authenticated engine with the platform's service key; an
    operator deleting that key costs a retry, not the report."""
    from levante.identity import keys
    from levante.identity import store as identity_store
    from levante.platform.workflows.engine_auth import PLATFORM_KEY_FILE

    loopback.start_engine()
    loopback.start("reporter", EngineReporter(loopback.config, loopback.db,
                                              initial_backoff=0.05, max_backoff=0.2,
                                              poll_interval=0.05))
    first = _engine_action(loopback)
    ex_id = _child(loopback.db, first)
    _finish(loopback.db, ex_id, "succeeded", {"stdout": "one"})
    wait_for(lambda: reporting.reports_of(loopback.db, ex_id)[0]["state"] == "acknowledged",
             10.0)
    path = loopback.config.data_dir / PLATFORM_KEY_FILE
    old = path.read_text().strip()
    row = identity_store.get_api_key(loopback.db, keys.hash_secret(old))
    assert row is not None and row["metadata"]["levante_service"] is True
    identity_store.delete_api_key(loopback.db, row["id"])
    keys.forget_all(loopback.db)
    second = _engine_action(loopback)
    ex_id = _child(loopback.db, second)
    _finish(loopback.db, ex_id, "succeeded", {"stdout": "two"})
    wait_for(lambda: reporting.reports_of(loopback.db, ex_id)[0]["state"] == "acknowledged",
             15.0)
    assert _engine_state(loopback, second)["state"] == "SUCCESS"
    assert reporting.reports_of(loopback.db, ex_id)[0]["attempts"] >= 2  # a 401, then ok
    assert path.read_text().strip() != old
