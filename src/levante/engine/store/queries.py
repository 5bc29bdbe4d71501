"""Read-only listings of every engine table with Mistral's filters, sorting and paging.

A listing names its columns as the API names its fields (`Listing`); a request gives
filters such as ``state=eq:RUNNING`` or ``created_at=gt:2026-01-01 00:00:00``, a
``marker`` (the id of the last row seen), a ``limit`` and ``sort_keys``/``sort_dirs``.
Paging is keyset paging on the sort keys with the id as the last tie-breaker; NULLs sort
first in ascending order on every database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    FromClause,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    null,
    or_,
    select,
    true,
)

from levante.engine.definitions_models import (
    action_definitions,
    cron_triggers,
    environments,
    workbooks,
    workflow_definitions,
)
from levante.engine.store.definitions import row_dict

OPERATORS = ("eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "has")
SORT_DIRS = ("asc", "desc")
MAX_LIMIT = 1000
MAX_INT = 2**31 - 1


class QueryError(ValueError):
    """A listing request that cannot be answered (unknown field, bad value...)."""


@dataclass(frozen=True)
class Listing:
    """What one API collection lists: its source and its fields, by API name."""

    source: FromClause
    columns: Mapping[str, ColumnElement[Any]]
    where: Sequence[ColumnElement[bool]] = field(default_factory=tuple)
    default_sort: tuple[str, ...] = ("created_at",)

    def column(self, name: str) -> ColumnElement[Any]:
        try:
            return self.columns[name]
        except KeyError:
            known = ", ".join(sorted(self.columns))
            raise QueryError(f"unknown field {name!r} (known fields: {known})") from None

    def select(self) -> Any:
        labelled = [col.label(name) for name, col in self.columns.items()]
        query = select(*labelled).select_from(self.source)
        for clause in self.where:
            query = query.where(clause)
        return query


@dataclass(frozen=True)
class ListRequest:
    filters: Mapping[str, str] = field(default_factory=dict)
    marker: str | None = None
    limit: int | None = None
    sort_keys: tuple[str, ...] = ()
    sort_dirs: tuple[str, ...] = ()


def split_filter(raw: str) -> tuple[str, str]:
    """'gt:5' -> ('gt', '5'); a value with no known operator is an equality."""
    op, sep, rest = raw.partition(":")
    if sep and op in OPERATORS:
        return op, rest
    return "eq", raw


def _parse_time(value: str, name: str) -> datetime:
    text = value.strip().replace("T", " ")
    if text.endswith("Z"):
        text = text[:-1]
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"{name}: {value!r} is not a time like 'YYYY-MM-DD HH:MM:SS'"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _convert(column: ColumnElement[Any], value: str, name: str) -> Any:
    kind = column.type
    if isinstance(kind, DateTime):
        return _parse_time(value, name)
    if isinstance(kind, Boolean):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise QueryError(f"{name}: {value!r} is not a boolean (true or false)")
    if isinstance(kind, Integer):
        try:
            number = int(value)
        except ValueError:
            raise QueryError(f"{name}: {value!r} is not an integer") from None
        if abs(number) > MAX_INT:
            raise QueryError(f"{name}: {value!r} is out of range")
        return number
    if "\x00" in value:
        raise QueryError(f"{name}: the value holds a NUL character")
    return value


def _condition(column: ColumnElement[Any], name: str, raw: str) -> ColumnElement[bool]:
    op, value = split_filter(raw)
    if isinstance(column.type, JSON):
        as_text = cast(column, Text)
        if op == "has":
            return as_text.contains(value, autoescape=True)
        if op in ("eq", "neq"):
            try:
                wanted = json.dumps(json.loads(value), sort_keys=True)
            except ValueError:
                wanted = json.dumps(value)
            cond = as_text == wanted
            return cond if op == "eq" else ~cond
        raise QueryError(f"{name}: operator {op!r} cannot be used on this field")
    if op == "has":
        if not isinstance(column.type, String | Text):
            raise QueryError(f"{name}: operator 'has' needs a text field")
        return column.contains(value, autoescape=True)
    if op in ("in", "nin"):
        items = [_convert(column, item, name) for item in value.split(",") if item != ""]
        if op == "in":
            return column.in_(items) if items else false()
        return or_(column.not_in(items), column.is_(None)) if items else true()
    if value.lower() in ("null", "none") and op in ("eq", "neq"):
        return column.is_(None) if op == "eq" else column.is_not(None)
    converted = _convert(column, value, name)
    if op == "eq":
        return column == converted
    if op == "neq":
        return or_(column != converted, column.is_(None))
    if op == "gt":
        return column > converted
    if op == "gte":
        return column >= converted
    if op == "lt":
        return column < converted
    return column <= converted


def _sort_spec(listing: Listing, request: ListRequest) -> list[tuple[str, str]]:
    keys = list(request.sort_keys) or list(listing.default_sort)
    dirs = [d.lower() for d in request.sort_dirs]
    for d in dirs:
        if d not in SORT_DIRS:
            raise QueryError(f"sort_dirs: {d!r} is not asc or desc")
    if len(dirs) > len(keys):
        raise QueryError("sort_dirs has more entries than sort_keys")
    default_dir = dirs[0] if dirs else "asc"
    spec: list[tuple[str, str]] = []
    for index, key in enumerate(keys):
        column = listing.column(key)
        if isinstance(column.type, JSON):
            raise QueryError(f"sort_keys: cannot sort on {key!r}")
        spec.append((key, dirs[index] if index < len(dirs) else default_dir))
    if "id" not in keys:
        spec.append(("id", spec[-1][1] if spec else "asc"))
    return spec


def _after(column: ColumnElement[Any], value: Any, direction: str) -> ColumnElement[bool]:
    """Rows strictly after `value` in this column's order (NULLs are smallest)."""
    if direction == "asc":
        return column.is_not(None) if value is None else column > value
    return false() if value is None else or_(column < value, column.is_(None))


def _same(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def list_rows(conn: Connection, listing: Listing, request: ListRequest) -> list[dict[str, Any]]:
    """The rows of `listing` that match `request`, in order, at most `limit` of them."""
    query = listing.select()
    for name, raw in request.filters.items():
        query = query.where(_condition(listing.column(name), name, raw))
    spec = _sort_spec(listing, request)
    if request.marker:
        marker_row = conn.execute(
            listing.select().where(listing.column("id") == request.marker)
        ).first()
        if marker_row is None:
            raise QueryError(f"marker: no object with id {request.marker!r}")
        values = marker_row._mapping
        alternatives = []
        for index, (key, direction) in enumerate(spec):
            equal = [_same(listing.column(k), values[k]) for k, _ in spec[:index]]
            alternatives.append(and_(*equal, _after(listing.column(key), values[key],
                                                    direction)))
        query = query.where(or_(*alternatives))
    for key, direction in spec:
        column = listing.column(key)
        if not getattr(column, "nullable", True):
            # No NULL to place: a plain order, which the column's index can serve.
            query = query.order_by(column.asc() if direction == "asc" else column.desc())
            continue
        query = query.order_by(
            column.asc().nulls_first() if direction == "asc" else column.desc().nulls_last()
        )
    if request.limit is not None:
        if request.limit < 0:
            raise QueryError("limit must not be negative")
        query = query.limit(min(request.limit, MAX_LIMIT))
    return [row_dict(row) for row in conn.execute(query)]


def get_row(conn: Connection, listing: Listing, ident: str) -> dict[str, Any] | None:
    row = conn.execute(listing.select().where(listing.column("id") == ident)).first()
    return row_dict(row) if row is not None else None


# --- the listings of the engine's collections ---------------------------------------------

def _all(table: Any, skip: Sequence[str] = ()) -> dict[str, ColumnElement[Any]]:
    return {c.name: c for c in table.c if c.name not in skip}


@cache
def workbooks_listing() -> Listing:
    return Listing(workbooks, _all(workbooks, ("spec",)))


@cache
def workflows_listing() -> Listing:
    return Listing(workflow_definitions, _all(workflow_definitions))


@cache
def actions_listing() -> Listing:
    return Listing(action_definitions, _all(action_definitions))


@cache
def environments_listing() -> Listing:
    return Listing(environments, _all(environments))


@cache
def cron_triggers_listing() -> Listing:
    return Listing(cron_triggers, _all(cron_triggers))


@cache
def executions_listing() -> Listing:
    from levante.engine.models import workflow_executions as t

    wanted = ("id", "name", "description", "workflow_name", "workflow_namespace",
              "workflow_id", "state", "state_info", "tags", "params", "input", "output",
              "task_execution_id", "root_execution_id", "project_id", "created_at",
              "updated_at")
    columns: dict[str, ColumnElement[Any]] = {n: t.c[n] for n in wanted if n in t.c}
    # A top-level execution stores its own id as its root, but the API shows null (as
    # Mistral): filters and sorting see the value shown, so `root_execution_id=null` works.
    columns["root_execution_id"] = case(
        (t.c.root_execution_id == t.c.id, null()), else_=t.c.root_execution_id
    )
    return Listing(t, columns)


@cache
def tasks_listing() -> Listing:
    from levante.engine.models import task_executions as t

    wanted = ("id", "name", "type", "workflow_name", "workflow_namespace", "workflow_id",
              "workflow_execution_id", "root_execution_id", "state", "state_info", "tags",
              "published", "result", "runtime_context", "processed", "started_at",
              "finished_at", "project_id", "created_at", "updated_at")
    return Listing(t, {n: t.c[n] for n in wanted if n in t.c})


@cache
def action_executions_listing() -> Listing:
    from levante.engine.models import action_executions as a
    from levante.engine.models import task_executions as t

    wanted = ("id", "name", "description", "workflow_name", "workflow_namespace",
              "task_execution_id", "workflow_execution_id", "root_execution_id", "state",
              "state_info", "tags", "accepted", "input", "output", "runtime_context",
              "project_id", "created_at", "updated_at")
    columns: dict[str, ColumnElement[Any]] = {n: a.c[n] for n in wanted if n in a.c}
    columns["task_name"] = t.c.name
    source = a.outerjoin(t, a.c.task_execution_id == t.c.id)
    return Listing(source, columns)
