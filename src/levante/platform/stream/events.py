"""The events of StackStorm's stream that Levante sends, and their bodies.

An execution's change is sent as ``st2.execution__<op>`` (the body of
``GET /v1/executions/ID``) and ``st2.liveaction__<op>`` (its ``liveaction`` part); a
new output line as ``st2.execution.output__create``. ``st2 execution tail`` tells a
workflow's children by ``context.parent.execution_id`` and names their task from
``context.chain.name`` / ``context.orquesta.task_name``: the bodies carry those when the
stored context has the news elsewhere (``parent``, ``context.mistral.task_name``).
"""

from __future__ import annotations

import json
from typing import Any

from levante.platform.core import executions as ex
from levante.platform.core import store

EXECUTION_EVENTS = ("st2.execution__create", "st2.execution__update",
                    "st2.execution__delete")
LIVEACTION_EVENTS = ("st2.liveaction__create", "st2.liveaction__update",
                     "st2.liveaction__delete")
OUTPUT_EVENT = "st2.execution.output__create"
ALL_EVENTS = frozenset((*EXECUTION_EVENTS, *LIVEACTION_EVENTS, OUTPUT_EVENT))
DONE = ex.DONE


def sse(name: str, body: Any) -> bytes:
    """One server-sent event."""
    data = json.dumps(body, default=str, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()


def execution_body(row: dict[str, Any], web_base: str) -> dict[str, Any]:
    body = ex.view(row, web_base)
    context = dict(body.get("context") or {})
    if row.get("parent") and not isinstance(context.get("parent"), dict):
        context["parent"] = {"execution_id": row["parent"]}
    mistral = context.get("mistral")
    if (isinstance(mistral, dict) and mistral.get("task_name")
            and "chain" not in context and "orquesta" not in context):
        context["chain"] = {"name": mistral["task_name"]}
    body["context"] = context
    return body


def output_body(row: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{row['id']}-{line['seq']}",
        "execution_id": row["id"],
        "action_ref": row["action_ref"],
        "runner_ref": (row.get("runner") or {}).get("name", ""),
        "timestamp": store.iso(line["timestamp"]),
        "output_type": line["stream"],
        "data": line["data"],
    }
