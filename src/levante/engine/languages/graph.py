"""The graph the engine core walks, whatever language a workflow was written in.

A language (see `levante.engine.languages.base`) parses its text into these types: tasks,
their transitions (on-success / on-error / on-complete, each a list of guarded targets:
tasks or engine commands), joins, loops (`with_items`), policies (retry, wait-before/after,
timeout, pause-before, concurrency, keep-result, safe-rerun, fail-on) and, for reverse
workflows, `requires`. The core reads nothing else.

Graphs are plain dataclasses so the runtime can read them without going back to the text.
Treat them as read-only: they are not frozen only because frozen dataclasses take three
times longer to build. They round-trip through JSON (`to_dict()` / `from_dict()`): a graph
is stored with each definition and frozen into each execution at start, and is rebuilt on
every step, so rebuilding must be cheap; `WorkflowGraph.from_json(text)` returns a shared,
cached instance per text. The JSON form is the engine's own, the same for every language.

Values that may be expressions (counts, delays, guards, inputs) are kept as written
(`Any`); the runtime evaluates them with `levante.engine.expressions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Engine commands usable as a target of an on-* clause.
ENGINE_COMMANDS = frozenset({"fail", "succeed", "pause", "noop"})

DIRECT = "direct"
REVERSE = "reverse"


@dataclass(slots=True)
class InputParam:
    """One declared input of a workflow or ad-hoc action."""

    name: str
    default: Any = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "required": self.required}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputParam:
        return cls(d["name"], d.get("default"), bool(d.get("required", True)))


@dataclass(slots=True)
class Target:
    """One target of an on-* clause: a task or an engine command, with an optional guard.

    `params` holds the parameters of an engine command (`fail msg="x"` -> {"msg": "x"}).
    """

    task: str
    guard: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def is_command(self) -> bool:
        return self.task in ENGINE_COMMANDS

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "guard": self.guard, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Target:
        return cls(d["task"], d.get("guard"), d.get("params") or {})


@dataclass(slots=True)
class Transition:
    """An on-success / on-error / on-complete clause.

    `publish` is the branch publish of the `{publish: {branch: ..., global: ...}, next: ...}`
    form (a plain `publish:` dict there counts as branch); `publish_global` the global one.
    """

    targets: list[Target] = field(default_factory=list)
    publish: dict[str, Any] = field(default_factory=dict)
    publish_global: dict[str, Any] = field(default_factory=dict)

    def task_names(self) -> list[str]:
        """Names of the tasks (not engine commands) this clause may go to."""
        return [t.task for t in self.targets if not t.is_command]

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": [t.to_dict() for t in self.targets],
            "publish": self.publish,
            "publish_global": self.publish_global,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transition:
        return cls(
            [Target.from_dict(t) for t in d.get("targets") or ()],
            d.get("publish") or {},
            d.get("publish_global") or {},
        )


@dataclass(slots=True)
class RetryPolicy:
    """Retry policy. Every value may be an expression."""

    count: Any = None
    delay: Any = 0
    break_on: Any = None
    continue_on: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "delay": self.delay,
            "break_on": self.break_on,
            "continue_on": self.continue_on,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RetryPolicy:
        return cls(d.get("count"), d.get("delay", 0), d.get("break_on"), d.get("continue_on"))


def _transition_or_none(d: dict[str, Any] | None) -> Transition | None:
    return Transition.from_dict(d) if d is not None else None


@dataclass(slots=True)
class TaskNode:
    """One task, with `task-defaults` already merged in.

    Exactly one of `action` / `workflow` is set; a task with neither runs `std.noop`
    (`action` is then "std.noop"). `workflow` may be an expression. `input` is a dict
    (inline parameters merged in) or, rarely, one expression string that evaluates to one.
    `with_items` is a list of (variable, source) pairs zipped together; the source is an
    expression or a list.
    `line` is the YAML line (1-based) where the task is declared, 0 if unknown.
    """

    name: str
    action: str | None = None
    workflow: str | None = None
    input: Any = field(default_factory=dict)
    publish: dict[str, Any] = field(default_factory=dict)
    publish_on_error: dict[str, Any] = field(default_factory=dict)
    on_success: Transition | None = None
    on_error: Transition | None = None
    on_complete: Transition | None = None
    join: str | int | None = None
    requires: list[str] = field(default_factory=list)
    with_items: list[tuple[str, Any]] = field(default_factory=list)
    concurrency: Any = None
    retry: RetryPolicy | None = None
    wait_before: Any = None
    wait_after: Any = None
    timeout: Any = None
    pause_before: Any = None
    fail_on: Any = None
    keep_result: Any = True
    safe_rerun: Any = False
    target: Any = None
    description: str = ""
    line: int = 0

    def transitions(self) -> list[tuple[str, Transition]]:
        """The on-* clauses present, as (kind, clause): kind is on-success/on-error/..."""
        out: list[tuple[str, Transition]] = []
        if self.on_success is not None:
            out.append(("on-success", self.on_success))
        if self.on_error is not None:
            out.append(("on-error", self.on_error))
        if self.on_complete is not None:
            out.append(("on-complete", self.on_complete))
        return out

    def next_task_names(self) -> set[str]:
        """Every task any on-* clause of this task may go to."""
        names: set[str] = set()
        for _, tr in self.transitions():
            names.update(tr.task_names())
        return names

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "workflow": self.workflow,
            "input": self.input,
            "publish": self.publish,
            "publish_on_error": self.publish_on_error,
            "on_success": self.on_success.to_dict() if self.on_success else None,
            "on_error": self.on_error.to_dict() if self.on_error else None,
            "on_complete": self.on_complete.to_dict() if self.on_complete else None,
            "join": self.join,
            "requires": list(self.requires),
            "with_items": [[var, src] for var, src in self.with_items],
            "concurrency": self.concurrency,
            "retry": self.retry.to_dict() if self.retry else None,
            "wait_before": self.wait_before,
            "wait_after": self.wait_after,
            "timeout": self.timeout,
            "pause_before": self.pause_before,
            "fail_on": self.fail_on,
            "keep_result": self.keep_result,
            "safe_rerun": self.safe_rerun,
            "target": self.target,
            "description": self.description,
            "line": self.line,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskNode:
        retry = d.get("retry")
        return cls(
            name=d["name"],
            action=d.get("action"),
            workflow=d.get("workflow"),
            input=d.get("input") or {},
            publish=d.get("publish") or {},
            publish_on_error=d.get("publish_on_error") or {},
            on_success=_transition_or_none(d.get("on_success")),
            on_error=_transition_or_none(d.get("on_error")),
            on_complete=_transition_or_none(d.get("on_complete")),
            join=d.get("join"),
            requires=list(d.get("requires") or ()),
            with_items=[(v, s) for v, s in d.get("with_items") or ()],
            concurrency=d.get("concurrency"),
            retry=RetryPolicy.from_dict(retry) if retry is not None else None,
            wait_before=d.get("wait_before"),
            wait_after=d.get("wait_after"),
            timeout=d.get("timeout"),
            pause_before=d.get("pause_before"),
            fail_on=d.get("fail_on"),
            keep_result=d.get("keep_result", True),
            safe_rerun=d.get("safe_rerun", False),
            target=d.get("target"),
            description=d.get("description") or "",
            line=int(d.get("line") or 0),
        )


@dataclass(slots=True)
class WorkflowGraph:
    """A direct or reverse workflow. `tasks` keeps declaration order.

    `task_defaults` is kept as parsed (normalised keys, e.g. "on_error") for display only:
    its values are already merged into every task.
    """

    name: str
    type: str = DIRECT
    description: str = ""
    tags: list[str] = field(default_factory=list)
    input: list[InputParam] = field(default_factory=list)
    output: Any = None
    output_on_error: Any = None
    vars: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, TaskNode] = field(default_factory=dict)
    task_defaults: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def is_reverse(self) -> bool:
        return self.type == REVERSE

    def start_tasks(self, task_name: str | None = None) -> list[str]:
        """Tasks to run first.

        Direct: tasks no on-* clause of any task goes to. Reverse: the tasks without
        `requires` among those `task_name` needs (all sinks when `task_name` is None).
        """
        if not self.is_reverse:
            targeted: set[str] = set()
            for t in self.tasks.values():
                targeted.update(t.next_task_names())
            return [n for n in self.tasks if n not in targeted]
        needed = self.required_closure(task_name)
        return [n for n in self.tasks if n in needed and not self.tasks[n].requires]

    def required_closure(self, task_name: str | None = None) -> set[str]:
        """Reverse workflows: `task_name` and every task it needs, transitively."""
        if task_name is None:
            required: set[str] = set()
            for t in self.tasks.values():
                required.update(t.requires)
            roots: Iterable[str] = [n for n in self.tasks if n not in required]
        else:
            roots = [task_name]
        seen: set[str] = set()
        stack = [r for r in roots if r in self.tasks]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(r for r in self.tasks[name].requires if r not in seen)
        return seen

    def inbound(self, task: str) -> list[str]:
        """Tasks that may lead to `task`: on-* clauses (direct) or `requires` (reverse)."""
        if self.is_reverse:
            spec = self.tasks.get(task)
            return list(spec.requires) if spec else []
        return [n for n, t in self.tasks.items() if task in t.next_task_names()]

    def dependents(self, task: str) -> list[str]:
        """Reverse workflows: tasks whose `requires` names `task`."""
        return [n for n, t in self.tasks.items() if task in t.requires]

    def input_names(self) -> list[str]:
        return [p.name for p in self.input]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "tags": list(self.tags),
            "input": [p.to_dict() for p in self.input],
            "output": self.output,
            "output_on_error": self.output_on_error,
            "vars": self.vars,
            "tasks": [t.to_dict() for t in self.tasks.values()],
            "task_defaults": self.task_defaults,
            "line": self.line,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> WorkflowGraph:
        """Rebuild from `to_json()` text; cached, so the instance is shared: never mutate."""
        return _workflow_from_json(text)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkflowGraph:
        tasks = [TaskNode.from_dict(t) for t in d.get("tasks") or ()]
        return cls(
            name=d["name"],
            type=d.get("type") or DIRECT,
            description=d.get("description") or "",
            tags=list(d.get("tags") or ()),
            input=[InputParam.from_dict(p) for p in d.get("input") or ()],
            output=d.get("output"),
            output_on_error=d.get("output_on_error"),
            vars=d.get("vars") or {},
            tasks={t.name: t for t in tasks},
            task_defaults=d.get("task_defaults") or {},
            line=int(d.get("line") or 0),
        )


@lru_cache(maxsize=256)
def _workflow_from_json(text: str) -> WorkflowGraph:
    return WorkflowGraph.from_dict(json.loads(text))


@dataclass(slots=True)
class AdHocAction:
    """An action defined on top of another (`base`) with preset `base_input`."""

    name: str
    base: str
    base_input: dict[str, Any] = field(default_factory=dict)
    input: list[InputParam] = field(default_factory=list)
    output: Any = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    line: int = 0

    def input_names(self) -> list[str]:
        return [p.name for p in self.input]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base,
            "base_input": self.base_input,
            "input": [p.to_dict() for p in self.input],
            "output": self.output,
            "description": self.description,
            "tags": list(self.tags),
            "line": self.line,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AdHocAction:
        return cls(
            name=d["name"],
            base=d["base"],
            base_input=d.get("base_input") or {},
            input=[InputParam.from_dict(p) for p in d.get("input") or ()],
            output=d.get("output"),
            description=d.get("description") or "",
            tags=list(d.get("tags") or ()),
            line=int(d.get("line") or 0),
        )
