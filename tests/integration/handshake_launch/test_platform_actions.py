"""The engine's side of tasks that run platform actions: a child execution created on a
real platform API, with its parent and `context.mistral`; refusals fail the action."""

from __future__ import annotations

import asyncio

import pytest

from levante.engine.actions.base import ActionContext, ActionError
from levante.engine.platform_actions import (
    PlatformAction,
    get_action,
    is_platform_ref,
    job_input,
    lookup,
)
from tests.integration.handshake.support import platform_execution, platform_row, wait_for
from tests.integration.handshake_launch.conftest import Loopback


def _origin(loopback: Loopback, parent: str | None) -> dict[str, object]:
    workflow = {"id": "wf-1", "workflow_name": "wb.wf", "root_execution_id": "wf-1",
                "params": {"env": {"levante": {"execution_id": parent,
                                               "api_url": loopback.api_url,
                                               "credential": loopback.key}}}}
    return job_input(PlatformAction("core.noop"), {"note": "x"}, workflow,
                     {"id": "task-1", "name": "say"})


def _ctx(loopback: Loopback) -> ActionContext:
    return ActionContext(workflow_execution_id="wf-1", task_execution_id="task-1",
                         action_execution_id="action-1", config=loopback.config,
                         callback_url=f"{loopback.engine_url}/v2/action_executions/action-1")


def test_a_child_execution_with_parent_and_mistral_context(loopback: Loopback) -> None:
    loopback.start_platform()
    parent = platform_execution(loopback.db, "wf-1")
    action = PlatformAction("examples.noop")
    given = {**_origin(loopback, parent), "note": "from a task"}
    result = asyncio.run(action.run(given, _ctx(loopback)))
    child_id = result["platform_execution_id"]
    child = platform_row(loopback.db, child_id)
    assert child["parent"] == parent
    assert child["action_ref"] == "examples.noop"
    assert child["parameters"] == {"note": "from a task"}
    assert child["context"]["mistral"] == {
        "workflow_execution_id": "wf-1", "workflow_name": "wb.wf",
        "root_execution_id": "wf-1", "task_name": "say", "task_execution_id": "task-1",
        "action_execution_id": "action-1", "nesting": 1,
        "callback_url": f"{loopback.engine_url}/v2/action_executions/action-1",
    }
    assert child["context"]["parent"] == {"execution_id": parent}
    wait_for(lambda: platform_row(loopback.db, child_id)["status"] == "requested", 1.0)


def test_refusals_of_the_platform_fail_the_action(loopback: Loopback) -> None:
    loopback.start_platform()
    given = _origin(loopback, None)
    with pytest.raises(ActionError, match="cannot be found"):
        asyncio.run(PlatformAction("nopack.nothing").run(given, _ctx(loopback)))
    with pytest.raises(ActionError, match="cmd"):
        asyncio.run(PlatformAction("core.local").run(
            {**given, "cmd": 42}, _ctx(loopback)))
    bad_key = {**given, "__levante_origin": {**given["__levante_origin"],  # type: ignore[dict-item]
                                             "credential": "wrong"}}
    with pytest.raises(ActionError, match="401"):
        asyncio.run(PlatformAction("core.noop").run(bad_key, _ctx(loopback)))


def test_which_names_are_platform_actions() -> None:
    assert is_platform_ref("core.local") and is_platform_ref("my_pack.do.it")
    assert not is_platform_ref("std.echo") and not is_platform_ref("nodot")
    assert lookup("std.nope") is None
    assert get_action("std.echo").name == "std.echo"
    found = get_action("core.local")
    assert isinstance(found, PlatformAction) and found.name == "core.local" and found.is_async
    assert job_input(get_action("std.noop"), {"a": 1}, {}, {}) == {"a": 1}
