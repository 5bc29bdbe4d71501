"""Pure decisions of the state machine: given a workflow spec and the task executions so
far, what comes next. No database, no expressions evaluated here (guards are passed in as
a callable), so every rule can be unit tested on plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from levante.engine import states
from levante.engine.languages.graph import Target, TaskNode, Transition, WorkflowGraph

SATISFIED = "satisfied"
WAITING = "waiting"
IMPOSSIBLE = "impossible"


@dataclass
class TaskView:
    """What the machine needs to know about one task execution."""

    name: str
    state: str
    processed: bool = False
    # Names of the tasks this execution routed to once processed.
    routed_to: Sequence[str] = field(default_factory=tuple)
    error_handled: bool = False
    has_next_tasks: bool = False


class InputError(ValueError):
    """Workflow input that does not fit the workflow's declared input."""


def clauses_for(spec: TaskNode, state: str) -> list[tuple[str, Transition]]:
    """The on-* clauses that apply once a task ends in `state`, in Mistral's order."""
    out: list[tuple[str, Transition]] = []
    if state == states.ERROR and spec.on_error is not None:
        out.append(("on-error", spec.on_error))
    if states.is_success_like(state) and spec.on_success is not None:
        out.append(("on-success", spec.on_success))
    if state in (states.SUCCESS, states.ERROR, states.SKIPPED) and spec.on_complete is not None:
        out.append(("on-complete", spec.on_complete))
    return out


def next_targets(
    spec: TaskNode, state: str, guard: Callable[[str], bool]
) -> list[tuple[str, Target]]:
    """Targets (tasks or engine commands) a task goes to after ending in `state`.

    `guard` evaluates a guard expression; it may raise, which the caller turns into a
    failure of the task.
    """
    taken: list[tuple[str, Target]] = []
    for kind, clause in clauses_for(spec, state):
        for target in clause.targets:
            if target.guard is None or guard(target.guard):
                taken.append((kind, target))
    return taken


def _executions(views: Mapping[str, Sequence[TaskView]], name: str) -> Sequence[TaskView]:
    return views.get(name, ())


def can_still_route(
    wf: WorkflowGraph, source: str, target: str, views: Mapping[str, Sequence[TaskView]],
    _seen: set[str] | None = None,
) -> bool:
    """Whether `source` may still (in future) route to `target`."""
    seen = _seen if _seen is not None else set()
    if source in seen:
        return False
    seen.add(source)
    execs = _executions(views, source)
    if any(not states.is_completed(v.state) or not v.processed for v in execs):
        return True
    if any(target in v.routed_to for v in execs):
        return True
    if execs:
        return False
    inbound = wf.inbound(source)
    return any(can_still_route(wf, up, source, views, seen) for up in inbound)


def join_status(
    wf: WorkflowGraph, name: str, views: Mapping[str, Sequence[TaskView]]
) -> str:
    """SATISFIED, WAITING or IMPOSSIBLE for the `join` of task `name`."""
    spec = wf.tasks[name]
    inbound = wf.inbound(name)
    done = 0
    pending = 0
    for up in inbound:
        execs = _executions(views, up)
        if any(v.processed and name in v.routed_to for v in execs):
            done += 1
        elif can_still_route(wf, up, name, views):
            pending += 1
    if spec.join == "all":
        need = len(inbound)
    elif spec.join == "one":
        need = 1
    else:
        need = min(int(spec.join or 1), len(inbound))
    if done >= need:
        return SATISFIED
    if done + pending < need:
        return IMPOSSIBLE
    return WAITING


@dataclass
class Outcome:
    """How a workflow ends: its state and, for an error, the tasks to blame."""

    state: str
    failed_tasks: list[str] = field(default_factory=list)


def direct_outcome(tasks: Iterable[TaskView]) -> Outcome | None:
    """None while the workflow has work; else its final state (direct workflows)."""
    failed: list[str] = []
    cancelled = False
    for t in tasks:
        if not states.is_completed(t.state) or not t.processed:
            return None
        if t.state == states.ERROR and not t.error_handled:
            failed.append(t.name)
        if t.state == states.CANCELLED:
            cancelled = True
    if failed:
        return Outcome(states.ERROR, failed)
    if cancelled:
        return Outcome(states.CANCELLED)
    return Outcome(states.SUCCESS)


def reverse_ready(
    wf: WorkflowGraph, closure: set[str], views: Mapping[str, Sequence[TaskView]]
) -> list[str]:
    """Reverse workflows: tasks of `closure` not started whose `requires` all succeeded."""
    ready = []
    for name in wf.tasks:
        if name not in closure or views.get(name):
            continue
        reqs = wf.tasks[name].requires
        if all(
            any(states.is_success_like(v.state) for v in views.get(r, ())) for r in reqs
        ):
            ready.append(name)
    return ready


def reverse_outcome(
    closure: set[str], views: Mapping[str, Sequence[TaskView]]
) -> Outcome | None:
    """None while a reverse workflow has work; else its final state."""
    failed: list[str] = []
    for name in closure:
        execs = views.get(name, ())
        for v in execs:
            if not states.is_completed(v.state) or not v.processed:
                return None
            if v.state == states.ERROR:
                failed.append(name)
            if v.state == states.CANCELLED:
                return Outcome(states.CANCELLED)
    if failed:
        return Outcome(states.ERROR, sorted(failed))
    if all(
        any(states.is_success_like(v.state) for v in views.get(n, ())) for n in closure
    ):
        return Outcome(states.SUCCESS)
    return None


def workflow_input(wf: WorkflowGraph, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The input a workflow runs with: defaults filled in, unknown and missing refused."""
    given = dict(given or {})
    names = wf.input_names()
    unknown = sorted(k for k in given if k not in names)
    if unknown:
        raise InputError(
            f"Invalid input for workflow {wf.name!r}: unexpected parameter(s) "
            f"{', '.join(unknown)} (expected: {', '.join(names) or 'none'})"
        )
    result: dict[str, Any] = {}
    missing = []
    for p in wf.input:
        if p.name in given:
            result[p.name] = given[p.name]
        elif p.required:
            missing.append(p.name)
        else:
            result[p.name] = p.default
    if missing:
        raise InputError(
            f"Invalid input for workflow {wf.name!r}: missing required parameter(s) "
            f"{', '.join(missing)}"
        )
    return result


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """A deep merge: dicts are merged key by key, anything else in `extra` wins."""
    out = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def zip_items(lists: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """with-items: evaluated (variable, list) pairs zipped into one dict per item."""
    if not lists:
        return []
    lengths = {len(values) for _, values in lists}
    if len(lengths) > 1:
        detail = ", ".join(f"{var}={len(values)}" for var, values in lists)
        raise ValueError(f"with-items lists must have the same length ({detail})")
    count = lengths.pop()
    return [{var: values[i] for var, values in lists} for i in range(count)]


def retry_decision(
    attempts_done: int, count: int, failed: bool, break_on: bool, continue_on: bool | None
) -> bool:
    """Whether to run the action again (Mistral's retry policy).

    A failed action is retried while attempts remain and `break-on` is false; a
    successful one is retried only while `continue-on` is true.
    """
    if attempts_done >= count or break_on:
        return False
    if failed:
        return True
    return bool(continue_on)
