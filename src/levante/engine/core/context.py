"""What expressions see while a task runs: `$` (the data view) and the built-in functions
`env()`, `execution()`, `task()`, `tasks()` and `global()` (the ExpressionContext).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import Connection

from levante.engine import datastore_client as kv
from levante.engine import states
from levante.engine.languages.graph import TaskNode
from levante.engine.platform_actions import mask_params
from levante.engine.settings import EngineSettings


class WfEx(Protocol):
    """What expressions read of a loaded workflow execution (`step.base.WfEx`)."""

    row: dict[str, Any]
    spec: Any
    tasks: list[dict[str, Any]]
    by_name: dict[str, list[dict[str, Any]]]


class Shared(Protocol):
    """What expressions need of the runtime's shared parts (`step.base.StepShared`)."""

    @property
    def datastore(self) -> kv.Datastore: ...


class StepBase(Protocol):
    """What expressions need of the step they run in (`step.base.StepBase`)."""

    settings: EngineSettings
    conn: Connection

    @property
    def shared(self) -> Shared: ...

    def load(self, wf_id: str) -> Any: ...

    def children_of(self, task: Mapping[str, Any]) -> list[Any]: ...

try:  # the expression language lives in its own package (written in parallel)
    from levante.engine import expressions as _expressions
except ImportError:  # pragma: no cover - only while the package is missing
    _expressions = None  # type: ignore[assignment]


class ExpressionFailure(Exception):
    """An expression failed; the message names the expression and the error."""


def _timeout(ctx: Any, timeout: float | None) -> float | None:
    if timeout is None and isinstance(ctx, TaskContext):
        return ctx.timeout
    return timeout


def evaluate(value: Any, data: Mapping[str, Any], ctx: Any,
             timeout: float | None = None) -> Any:
    """Evaluate every expression inside `value` (strings, lists, dicts), each bounded by
    `timeout` seconds (by default the step's `expression_timeout`)."""
    if _expressions is None:
        return value
    try:
        return _expressions.evaluate(value, data, ctx, _timeout(ctx, timeout))
    except _expressions.ExpressionError as exc:
        raise ExpressionFailure(str(exc)) from exc


def has_expression(value: Any) -> bool:
    """Whether `value` (a string, or dicts and lists of them) holds an expression."""
    if isinstance(value, str) and "<%" not in value and "{" not in value:
        return False  # the common case, without parsing
    if value is None or isinstance(value, bool | int | float):
        return False
    return _expressions is not None and bool(_expressions.has_expression(value))


def evaluate_guard(value: Any, data: Mapping[str, Any], ctx: Any,
                   timeout: float | None = None) -> bool:
    if _expressions is None:
        return bool(value)
    try:
        return bool(_expressions.evaluate_guard(value, data, ctx, _timeout(ctx, timeout)))
    except _expressions.ExpressionError as exc:
        raise ExpressionFailure(str(exc)) from exc


def task_dict(task: Mapping[str, Any], spec: TaskNode | None = None) -> dict[str, Any]:
    """A task execution as `task()` shows it (`spec`: its node of the workflow graph)."""
    return {
        "id": task["id"],
        "name": task["name"],
        "spec": spec.to_dict() if spec is not None else {},
        "state": task["state"],
        "state_info": task.get("state_info"),
        "result": task.get("result"),
        "published": task.get("published") or {},
        "type": task.get("type"),
        "workflow_execution_id": task["workflow_execution_id"],
        "created_at": _iso(task.get("created_at")),
        "updated_at": _iso(task.get("updated_at")),
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


class TaskContext:
    """The ExpressionContext of one task (or of the workflow when `task` is None)."""

    def __init__(
        self, step: StepBase, wf: WfEx, task: Mapping[str, Any] | None = None,
        current_result: Callable[[], Any] | None = None,
    ) -> None:
        self._step = step
        self._wf = wf
        self._task = task
        self._current_result = current_result
        self._keys: dict[tuple[str, bool], str] = {}  # st2kv reads of this evaluation

    def st2kv(self, key: Any, decrypt: bool = False, default: Any = None) -> Any:
        """A key of the platform's datastore (over HTTP; see engine.datastore_client)."""
        cached = self._keys.get((str(key), decrypt))
        if cached is not None:
            return cached
        where = kv.where_of(self._wf.row, self._step.settings.config, self._step.conn.engine)
        try:
            value = self._step.shared.datastore.read_key(where, key, decrypt)
        except kv.KeyNotFound:
            if default is not None:
                return default
            raise
        self._keys[(str(key), decrypt)] = value
        return value

    @property
    def timeout(self) -> float:
        """Seconds one expression may run (``[engine] expression_timeout``)."""
        return self._step.settings.expression_timeout

    def env(self) -> dict[str, Any]:
        """The workflow's env, the platform's credential masked: expressions (and so
        what a workflow publishes or outputs) never see it; the engine reads it from the
        row when it calls the platform."""
        params = mask_params(self._wf.row.get("params") or {})
        env = params.get("env") if isinstance(params, Mapping) else None
        return dict(env) if isinstance(env, Mapping) else {}

    def execution(self) -> dict[str, Any]:
        row = self._wf.row
        return {
            "id": row["id"],
            "name": row["name"],
            "spec": row.get("spec") or {},
            "input": row.get("input") or {},
            "params": mask_params(row.get("params") or {}),
            "state": row.get("state"),
            "created_at": _iso(row.get("created_at")),
            "updated_at": _iso(row.get("updated_at")),
            "root_execution_id": row.get("root_execution_id"),
            "task_execution_id": row.get("task_execution_id"),
        }

    def task(self, name: str | None = None) -> dict[str, Any] | None:
        if name is None:
            if self._task is None:
                return None
            found: Mapping[str, Any] | None = self._task
        else:
            execs = self._wf.by_name.get(name) or []
            found = execs[-1] if execs else None
        if found is None:
            return None
        d = task_dict(found, self._wf.spec.tasks.get(found["name"]))
        if found is self._task and self._current_result is not None:
            d["result"] = self._current_result()
        return d

    def tasks(
        self, workflow_execution_id: str | None = None, recursive: bool = False,
        state: str | None = None, flat: bool = False,
    ) -> list[dict[str, Any]]:
        wf = self._wf
        if workflow_execution_id and workflow_execution_id != wf.row["id"]:
            other = self._step.load(workflow_execution_id)
            if other is None:
                return []
            wf = other
        out: list[dict[str, Any]] = []
        self._collect(wf, recursive, state, flat, out)
        return out

    def _collect(
        self, wf: WfEx, recursive: bool, state: str | None, flat: bool,
        out: list[dict[str, Any]],
    ) -> None:
        for t in wf.tasks:
            wanted = state is None or t["state"] == state
            if wanted and (not flat or t["type"] == "ACTION" or not recursive):
                out.append(task_dict(t, wf.spec.tasks.get(t["name"])))
            if recursive and t["type"] == "WORKFLOW":
                for child in self._step.children_of(t):
                    self._collect(child, recursive, state, flat, out)

    def global_var(self, name: str) -> Any:
        return (self._wf.row.get("context") or {}).get(name)


def data_view(wf: WfEx, in_context: Mapping[str, Any] | None) -> dict[str, Any]:
    """`$` for a task: its inbound context over the workflow's variables."""
    base = wf.row.get("context") or {}
    if not in_context:
        return dict(base)
    data = dict(base)
    data.update(in_context)
    return data


__all__ = [
    "ExpressionFailure",
    "TaskContext",
    "data_view",
    "evaluate",
    "evaluate_guard",
    "has_expression",
    "states",
    "task_dict",
]
