"""A workflow's platform actions run as the user who started the workflow, never as a
built-in admin: the platform user of a launched workflow action, or the owner of the key
that started the workflow on the engine; sub-workflows inherit that user."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from levante.identity import keys
from levante.platform.core import store as platform_store
from levante.platform.core.models import executions
from levante.platform.core.packs import ActionMeta
from levante.platform.runners.base import RunRequest
from levante.platform.workflows import launch as workflow_launch
from tests.integration.handshake.support import platform_execution, wait_for
from tests.integration.handshake_launch.conftest import Loopback

WORKFLOWS = """---
version: '2.0'
as_user.main:
  tasks:
    shell:
      action: core.local cmd="echo hi"
    nested:  # (no runner here: both start at once, neither waits for the other)
      workflow: as_user.sub
as_user.sub:
  tasks:
    say:
      action: core.echo message="from the sub-workflow"
"""


def _children_of(loopback: Loopback, workflow_ids: set[str]) -> list[dict[str, Any]]:
    with loopback.db.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(select(executions))]
    return [row for row in found
            if ((row["context"] or {}).get("mistral") or {}).get("root_execution_id")
            in workflow_ids]


def _wait_children(loopback: Loopback, root: str, count: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def enough() -> bool:
        seen[:] = _children_of(loopback, {root})
        return len(seen) >= count

    wait_for(enough, 20.0, 0.05)
    return seen


def test_a_workflow_started_on_the_engine_runs_its_actions_as_the_key_owner(
    loopback: Loopback,
) -> None:
    loopback.start_engine()
    loopback.start_platform()
    bob, _row = keys.create_api_key(loopback.db, "bob")
    with httpx.Client(base_url=f"{loopback.engine_url}/v2", timeout=10,
                      headers={"X-Auth-Token": bob}) as client:
        made = client.post("/workflows", content=WORKFLOWS,
                           headers={"content-type": "text/plain"})
        assert made.status_code == 201, made.text
        started = client.post("/executions", json={"workflow_name": "as_user.main"})
        assert started.status_code == 201, started.text
    children = _wait_children(loopback, started.json()["id"], 2)
    assert {c["action_ref"] for c in children} == {"core.local", "core.echo"}
    for child in children:
        assert child["user"] == "bob", child
        assert child["context"]["user"] == "bob"


def test_a_launched_workflow_action_runs_its_actions_as_the_platform_user(
    loopback: Loopback, tmp_path: Path
) -> None:
    loopback.start_engine()
    loopback.start_platform()
    parent = platform_execution(loopback.db, None)
    with loopback.db.begin() as conn:
        conn.execute(update(executions).where(executions.c.id == parent).values(
            user="alice", context={"user": "alice"}))
    platform_store.transition(loopback.db, parent, ["running"], "running",
                              {"claimed_by": "runner-1", "lease_until": platform_store.now()})
    path = tmp_path / "as_user.yaml"
    path.write_text(WORKFLOWS.replace("as_user.main:", "as_user.launched:", 1))
    action = ActionMeta(ref="tests.as_user", pack="tests", name="as_user", description="",
                        runner_type="mistral-v2", entry_point=str(path), enabled=True,
                        parameters={})
    outcome = asyncio.run(loopback.launcher.launch(
        RunRequest(parent, action, {"workflow": "as_user.launched"})))
    assert outcome.status == "running", outcome.result
    root = workflow_launch.engine_execution_id(parent)
    children = _wait_children(loopback, root, 2)
    assert {c["action_ref"] for c in children} == {"core.local", "core.echo"}
    for child in children:
        assert child["user"] == "alice", child
        assert child["user"] != "admin"
    # the core.local child is a child of the platform execution
    assert any(c["parent"] == parent and c["action_ref"] == "core.local" for c in children)
