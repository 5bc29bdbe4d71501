"""Parsing of event bodies (Levante's and Mistral's) and the status mapping."""

from __future__ import annotations

import pytest

from levante.contract.states import STATUS_OF
from levante.platform.workflows.receiver import BadEvent, parse_event


def test_status_mapping_is_the_architecture_one() -> None:
    assert STATUS_OF == {"SUCCESS": "succeeded", "ERROR": "failed", "CANCELLED": "canceled",
                         "PAUSED": "paused", "RUNNING": "running"}


def test_levante_workflow_event() -> None:
    update = parse_event({"event": "WORKFLOW_SUCCEEDED", "event_id": 3, "id": "wf",
                          "state": "SUCCESS", "output": {"a": 1},
                          "tasks": [{"id": "t", "name": "n", "workflow_execution_id": "wf"}],
                          "platform_execution_id": "p"})
    assert update.kind == "workflow" and update.workflow_execution_id == "wf"
    assert update.seq == 3 and update.has_output and update.output == {"a": 1}
    assert update.tasks and update.tasks[0]["workflow_execution_id"] == "wf"
    assert update.platform_execution_id == "p"


def test_mistral_payloads_without_event_name() -> None:
    wf = parse_event({"id": "wf", "name": "x", "workflow_name": "x", "state": "ERROR",
                      "state_info": "boom", "root_execution_id": "wf"})
    assert wf.kind == "workflow" and wf.state == "ERROR" and not wf.has_output
    assert wf.seq is None and wf.state_info == "boom"
    task = parse_event({"id": "t", "name": "task1", "workflow_execution_id": "wf",
                        "state": "SUCCESS", "type": "ACTION"})
    assert task.kind == "task" and task.workflow_execution_id == "wf"
    assert task.task is not None and task.task["name"] == "task1"


def test_event_name_gives_the_state_when_missing() -> None:
    assert parse_event({"event": "WORKFLOW_PAUSED", "id": "wf"}).state == "PAUSED"


@pytest.mark.parametrize(("body", "words"), [
    ([], "JSON object"),
    ({"id": "wf"}, "'state' is missing"),
    ({"id": "wf", "state": "DONE"}, "not a Mistral state"),
    ({"state": "SUCCESS"}, "'id' is missing"),
    ({"event": "NOPE", "id": "wf"}, "not a known event"),
    ({"event": "WORKFLOW_LAUNCHED", "id": "wf", "event_id": "1"}, "'event_id'"),
    ({"id": 5, "state": "SUCCESS"}, "'id' must be a string"),
    ({"id": "wf", "state": "SUCCESS", "tasks": [1]}, "'tasks'"),
])
def test_bad_bodies_are_named(body: object, words: str) -> None:
    with pytest.raises(BadEvent, match=words):
        parse_event(body)
