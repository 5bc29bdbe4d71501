"""What expressions may ask of the running workflow, and the built-in functions.

The runtime implements `ExpressionContext`; the functions `env()`, `execution()`, `task()`,
`tasks()` and `global()` of both languages call it. Without a context (validation,
`std` actions run alone) they read `__env` / `__execution` from the data, as Mistral does,
and the ones that need the database fail with a clear message.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import uuid as _uuid
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import yaml

from levante.engine.expressions.limits import MAX_INT_BITS as _MAX_INT_BITS
from levante.engine.expressions.limits import MAX_RESULT_VALUES, check_expanded


@runtime_checkable
class ExpressionContext(Protocol):
    """The runtime's answer to the built-in functions.

    `task()` returns Mistral's user view of a task execution: id, name, spec, state,
    state_info, result, published, type, workflow_execution_id (and, if the runtime has
    them, created_at / updated_at). `task(None)` is the task being evaluated.
    """

    def env(self) -> dict[str, Any]: ...

    def execution(self) -> dict[str, Any]: ...

    def task(self, name: str | None) -> dict[str, Any] | None: ...

    def tasks(
        self, wf_ex_id: str | None, recursive: bool, state: str | None
    ) -> list[dict[str, Any]]: ...

    def global_var(self, name: str) -> Any: ...


class DataContext:
    """Fallback context built from the data alone (`__env`, `__execution`, `__task`)."""

    def __init__(self, data: Any) -> None:
        self._data = data if isinstance(data, dict) else {}

    def env(self) -> dict[str, Any]:
        return dict(self._data.get("__env") or {})

    def execution(self) -> dict[str, Any]:
        return dict(self._data.get("__execution") or {})

    def task(self, name: str | None) -> dict[str, Any] | None:
        current = self._data.get("__task_execution")
        if isinstance(current, dict) and (name is None or current.get("name") == name):
            return current
        raise LookupError("task() is only available while a workflow runs")

    def tasks(
        self, wf_ex_id: str | None, recursive: bool, state: str | None
    ) -> list[dict[str, Any]]:
        raise LookupError("tasks() is only available while a workflow runs")

    def global_var(self, name: str) -> Any:
        raise LookupError("global() is only available while a workflow runs")


# --- pure built-ins, shared by YAQL and Jinja --------------------------------------------


def _json_default(obj: Any) -> Any:
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def json_dump(data: Any) -> str:
    """Indented by 4, as Mistral's json_dump (its json_pp, deprecated, is the same)."""
    return json.dumps(data, indent=4, default=_json_default)


def json_pp(data: Any) -> str:
    return json.dumps(data, indent=4, default=_json_default)


def json_parse(data: str) -> Any:
    return json.loads(data)


def yaml_dump(data: Any) -> str:
    return yaml.safe_dump(to_plain(data), default_flow_style=False)


class _BoundedLoader(yaml.SafeLoader):
    """safe_load that refuses a document whose aliases (`*a`) would expand into more than
    MAX_YAML_VALUES values: a few lines of anchors can stand for billions ("billion
    laughs"), which copying the result would then build."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_YAML_VALUES:
            raise ValueError(f"the YAML document would expand into more than "
                             f"{MAX_YAML_VALUES} values (the limit)")
        return node


MAX_YAML_VALUES = 1_000_000


def _expanded_size(node: Any, seen: dict[int, int]) -> int:
    known = seen.get(id(node))
    if known is not None:
        return known
    seen[id(node)] = 1  # (a recursive alias counts once)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(v, seen) for v in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, seen) + _expanded_size(v, seen)
                     for k, v in node.value)
    seen[id(node)] = min(total, MAX_YAML_VALUES + 1)
    return seen[id(node)]


def yaml_parse(data: str) -> Any:
    return yaml.load(data, Loader=_BoundedLoader)  # (a SafeLoader)


def new_uuid() -> str:
    return str(_uuid.uuid4())


class NotJsonValue(TypeError):
    """An expression produced a value a workflow cannot store (a method, a set of bytes...)."""


def to_plain(value: Any) -> Any:
    """Plain JSON copy of what an expression produced (tuples, frozen dicts...).

    As Mistral makes yaql results JSON-serialisable: dates and times become ISO 8601
    strings, durations their seconds; anything else that is not JSON raises NotJsonValue
    (its type named, never its content), so the task fails instead of the store.
    """
    if type(value) not in _SCALARS:
        check_expanded(value, "the result", MAX_RESULT_VALUES)  # (a list held many times)
    return _plain(value)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain_data(value: Any) -> Any:
    """to_plain of a value read from the workflow's data (JSON: a tree, nothing shared),
    without the check of its expanded size."""
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, str | bool) or value is None:
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise NotJsonValue(f"the result is an integer of more than {_MAX_INT_BITS} bits "
                               "(the limit of integers in expressions)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJsonValue(f"the result {value} is not a JSON number")
        return value
    if isinstance(value, Mapping):  # dict, or yaql's frozen dicts
        return {_plain_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, _dt.date | _dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    raise NotJsonValue(
        f"the result is not JSON-serialisable (a value of type {type(value).__name__!r})"
    )


def _plain_key(key: Any) -> Any:
    if isinstance(key, str | int | float | bool) or key is None:
        return key
    plain = _plain(key)
    if isinstance(plain, str):
        return plain
    raise NotJsonValue(f"a key of the result is not a JSON key ({type(key).__name__!r})")
