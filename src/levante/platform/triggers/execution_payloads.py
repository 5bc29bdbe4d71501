"""The payloads of the triggers an execution's ending records (``core.st2.generic.
actiontrigger``, ``core.st2.generic.notifytrigger``): the instance is written with the
ending as a small row (``payload_from`` = the execution id) and completed here, from the
execution, when the rules engine processes it.

The shapes are StackStorm's notifier's: the action trigger's ``execution_id``, ``status``,
``start_timestamp`` (``str`` of the time, as StackStorm), ``action_name``, ``action_ref``,
``runner_ref``, ``parameters`` (secrets masked) and ``result``; the notify trigger's
``message`` and ``data`` rendered with Jinja from ``action_parameters``,
``action_context``, ``action_results`` and ``st2kv`` (a template that fails to render is
kept as written, as StackStorm), ``data.result`` the result as JSON text, ``execution_id``,
``status``, ``start_timestamp``/``end_timestamp`` (ISO 8601), ``action_ref``,
``runner_ref``, ``route`` and ``channel``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from levante.db.connect import reading
from levante.db.times import aware
from levante.platform.core.executions import masked_parameters
from levante.platform.core.jinja_render import RenderError, render_value
from levante.platform.datastore import render as kv_render
from levante.platform.triggers.execution_ends import ACTION_TRIGGER, NOTIFY_KEY
from levante.platform.triggers.store import payload_sources

Row = dict[str, Any]

log = logging.getLogger("levante.platform.triggers")

SUFFIXES = {"on-complete": "completed.", "on-success": "succeeded.",
            "on-failure": "failed."}


def _iso(value: datetime | None) -> str:
    found = aware(value) or datetime.now(UTC)
    return found.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _runner_ref(row: Row) -> str:
    runner = row.get("runner")
    return str(runner.get("name") or "") if isinstance(runner, Mapping) else ""


def action_payload(row: Row) -> dict[str, Any]:
    """StackStorm's ``core.st2.generic.actiontrigger`` payload of an ended execution."""
    return {
        "execution_id": row["id"],
        "status": row["status"],
        "start_timestamp": str(aware(row["start_timestamp"])),
        "action_name": row["action_ref"],
        "action_ref": row["action_ref"],
        "runner_ref": _runner_ref(row),
        "parameters": masked_parameters(row),
        "result": row["result"],
    }


def _rendered(value: Any, context: Mapping[str, Any], what: str, execution_id: str) -> Any:
    try:
        return render_value(value, context)
    except RenderError as exc:
        log.warning("[%s] notify %s kept as written: %s", execution_id, what, exc)
        return value


def notify_payload(row: Row, recorded: Mapping[str, Any],
                   names: Mapping[str, Any]) -> dict[str, Any]:
    """StackStorm's ``core.st2.generic.notifytrigger`` payload of one route."""
    spec = recorded.get(NOTIFY_KEY) or {}
    kind = str(spec.get("kind") or "on-complete")
    message = spec.get("message") or (
        f"Action {row['action_ref']} {SUFFIXES.get(kind, 'completed.')}")
    data = spec.get("data") or {}
    context = {**names, "action_parameters": row["parameters"],
               "action_context": row["context"], "action_results": row["result"]}
    message = _rendered(message, context, "message", row["id"])
    data = _rendered(data, context, "data", row["id"])
    data = dict(data) if isinstance(data, Mapping) else {"data": data}
    data["result"] = json.dumps(row["result"])
    route = recorded.get("route")
    return {
        "message": message,
        "data": data,
        "execution_id": row["id"],
        "status": row["status"],
        "start_timestamp": _iso(row["start_timestamp"]),
        "end_timestamp": _iso(row["end_timestamp"]),
        "action_ref": row["action_ref"],
        "runner_ref": _runner_ref(row),
        "route": route,
        "channel": recorded.get("channel", route),
    }


def complete(conn: Connection, instances: list[Row]) -> dict[str, Any]:
    """The full payload of each instance that has a ``payload_from``, by instance id.

    An instance whose execution is gone (deleted by retention) keeps its payload as
    recorded, without the private ``_notify`` key.
    """
    wanted = {str(r["payload_from"]) for r in instances if r.get("payload_from")}
    if not wanted:
        return {}
    rows = payload_sources(conn, sorted(wanted))
    names_by_user: dict[str, Mapping[str, Any]] = {}
    payloads: dict[str, Any] = {}
    for instance in instances:
        source = instance.get("payload_from")
        if not source:
            continue
        recorded = instance["payload"] if isinstance(instance["payload"], Mapping) else {}
        row = rows.get(str(source))
        if row is None:
            payloads[instance["id"]] = {k: v for k, v in recorded.items() if k != NOTIFY_KEY}
        elif instance["trigger"] == ACTION_TRIGGER or NOTIFY_KEY not in recorded:
            payloads[instance["id"]] = {**action_payload(row), "status": recorded.get(
                "status", row["status"])}
        else:
            user = str(row.get("user") or "")
            if user not in names_by_user:
                names_by_user[user] = kv_render.names(conn.engine, user)
            payload = notify_payload(row, recorded, names_by_user[user])
            payload["status"] = recorded.get("status", row["status"])
            payloads[instance["id"]] = payload
    return payloads


def with_payloads(db: Engine, rows: list[Row]) -> list[Row]:
    """``rows`` (instances) with the payloads of action and notify triggers completed:
    what the API shows and what a re-emit records (StackStorm's instances held the full
    payload). One read, only when some row has a ``payload_from``."""
    if not any(r.get("payload_from") for r in rows):
        return rows
    with reading(db) as conn:
        payloads = complete(conn, rows)
    return [{**r, "payload": payloads[r["id"]]} if r["id"] in payloads else r for r in rows]
