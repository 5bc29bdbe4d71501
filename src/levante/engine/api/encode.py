"""Rows to Mistral v2 resources: the field names, JSON-string fields and time format that
`python-mistralclient` expects."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from levante.engine.platform_actions import mask_input, mask_params


def fmt_time(value: Any) -> str | None:
    """Mistral's timestamp: 'YYYY-MM-DD HH:MM:SS' in UTC (naive values are UTC).
    (isoformat, not strftime: API answers and event bodies format many stamps)"""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(" ", "seconds")
    return str(value)


def json_text(value: Any, empty: Any = None) -> str | None:
    """A JSON field as Mistral sends it: the JSON text of the value."""
    if value is None:
        if empty is None:
            return None
        value = empty
    return json.dumps(value, default=str)


def _pick(row: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {n: row.get(n) for n in names}


def _stamps(row: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    out["created_at"] = fmt_time(row.get("created_at"))
    out["updated_at"] = fmt_time(row.get("updated_at"))
    return out


def workflow(row: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "namespace", "input", "definition", "scope",
                      "project_id"))
    out["tags"] = list(row.get("tags") or [])
    return _stamps(row, out)


def workbook(row: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "namespace", "definition", "scope", "project_id"))
    out["tags"] = list(row.get("tags") or [])
    return _stamps(row, out)


def action(row: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "namespace", "input", "description", "definition",
                      "scope", "project_id"))
    out["is_system"] = bool(row.get("is_system"))
    out["tags"] = list(row.get("tags") or [])
    return _stamps(row, out)


def environment(row: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "description", "scope", "project_id"))
    out["variables"] = json_text(row.get("variables"), {})
    return _stamps(row, out)


def cron_trigger(row: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "pattern", "workflow_name", "workflow_id",
                      "remaining_executions", "scope", "project_id"))
    out["workflow_input"] = json_text(row.get("workflow_input"), {})
    out["workflow_params"] = json_text(row.get("workflow_params"), {})
    out["first_execution_time"] = fmt_time(row.get("first_execution_time"))
    out["next_execution_time"] = fmt_time(row.get("next_execution_time"))
    return _stamps(row, out)


def execution(row: Mapping[str, Any], with_output: bool = True) -> dict[str, Any]:
    out = _pick(row, ("id", "workflow_id", "workflow_name", "workflow_namespace",
                      "description", "task_execution_id", "state", "state_info",
                      "project_id"))
    out["workflow_namespace"] = out["workflow_namespace"] or ""
    out["description"] = out["description"] or ""
    root = row.get("root_execution_id")
    out["root_execution_id"] = None if root in (None, row.get("id")) else root
    out["source_execution_id"] = None
    out["params"] = json_text(mask_params(row.get("params")), {})  # the credential
    out["input"] = json_text(mask_input(row.get("input"), row.get("params")), {})
    if with_output:  # (an output without `output:` is the whole context, inputs included)
        out["output"] = json_text(mask_input(row.get("output"), row.get("params")), {})
    return _stamps(row, out)


def task(row: Mapping[str, Any], with_result: bool = True) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "type", "workflow_name", "workflow_namespace",
                      "workflow_id", "workflow_execution_id", "state", "state_info",
                      "project_id"))
    out["workflow_namespace"] = out["workflow_namespace"] or ""
    out["processed"] = bool(row.get("processed"))
    out["published"] = json_text(row.get("published"), {})
    out["runtime_context"] = json_text(row.get("runtime_context"), {})
    if with_result:
        out["result"] = json_text(row.get("result"))
    out["started_at"] = fmt_time(row.get("started_at"))
    out["finished_at"] = fmt_time(row.get("finished_at"))
    return _stamps(row, out)


def action_execution(row: Mapping[str, Any], with_output: bool = True) -> dict[str, Any]:
    out = _pick(row, ("id", "name", "description", "workflow_name", "workflow_namespace",
                      "task_name", "task_execution_id", "state", "state_info",
                      "project_id"))
    out["workflow_namespace"] = out["workflow_namespace"] or ""
    out["description"] = out["description"] or ""
    out["accepted"] = bool(row.get("accepted"))
    out["tags"] = list(row.get("tags") or [])
    out["input"] = json_text(row.get("input"), {})
    if with_output:
        out["output"] = json_text(row.get("output"), {})
    out["params"] = json_text(row.get("params"), {})
    return _stamps(row, out)


def std_action(action: Any) -> dict[str, Any]:
    """A standard (system) action as /v2/actions lists it."""
    name = str(getattr(action, "name", ""))
    input_string = getattr(action, "input_string", "")
    return {
        "id": name,
        "name": name,
        "namespace": "",
        "input": input_string() if callable(input_string) else str(input_string or ""),
        "description": str(getattr(action, "description", "") or ""),
        "definition": None,
        "is_system": True,
        "tags": [],
        "scope": "public",
        "project_id": None,
        "created_at": None,
        "updated_at": None,
    }


def only_fields(resource: dict[str, Any], fields: Iterable[str] | None) -> dict[str, Any]:
    """The `fields` parameter: keep those fields (and always the id)."""
    if not fields:
        return resource
    wanted = set(fields) | {"id"}
    return {k: v for k, v in resource.items() if k in wanted}
