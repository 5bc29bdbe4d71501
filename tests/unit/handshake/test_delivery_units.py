"""Backoff, subscribers, bodies, signatures and log lines of the notifier."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from levante.contract.delivery import EVENTS, Answer
from levante.contract.signing import SignatureError, generate_secret, signed_headers, verify
from levante.engine.platform_link import delivery
from levante.engine.store.outbox import subscribers_of

ANSWER = Answer(204, None, 3)


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [delivery.backoff(n, 0.5, 3.0) for n in range(0, 6)] == [0, 0.5, 1, 2, 3, 3]
    assert delivery.backoff(500, 1.0, 300.0) == 300.0


def test_retry_time_gives_up_after_max_age() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    soon = created + timedelta(seconds=10)
    assert delivery.retry_time(1, created, soon, 1.0, 60.0, 100.0) == soon + timedelta(seconds=1)
    late = created + timedelta(seconds=99)
    assert delivery.retry_time(3, created, late, 1.0, 60.0, 100.0) is None


def test_subscribers_from_notify_env_and_config() -> None:
    params = {
        "env": {"levante": {"callback_url": "http://p/v1/webhooks/levante",
                            "credential": "k3y", "execution_id": "abc"}},
        "notify": [
            {"type": "webhook", "url": "http://hook", "headers": {"X-A": "1"},
             "event_types": ["WORKFLOW_SUCCEEDED"]},
            {"type": "levante"},
            {"type": "webhook"},  # no URL: ignored
            "junk",
        ],
    }
    subs = subscribers_of(params, ["http://global"])
    assert [(s.kind, s.url) for s in subs] == [
        ("webhook", "http://hook"), ("levante", "http://p/v1/webhooks/levante"),
        ("webhook", "http://global"),
    ]
    assert subs[0].headers == {"X-A": "1"}
    assert subs[0].wants("WORKFLOW_SUCCEEDED") and not subs[0].wants("TASK_LAUNCHED")
    assert subs[1].headers == {"St2-Api-Key": "k3y"}
    assert subs[1].wants("TASK_LAUNCHED")
    assert subscribers_of({}, []) == []


def _material(event: str, wf: dict, tasks: list[dict] | None = None) -> dict:
    return {
        "events": {7: {"payload": {"event": event, "notify": [{"headers": {"k": "secret"}}]},
                       "created_at": datetime(2026, 1, 1, tzinfo=UTC)}},
        "workflows": {wf["id"]: wf},
        "tasks": {t["id"]: t for t in tasks or []},
        "tasks_of": {wf["id"]: tasks or []},
    }


def _delivery(event: str, wf_id: str, task_id: str | None = None) -> dict:
    return {"id": 1, "event_id": 7, "event": event, "execution_id": wf_id,
            "root_execution_id": wf_id, "task_execution_id": task_id, "kind": "levante",
            "url": "http://p", "headers": {}, "attempts": 0,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC)}


WF = {"id": "wf-1", "name": "wb.wf", "workflow_name": "wb.wf", "workflow_namespace": "",
      "workflow_id": None, "task_execution_id": None, "state": "SUCCESS",
      "state_info": None, "project_id": "p", "output": {"answer": 42},
      "params": {"env": {"levante": {"execution_id": "plat-1", "credential": "k3y"}}},
      "created_at": None, "updated_at": None}
TASK = {"id": "t-1", "name": "first", "workflow_execution_id": "wf-1", "workflow_name": "wb.wf",
        "state": "SUCCESS", "published": {"a": 1}, "result": "r", "type": "ACTION"}


def test_workflow_body_carries_state_output_tasks_and_no_secrets() -> None:
    body = delivery.event_body(_delivery("WORKFLOW_SUCCEEDED", "wf-1"),
                               _material("WORKFLOW_SUCCEEDED", WF, [TASK]))
    assert body["event"] == "WORKFLOW_SUCCEEDED" and body["event_id"] == 7
    assert body["state"] == "SUCCESS" and body["id"] == "wf-1"
    assert body["output"] == {"answer": 42}
    assert [t["name"] for t in body["tasks"]] == ["first"]
    assert body["tasks"][0]["workflow_execution_id"] == "wf-1"
    assert body["platform_execution_id"] == "plat-1"
    text = json.dumps(body)
    assert "k3y" not in text and "secret" not in text and "notify" not in body


def test_task_body_state_follows_the_event() -> None:
    running = {**TASK, "state": "SUCCESS"}
    body = delivery.event_body(_delivery("TASK_LAUNCHED", "wf-1", "t-1"),
                               _material("TASK_LAUNCHED", WF, [running]))
    assert body["state"] == "RUNNING"
    assert body["workflow_execution_id"] == "wf-1" and body["id"] == "t-1"
    assert "output" not in body


def test_signature_of_a_body_verifies_and_breaks_when_changed() -> None:
    secret = generate_secret()
    body = b'{"event": "WORKFLOW_SUCCEEDED"}'
    headers = signed_headers(secret, delivery.message_id([{"event_id": 9}]), body)
    assert headers["webhook-id"] == "msg_levante_9"
    assert verify(secret, headers, body) == "msg_levante_9"
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(secret, headers, body + b" ")


def test_log_lines_have_the_architecture_shapes() -> None:
    wf = _delivery("WORKFLOW_SUCCEEDED", "wf-1")
    assert EVENTS.line_before(wf) == (
        "[wf-1] The workflow event WORKFLOW_SUCCEEDED for wf-1 will be published to levante.")
    assert EVENTS.line_after(wf, ANSWER) == (
        "[wf-1] The workflow event WORKFLOW_SUCCEEDED for wf-1 is published to levante.")
    task = _delivery("TASK_SUCCEEDED", "wf-1", "t-1")
    assert EVENTS.line_before(task) == (
        "[wf-1] The task event TASK_SUCCEEDED for t-1 will be processed for levante.")
    assert EVENTS.line_after(task, ANSWER) == (
        "[wf-1] The task event TASK_SUCCEEDED for t-1 is processed for levante.")


def test_message_ids_name_the_events_sent() -> None:
    assert delivery.message_id([{"event_id": 3}]) == "msg_levante_3"
    assert delivery.message_id([{"event_id": 3}, {"event_id": 4}, {"event_id": 9}]) == (
        "msg_levante_3-9")
