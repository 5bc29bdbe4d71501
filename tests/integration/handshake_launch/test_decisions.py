"""The decisions of the launch and report modules, without a database: what is reported
for which status, how an engine answer is classified, the workflow input, the summary."""

from __future__ import annotations

from levante.platform.core.example_run import summary
from levante.platform.workflows import launch as workflow_launch
from levante.platform.workflows import reports as reporting

CHILD = {"mistral": {"action_execution_id": "a-1", "workflow_execution_id": "wf-1"}}
WORKFLOW_ACTION = {"runner_type": "mistral-v2"}
SHELL_ACTION = {"runner_type": "local-shell-cmd"}


def test_each_final_status_of_a_child_maps_to_an_engine_state() -> None:
    expected = {"succeeded": "SUCCESS", "failed": "ERROR", "timeout": "ERROR",
                "abandoned": "ERROR", "canceled": "CANCELLED"}
    for status, state in expected.items():
        rows = reporting.reports_for("ex", status, {"stdout": "x"}, CHILD, SHELL_ACTION)
        action = [r for r in rows if r["kind"] == "action"]
        assert [r["body"] for r in action] == [{"state": state, "output": {"stdout": "x"}}]
        assert action[0]["url"] == "/v2/action_executions/a-1"
    # A canceled child also cancels its workflow, and that goes first.
    rows = reporting.reports_for("ex", "canceled", None, CHILD, SHELL_ACTION)
    assert [(r["kind"], r["url"]) for r in rows] == [
        ("workflow", "/v2/executions/wf-1"), ("action", "/v2/action_executions/a-1")]
    assert rows[1]["body"]["output"] == {}
    for status in ("running", "requested", "canceling", "paused"):
        assert reporting.reports_for("ex", status, None, CHILD, SHELL_ACTION) == []


def test_commands_only_for_workflow_executions_on_the_engine() -> None:
    launched = {"mistral": {"execution_id": "wf-9"}}
    for status, state in (("canceling", "CANCELLED"), ("pausing", "PAUSED"),
                          ("resuming", "RUNNING")):
        [row] = reporting.reports_for("ex", status, None, launched, WORKFLOW_ACTION)
        assert (row["kind"], row["url"], row["body"]) == (
            "workflow", "/v2/executions/wf-9", {"state": state})
    assert reporting.reports_for("ex", "canceling", None, launched, SHELL_ACTION) == []
    assert reporting.reports_for("ex", "canceling", None, {}, WORKFLOW_ACTION) == []
    assert reporting.reports_for("ex", "succeeded", None, launched, WORKFLOW_ACTION) == []


def test_engine_answers_are_classified() -> None:
    report = {"kind": "action"}
    assert reporting.classify(report, None, "ConnectError") == reporting.PENDING
    assert reporting.classify(report, 200, None) == reporting.ACKNOWLEDGED
    assert reporting.classify(
        report, 400, "HTTP 400: Action execution x has already ended (SUCCESS)"
    ) == reporting.ACKNOWLEDGED
    assert reporting.classify(report, 400, "HTTP 400: bad state") == reporting.REJECTED
    assert reporting.classify(report, 404, "HTTP 404: not found") == reporting.REJECTED
    for status in (429, 500, 502, 503):
        assert reporting.classify(report, status, "busy") == reporting.PENDING
    # a deleted service key is replaced: retried, not refused for ever
    assert reporting.classify(report, 401, "HTTP 401: Unauthorized") == reporting.PENDING
    assert [reporting.backoff(n, 0.5, 4.0) for n in (1, 2, 3, 4, 5, 30)] == [
        0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_the_workflow_input_and_the_engine_id() -> None:
    given = {"name": "x", "items": [1], "context": {"extra": True, "name": "y"},
             "skip_notify": [], "task": None, "workflow": "wf", "empty": None}
    assert workflow_launch.workflow_input(given) == {"name": "y", "items": [1], "extra": True}
    first = workflow_launch.engine_execution_id("01a2")
    assert first == workflow_launch.engine_execution_id("01a2") and len(first) == 36
    assert first != workflow_launch.engine_execution_id("01a3")


def test_the_summary_levante_up_prints() -> None:
    execution = {"id": "e1", "status": "succeeded", "elapsed_seconds": 1.5,
                 "action": {"ref": "examples.hello_chain"},
                 "context": {"mistral": {"execution_id": "wf-1"}},
                 "result": {"greeting": "hi", "extra": {}, "tasks": [
                     {"name": "greet", "state": "SUCCESS", "id": "t1",
                      "workflow_execution_id": "wf-1"}]}}
    lines = summary(execution, [{"action": {"ref": "core.echo"}}], "http://a", "http://e")
    assert lines[0] == ("Example workflow examples.hello_chain: execution e1 succeeded in "
                        "1.50 s (engine workflow execution wf-1).")
    assert any(line.split() == ["greet", "SUCCESS", "task", "t1", "of", "workflow", "wf-1"]
               for line in lines)
    assert '  output: {"greeting": "hi"}' in lines
    assert lines[-3:] == ["Platform API (StackStorm v1): http://a/v1", "Web UI: http://a/ui/",
                          "Engine API (Mistral v2): http://e/v2"]
