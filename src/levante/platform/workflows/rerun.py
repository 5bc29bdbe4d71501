"""Re-run of tasks inside an ended workflow execution (``st2 execution re-run --tasks``).

As StackStorm's mistral-v2 runner did: a re-run request with ``tasks`` (and ``reset``, the
tasks whose with-items results are dropped; ``--no-reset`` leaves a task out of it) makes a
new platform execution whose context says ``re-run: {ref, tasks, reset}``. When the
workflow runner takes it, it does not start a new workflow: it takes over the engine's
workflow execution of the original (``context.mistral.execution_id``, and the link the
receiver routes events by) and asks the engine to re-run each named task that failed
(``PUT /v2/tasks/<id>`` with ``state: RUNNING`` and ``reset``). The engine reopens the
same workflow execution, which goes on from there; its events end the new execution.

A named task whose sub-workflow failed is re-run inside it: the failed tasks of the failed
sub-workflow are re-run (recursively), which reopens the sub-workflow and the task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from levante.platform.workflows import store as ts

log = logging.getLogger("levante.platform.workflow_rerun")


class RerunError(Exception):
    """The tasks cannot be re-run; the message says why."""


def rerun_request(db: Engine, execution_id: str) -> tuple[str, list[str], list[str]] | None:
    """(original execution id, tasks, reset) when the execution re-runs tasks, else None."""
    with db.connect() as conn:
        context = ts.execution_context(conn, execution_id)
    found = context.get("re-run") if isinstance(context, Mapping) else None
    if not isinstance(found, Mapping) or not found.get("tasks"):
        return None
    tasks = [str(t) for t in found.get("tasks") or []]
    reset = [str(t) for t in found.get("reset") or []]
    return str(found.get("ref")), tasks, reset


def original_workflow(db: Engine, original_id: str) -> tuple[str, str | None]:
    """(engine workflow execution id, user) of the execution whose tasks are re-run."""
    with db.connect() as conn:
        row = ts.context_and_user(conn, original_id)
    if row is None:
        raise RerunError(f'execution "{original_id}" (re-run) cannot be found')
    context, user = row["context"], row["user"]
    mistral = (context or {}).get("mistral") if isinstance(context, Mapping) else None
    wf_id = mistral.get("execution_id") if isinstance(mistral, Mapping) else None
    if not isinstance(wf_id, str) or not wf_id:
        raise RerunError(f'execution "{original_id}" has no workflow execution on the engine '
                         "whose tasks could be re-run")
    return wf_id, (str(user) if user else None)


def take_over(db: Engine, execution_id: str, original_id: str, wf_id: str) -> None:
    """The new execution follows the original's workflow execution from now on: its
    ``context.mistral`` is the original's, and the receiver's link points to it."""
    with ts.writing(db) as conn:
        original = ts.execution_context(conn, original_id)
        context = ts.execution_context(conn, execution_id)
        mistral = dict((original or {}).get("mistral") or {})
        new_context = {**(context or {}), "mistral": {
            k: v for k, v in mistral.items() if k in ("execution_id", "workflow_name")}}
        ts.set_context(conn, execution_id, new_context)
        if not ts.move_link(conn, wf_id, execution_id):
            ts.insert_link(conn, execution_id, wf_id)
        ts.delete_entry(conn, original_id)


async def _json(client: Any, path: str) -> Any:
    response = await client._call("GET", path)
    if response.status_code >= 300:
        raise RerunError(f"the engine did not answer GET {path}: HTTP {response.status_code}")
    return response.json()


async def _tasks_of(client: Any, wf_id: str) -> list[dict[str, Any]]:
    body = await _json(client, f"/v2/executions/{wf_id}/tasks")
    return [dict(t) for t in body.get("tasks") or [] if isinstance(t, Mapping)]


async def plan(client: Any, wf_id: str, names: list[str]) -> list[dict[str, Any]]:
    """The failed tasks of those names (RerunError naming a task that is not there or did
    not fail)."""
    tasks = await _tasks_of(client, wf_id)
    chosen: list[dict[str, Any]] = []
    for name in names:
        same = [t for t in tasks if t.get("name") == name]
        if not same:
            known = ", ".join(sorted({str(t.get("name")) for t in tasks})) or "none"
            raise RerunError(f"the workflow execution has no task {name!r} (its tasks: "
                             f"{known})")
        failed = [t for t in same if t.get("state") == "ERROR"]
        if not failed:
            raise RerunError(f"task {name!r} is {same[-1].get('state')}: only a task that "
                             "failed (ERROR) can be re-run")
        chosen.extend(failed)
    return chosen


async def _rerun_task(client: Any, task: Mapping[str, Any], reset: bool) -> int:
    """Re-run one failed task; a task whose sub-workflow failed re-runs the failed tasks
    inside it instead. Returns how many tasks the engine was asked to re-run."""
    if task.get("type") == "WORKFLOW":
        body = await _json(client, f"/v2/executions?task_execution_id={task['id']}")
        subs = [e for e in body.get("executions") or [] if isinstance(e, Mapping)
                and e.get("state") == "ERROR"]
        count = 0
        for sub in subs:
            for inner in await _tasks_of(client, str(sub["id"])):
                if inner.get("state") == "ERROR":
                    count += await _rerun_task(client, inner, reset)
        if count:
            return count
    response = await client._call("PUT", f"/v2/tasks/{task['id']}",
                                  json={"state": "RUNNING", "reset": reset})
    if response.status_code >= 300:
        try:
            fault = response.json().get("faultstring")
        except ValueError:
            fault = response.text[:300]
        raise RerunError(f"the engine did not re-run task {task.get('name')!r}: {fault}")
    return 1


async def rerun(client: Any, db: Engine, execution_id: str, original_id: str,
                wf_id: str, names: list[str], reset: list[str]) -> None:
    """Take over the workflow execution and re-run the named tasks."""
    chosen = await plan(client, wf_id, names)
    await asyncio.to_thread(take_over, db, execution_id, original_id, wf_id)
    for task in chosen:
        await _rerun_task(client, task, str(task.get("name")) in reset)
    log.info("[%s] re-ran tasks %s of workflow execution %s (of execution %s)",
             execution_id, ", ".join(names), wf_id, original_id)
