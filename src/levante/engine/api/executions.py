"""Handlers of what the engine runs: workflow executions, tasks and action executions.

Reads go through `levante.engine.store.queries`; changes are the methods of the app's
`EngineRuntime` (`levante.engine.core.runtime`), which own their transactions.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from levante import jsontext
from levante.engine.api import encode
from levante.engine.api.auth import user_of
from levante.engine.api.errors import ApiError
from levante.engine.api.http import (
    db_of,
    json_body,
    json_field,
    list_request,
    list_response,
    query_bool,
    str_field,
)
from levante.engine.api.response import JSONResponse
from levante.engine.store import definitions as store
from levante.engine.store import queries

WORKFLOW_STATES = ("IDLE", "WAITING", "RUNNING", "DELAYED", "PAUSED", "SUCCESS", "ERROR",
                   "CANCELLED", "SKIPPED")
IGNORED = ("all_projects", "project_id_filter", "include_output", "nulls")


def _path(request: Request, name: str = "id") -> str:
    """An execution id from the path: a UUID (400 otherwise, naming the value)."""
    value = str(request.path_params[name])
    if name == "id" and not store.is_uuid(value):
        raise ApiError(400, f"{_shown(value)} is not a valid id: execution ids are UUIDs")
    return value


def _shown(value: str) -> str:
    """A client's value quoted for an error message, in ASCII and not too long."""
    return json.dumps(value[:80])


def _uuid_field(data: dict[str, Any], name: str) -> str | None:
    """A body field holding an execution id: absent, or a UUID (400 naming the field)."""
    value = str_field(data, name)
    if value and not store.is_uuid(value):
        raise ApiError(400, f"Field '{name}' must be a UUID, not {_shown(value)}")
    return value


def _ident(result: Any) -> str:
    """The id in whatever a runtime function returned (a row, a mapping or the id)."""
    if isinstance(result, str):
        return result
    if isinstance(result, dict):
        return str(result["id"])
    ident = getattr(result, "id", None)
    if ident is None:
        raise ApiError(500, "The runtime returned no id")
    return str(ident)


def _require(conn: Connection, listing: queries.Listing, ident: str, what: str) -> dict[str, Any]:
    row = queries.get_row(conn, listing, ident)
    if row is None:
        raise store.NotFound(f"{what} not found [id={ident}]")
    return row


def _state(data: dict[str, Any], field: str = "state") -> str | None:
    state = str_field(data, field)
    if state is None or state == "":
        return None
    if state not in WORKFLOW_STATES:
        raise ApiError(400, f"Field '{field}' must be one of {', '.join(WORKFLOW_STATES)}")
    return state


# --- workflow executions ---------------------------------------------------------------------

async def list_executions(request: Request) -> Response:
    listing = queries.executions_listing()
    req, fields = list_request(request, listing, IGNORED, encode.execution)
    with_output = query_bool(request, "include_output") or "output" in fields
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.execution(r, with_output), fields) for r in rows]
    return list_response(request, "executions", items, req, fields)


async def get_execution(request: Request) -> Response:
    row = await db_of(request).read(
        _require, queries.executions_listing(), _path(request), "Workflow execution"
    )
    return JSONResponse(encode.execution(row))


def _resolve_env(conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
    """Replace a named environment in params.env by its variables, as Mistral does."""
    env = params.get("env")
    if isinstance(env, str):
        try:
            params = {**params, "env": store.get_environment(conn, env)["variables"]}
        except store.NotFound:
            raise ApiError(400, f"Environment is not found: {env}") from None
    elif env is not None and not isinstance(env, dict):
        raise ApiError(400, "params.env must be an object or the name of an environment")
    return params


async def create_execution(request: Request) -> Response:
    """Start a workflow; with a client-given `id` that exists, answer that execution."""
    data = await json_body(request)
    db = db_of(request)
    exec_id = _uuid_field(data, "id")
    workflow = str_field(data, "workflow_id") or str_field(data, "workflow_name")
    wf_input = json_field(data, "input")
    params = json_field(data, "params") or {}
    source = _uuid_field(data, "source_execution_id")
    if source:
        src = await db.read(_require, queries.executions_listing(), source, "Workflow execution")
        workflow = workflow or src.get("workflow_id") or src.get("workflow_name")
        wf_input = wf_input if wf_input is not None else src.get("input")
        params = params or dict(src.get("params") or {})
    if not workflow:
        raise ApiError(400, "Field 'workflow_name' or 'workflow_id' is required")
    # (a named environment in params.env is resolved by the runtime, in its transaction)
    namespace = str_field(data, "workflow_namespace") or str(params.get("namespace") or "")
    description = str_field(data, "description") or ""
    result = await db.call(
        db.runtime.start_workflow, workflow_identifier=workflow,
        namespace=namespace,
        input=wf_input or {},
        params=params,
        description=description,
        execution_id=exec_id or None,
        user=user_of(request.scope),
    )
    if isinstance(result, dict) and {"state", "input", "created_at"} <= set(result):
        row = result
    else:
        row = await db.read(
            _require, queries.executions_listing(), _ident(result), "Workflow execution"
        )
    return JSONResponse(encode.execution(row), status_code=201)


async def update_execution(request: Request) -> Response:
    data = await json_body(request)
    db = db_of(request)
    ident = _path(request)
    state = _state(data)
    state_info = str_field(data, "state_info")
    description = str_field(data, "description")
    params = json_field(data, "params") or {}
    env = params.get("env")
    if env is not None:
        env = (await db.read(_resolve_env, {"env": env}))["env"]
    await db.read(_require, queries.executions_listing(), ident, "Workflow execution")
    if state is None and description is None and env is None:
        raise ApiError(400, "Nothing to update: give 'state', 'description' or 'params.env'")
    if description is not None:
        await db.write(store.set_execution_description, ident, description)
    if state is not None or env is not None:
        if state is None:
            raise ApiError(400, "Changing 'params.env' needs a 'state' (e.g. RUNNING)")
        await db.call(db.runtime.set_workflow_state, ident, state, state_info, env)
    row = await db.read(_require, queries.executions_listing(), ident, "Workflow execution")
    return JSONResponse(encode.execution(row))


async def delete_execution(request: Request) -> Response:
    db = db_of(request)
    ident = _path(request)
    await db.read(_require, queries.executions_listing(), ident, "Workflow execution")
    force = query_bool(request, "force")
    await db.call(db.runtime.delete_execution, ident, force=force)
    return Response(status_code=204)


async def execution_tasks(request: Request) -> Response:
    listing = queries.tasks_listing()
    req, fields = list_request(request, listing, IGNORED, encode.task)
    ident = _path(request)
    await db_of(request).read(_require, queries.executions_listing(), ident,
                              "Workflow execution")
    req = queries.ListRequest({**req.filters, "workflow_execution_id": f"eq:{ident}"},
                              req.marker, req.limit, req.sort_keys, req.sort_dirs)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.task(r), fields) for r in rows]
    return list_response(request, "tasks", items, req, fields)


def _max_depth(request: Request) -> int:
    raw = request.query_params.get("max_depth", "-1") or "-1"
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "Parameter 'max_depth' must be an integer") from None


def _children(conn: Connection, wf_ids: list[str]) -> list[dict[str, Any]]:
    """Sub-workflow executions started by tasks of the executions `wf_ids`."""
    if not wf_ids:
        return []
    tasks = queries.list_rows(
        conn, queries.tasks_listing(),
        queries.ListRequest({"workflow_execution_id": "in:" + ",".join(wf_ids)}),
    )
    task_ids = [t["id"] for t in tasks]
    if not task_ids:
        return []
    return queries.list_rows(
        conn, queries.executions_listing(),
        queries.ListRequest({"task_execution_id": "in:" + ",".join(task_ids)}),
    )


def _tree(conn: Connection, root: dict[str, Any], max_depth: int) -> list[dict[str, Any]]:
    out = [root]
    level = [root["id"]]
    depth = 0
    while level and (max_depth < 0 or depth < max_depth):
        found = _children(conn, level)
        out.extend(found)
        level = [r["id"] for r in found]
        depth += 1
    return out


async def sub_executions(request: Request) -> Response:
    ident = _path(request)
    errors_only = query_bool(request, "errors_only")
    max_depth = _max_depth(request)

    def collect(conn: Connection) -> list[dict[str, Any]]:
        root = _require(conn, queries.executions_listing(), ident, "Workflow execution")
        return _tree(conn, root, max_depth)

    rows = await db_of(request).read(collect)
    if errors_only:
        rows = [r for r in rows if r.get("state") == "ERROR"]
    return JSONResponse({"executions": [encode.execution(r) for r in rows]})


def _report_node(
    conn: Connection, wf: dict[str, Any], depth: int, max_depth: int, errors_only: bool,
    stats: dict[str, int],
) -> dict[str, Any]:
    tasks = queries.list_rows(
        conn, queries.tasks_listing(),
        queries.ListRequest({"workflow_execution_id": f"eq:{wf['id']}"}),
    )
    task_nodes = []
    for t in tasks:
        key = {"RUNNING": "running", "SUCCESS": "success", "ERROR": "error",
               "IDLE": "idle", "PAUSED": "paused"}.get(str(t.get("state")))
        stats["total_tasks_count"] += 1
        if key:
            stats[f"{key}_tasks_count"] += 1
        if errors_only and t.get("state") != "ERROR":
            continue
        node = {k: encode.task(t, with_result=False).get(k)
                for k in ("id", "name", "type", "state", "state_info", "created_at",
                          "updated_at", "published")}
        actions = queries.list_rows(
            conn, queries.action_executions_listing(),
            queries.ListRequest({"task_execution_id": f"eq:{t['id']}"}),
        )
        node["action_executions"] = [
            {k: encode.action_execution(a, False).get(k)
             for k in ("id", "name", "state", "state_info", "created_at", "updated_at")}
            for a in actions
        ]
        subs: list[dict[str, Any]] = []
        if max_depth < 0 or depth < max_depth:
            subs = [
                _report_node(conn, w, depth + 1, max_depth, errors_only, stats)
                for w in queries.list_rows(
                    conn, queries.executions_listing(),
                    queries.ListRequest({"task_execution_id": f"eq:{t['id']}"}),
                )
            ]
        node["workflow_executions"] = subs
        task_nodes.append(node)
    head = encode.execution(wf, with_output=False)
    return {
        **{k: head.get(k) for k in ("id", "name", "workflow_name", "state", "state_info",
                                    "created_at", "updated_at")},
        "name": wf.get("workflow_name"),
        "task_executions": task_nodes,
    }


async def execution_report(request: Request) -> Response:
    ident = _path(request)
    errors_only = query_bool(request, "errors_only")
    statistics_only = query_bool(request, "statistics_only")
    max_depth = _max_depth(request)

    def build(conn: Connection) -> dict[str, Any]:
        root = _require(conn, queries.executions_listing(), ident, "Workflow execution")
        stats = {k: 0 for k in ("total_tasks_count", "running_tasks_count",
                                "success_tasks_count", "error_tasks_count",
                                "idle_tasks_count", "paused_tasks_count")}
        node = _report_node(conn, root, 0, max_depth, errors_only, stats)
        if statistics_only:
            return {"statistics": stats}
        return {"root_workflow_execution": node, "statistics": stats}

    return JSONResponse(await db_of(request).read(build))


# --- tasks -----------------------------------------------------------------------------------

async def list_tasks(request: Request) -> Response:
    listing = queries.tasks_listing()
    req, fields = list_request(request, listing, IGNORED, encode.task)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.task(r), fields) for r in rows]
    return list_response(request, "tasks", items, req, fields)


async def get_task(request: Request) -> Response:
    row = await db_of(request).read(
        _require, queries.tasks_listing(), _path(request), "Task execution"
    )
    return JSONResponse(encode.task(row))


async def update_task(request: Request) -> Response:
    """Re-run a task in ERROR (state RUNNING, `reset`, `env`) or skip it (SKIPPED)."""
    data = await json_body(request)
    db = db_of(request)
    ident = _path(request)
    state = _state(data)
    await db.read(_require, queries.tasks_listing(), ident, "Task execution")
    if state == "SKIPPED":
        await db.call(db.runtime.skip_task, ident)
    elif state == "RUNNING":
        reset = data.get("reset", True)
        if not isinstance(reset, bool):
            raise ApiError(400, "Field 'reset' must be true or false")
        env = json_field(data, "env")
        await db.call(db.runtime.rerun_task, ident, reset, env)
    else:
        raise ApiError(400, "Only 'RUNNING' (re-run) or 'SKIPPED' may be set on a task")
    row = await db.read(_require, queries.tasks_listing(), ident, "Task execution")
    return JSONResponse(encode.task(row))


async def task_action_executions(request: Request) -> Response:
    listing = queries.action_executions_listing()
    req, fields = list_request(request, listing, IGNORED, encode.action_execution)
    ident = _path(request)
    await db_of(request).read(_require, queries.tasks_listing(), ident, "Task execution")
    req = queries.ListRequest({**req.filters, "task_execution_id": f"eq:{ident}"},
                              req.marker, req.limit, req.sort_keys, req.sort_dirs)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.action_execution(r), fields) for r in rows]
    return list_response(request, "action_executions", items, req, fields)


async def task_sub_executions(request: Request) -> Response:
    ident = _path(request)
    errors_only = query_bool(request, "errors_only")
    max_depth = _max_depth(request)

    def collect(conn: Connection) -> list[dict[str, Any]]:
        _require(conn, queries.tasks_listing(), ident, "Task execution")
        direct = queries.list_rows(
            conn, queries.executions_listing(),
            queries.ListRequest({"task_execution_id": f"eq:{ident}"}),
        )
        out: list[dict[str, Any]] = []
        for wf in direct:
            out.extend(_tree(conn, wf, max_depth - 1 if max_depth > 0 else max_depth))
        return out

    rows = await db_of(request).read(collect)
    if errors_only:
        rows = [r for r in rows if r.get("state") == "ERROR"]
    return JSONResponse({"executions": [encode.execution(r) for r in rows]})


# --- action executions -----------------------------------------------------------------------

async def list_action_executions(request: Request) -> Response:
    listing = queries.action_executions_listing()
    req, fields = list_request(request, listing, IGNORED, encode.action_execution)
    with_output = query_bool(request, "include_output") or "output" in fields
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.action_execution(r, with_output), fields)
             for r in rows]
    return list_response(request, "action_executions", items, req, fields)


async def get_action_execution(request: Request) -> Response:
    row = await db_of(request).read(
        _require, queries.action_executions_listing(), _path(request), "Action execution"
    )
    return JSONResponse(encode.action_execution(row))


async def run_action(request: Request) -> Response:
    """Run an action alone; synchronous unless `params.run_sync` is false for an async
    action or `save_result` asks it to be stored and run in the background."""
    data = await json_body(request)
    db = db_of(request)
    name = str_field(data, "name")
    if not name:
        raise ApiError(400, "Field 'name' is required")
    action_input = json_field(data, "input") or {}
    params = json_field(data, "params") or {}
    if str_field(data, "workflow_namespace"):
        params = {**params, "namespace": data["workflow_namespace"]}
    description = str_field(data, "description") or ""
    result = await db.call(db.runtime.run_action, name, action_input, params,
                           description)
    if isinstance(result, dict) and "output" in result and "state" in result:
        row = result
        stored = await db.read(queries.get_row, queries.action_executions_listing(),
                               str(result.get("id"))) if result.get("id") else None
        row = stored or row
    else:
        row = await db.read(_require, queries.action_executions_listing(), _ident(result),
                            "Action execution")
    return JSONResponse(encode.action_execution(row), status_code=201)


async def update_action_execution(request: Request) -> Response:
    """Report the result of an asynchronous action: state SUCCESS/ERROR/CANCELLED, output."""
    # An action's output is kept as the action made it (NUL characters included: they
    # are stored as JSON escapes); only its depth is limited.
    data = await json_body(request, text=False)
    db = db_of(request)
    ident = _path(request)
    state = _state(data)
    output = data.get("output")
    if isinstance(output, str):
        try:
            output = jsontext.loads(output, "output", text=False)
        except jsontext.BadJson as exc:
            raise ApiError(400, f"The request body cannot be accepted: {exc}") from None
        except ValueError:
            pass
    if state is None and output is None:
        raise ApiError(400, "Please provide either state or output for action execution.")
    if state is None:
        state = "SUCCESS"
    if state not in ("SUCCESS", "ERROR", "CANCELLED", "PAUSED", "RUNNING"):
        raise ApiError(400, f"An action execution cannot be set to {state}")
    # (an unknown id is refused by the runtime itself: NotFound, 404)
    await db.call(db.runtime.complete_action_execution, ident, state, output)
    row = await db.read(_require, queries.action_executions_listing(), ident,
                        "Action execution")
    return JSONResponse(encode.action_execution(row))
