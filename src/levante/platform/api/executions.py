"""/v1/executions: run an action, read, list, change status, cancel, children, output."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from levante.platform.api.common import (
    ApiError,
    attr_list,
    execution_id,
    in_db,
    json_response,
    path_execution_id,
    platform,
    project,
    query_bool,
    query_int,
    query_limit,
    query_time,
    read_object,
    user_of,
)
from levante.platform.core import executions as ex
from levante.platform.core import store
from levante.platform.core.packs import check_notify

OUTPUT_STREAMS = ("stdout", "stderr", "other")


def _wants_children(request: Request) -> bool:
    """Children cost a query: skip it when the caller asked for other attributes only."""
    include = request.query_params.get("include_attributes")
    return not include or "children" in include.split(",")


def _view(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    p = platform(request)
    children = (store.child_ids(p.db, [row["id"]]).get(row["id"], [])
                if _wants_children(request) else [])
    return ex.view(row, p.web_base, children)


def _views(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    p = platform(request)
    children = (store.child_ids(p.db, [r["id"] for r in rows])
                if _wants_children(request) else {})
    return [project(ex.view(r, p.web_base, children.get(r["id"], [])), request) for r in rows]


def _parent_from(body: dict[str, Any]) -> str | None:
    parent = body.get("parent")
    context = body.get("context")
    if parent is None and isinstance(context, dict):
        candidate = context.get("parent")
        if isinstance(candidate, dict):
            parent = candidate.get("execution_id")
        elif isinstance(candidate, str):
            parent = candidate
    if parent is not None and not isinstance(parent, str):
        raise ApiError(400, "'parent' must be an execution id (a string).")
    return execution_id(parent, "'parent'") if parent is not None else None


async def create_execution(request: Request) -> Response:
    body = await read_object(request)
    ref = body.get("action")
    if not isinstance(ref, str) or not ref:
        raise ApiError(400, "'action' is required: the ref of the action to run, "
                            "e.g. core.local.")
    params = body.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ApiError(400, "'parameters' must be an object of name to value.")
    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        raise ApiError(400, "'context' must be an object.")
    notify = body.get("notify")
    if notify:
        problem = check_notify(notify)
        if problem:
            raise ApiError(400, f"{problem}.")
        context = {**(context or {}), "notify": notify}
    p = platform(request)
    parent = _parent_from(body)
    user = user_of(request)
    max_nesting = p.config.get_int("engine", "max_nesting_depth")
    client_id = body.get("id")
    if client_id is not None:
        # Chosen by the client so that a retried request finds what the first created
        # (the engine does so for the children of workflow tasks): 200 with it then.
        if not isinstance(client_id, str):
            raise ApiError(400, "'id' must be a string: 24 lower-case hexadecimal digits.")
        found, created = await in_db(request, lambda: ex.create_once(
            p.db, client_id, ref, params, user, parent=parent, context=context,
            allow_sudo=p.allow_sudo, default_timeout=p.default_timeout,
            max_nesting=max_nesting,
        ), commits=True)
        return json_response(ex.view(found, p.web_base), 201 if created else 200)
    row = await in_db(request, lambda: ex.create_execution(
        p.db, ref, params, user, parent=parent, context=context,
        allow_sudo=p.allow_sudo, default_timeout=p.default_timeout,
        max_nesting=max_nesting,
    ), commits=True)
    return json_response(ex.view(row, p.web_base), 201)


async def get_execution(request: Request) -> Response:
    include = attr_list(request.query_params.get("include_attributes"))
    light = bool(include) and set(include) <= ex.STATUS_FIELDS

    def work() -> dict[str, Any]:
        if light:
            return project(ex.status_view(platform(request).db, path_execution_id(request)),
                           request)
        row = ex.get_execution(platform(request).db, path_execution_id(request))
        return project(_view(request, row), request)

    return json_response(await in_db(request, work))


async def list_executions(request: Request) -> Response:
    status = request.query_params.get("status") or None
    if status is not None and status not in ex.STATUSES:
        raise ApiError(400, f"Query parameter 'status': {status!r} is not a valid status "
                            f"(one of {', '.join(ex.STATUSES)}).")
    limit = query_limit(request, 50)
    offset = query_int(request, "offset", 0) or 0
    ascending = query_bool(request, "sort_asc") and not query_bool(request, "sort_desc")
    started_after = query_time(request, "timestamp_gt")
    started_before = query_time(request, "timestamp_lt")

    def work() -> tuple[list[dict[str, Any]], int]:
        rows, total = store.list_executions(
            platform(request).db,
            action=request.query_params.get("action") or None,
            status=status,
            parent=request.query_params.get("parent") or None,
            user=request.query_params.get("user") or None,
            limit=limit,
            offset=offset,
            ascending=ascending,
            started_after=started_after,
            started_before=started_before,
        )
        return _views(request, rows), total

    views, total = await in_db(request, work)
    headers = {"X-Total-Count": str(total)}
    if limit is not None:
        headers["X-Limit"] = str(limit)
    return json_response(views, headers=headers)


async def update_execution(request: Request) -> Response:
    body = await read_object(request)
    status = body.get("status")
    if not isinstance(status, str):
        raise ApiError(400, "'status' is required: the new status of the execution.")
    if status == "resumed":
        status = "resuming"
    p = platform(request)
    row = ex.set_status(p.db, path_execution_id(request), status, body.get("result"),
                        has_result="result" in body)
    return json_response(_view(request, row))


async def cancel_execution(request: Request) -> Response:
    p = platform(request)
    row, reason = ex.request_cancel(p.db, path_execution_id(request))
    if reason:
        return json_response({"faultstring": reason})
    return json_response(_view(request, row))


async def children(request: Request) -> Response:
    p = platform(request)
    parent = ex.get_execution(p.db, path_execution_id(request))
    depth = query_int(request, "depth", -1, minimum=-1)
    found: list[dict[str, Any]] = []
    level = [parent["id"]]
    remaining = depth if depth is not None and depth > 0 else None
    while level and (remaining is None or remaining > 0):
        rows = [r for pid in level for r in store.child_executions(p.db, pid)]
        found.extend(rows)
        level = [r["id"] for r in rows]
        if remaining is not None:
            remaining -= 1
    return json_response(_views(request, found))


async def output(request: Request) -> Response:
    """The output lines, as text like st2; ``?format=json&after=N`` to follow them."""
    p = platform(request)
    row = ex.get_execution(p.db, path_execution_id(request))
    stream = request.query_params.get("output_type") or None
    if stream is not None and stream not in OUTPUT_STREAMS:
        raise ApiError(400, f"Query parameter 'output_type' must be one of "
                            f"{', '.join(OUTPUT_STREAMS)}.")
    after = query_int(request, "after", -1, minimum=-1)
    lines = await in_db(request, lambda: store.get_output(
        p.db, row["id"], stream, -1 if after is None else after))
    if request.query_params.get("format") == "json":
        return json_response({
            "id": row["id"],
            "status": row["status"],
            "done": row["status"] in ex.DONE,
            "lines": [{"seq": r["seq"], "stream": r["stream"], "data": r["data"],
                       "timestamp": store.iso(r["timestamp"])} for r in lines],
        })
    return PlainTextResponse("".join(r["data"] for r in lines))


async def result(request: Request) -> Response:
    row = ex.get_execution(platform(request).db, path_execution_id(request))
    return json_response(row["result"] if row["result"] is not None else {})


def _names(body: dict[str, Any], field: str) -> list[str] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ApiError(400, f"'{field}' must be a list of task names.")
    return list(dict.fromkeys(value))


async def re_run(request: Request) -> Response:
    body = await read_object(request, required=False)
    params = body.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise ApiError(400, "'parameters' must be an object of name to value.")
    tasks = _names(body, "tasks")
    reset = _names(body, "reset")
    if reset and not set(reset) <= set(tasks or []):
        raise ApiError(400, "'reset' must name only tasks that 'tasks' re-runs.")
    p = platform(request)
    row = ex.re_run(p.db, path_execution_id(request), params, user_of(request),
                    allow_sudo=p.allow_sudo, default_timeout=p.default_timeout,
                    tasks=tasks, reset=reset)
    return json_response(ex.view(row, p.web_base), 201)
