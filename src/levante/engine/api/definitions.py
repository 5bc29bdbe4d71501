"""Handlers of what the engine is given: workbooks, workflows, actions, environments and
cron triggers. Thin: parse the request, call the store, encode the rows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from levante.engine.actions import list_actions as registered_actions
from levante.engine.api import encode
from levante.engine.api.errors import ApiError
from levante.engine.api.http import (
    db_of,
    json_body,
    json_field,
    list_request,
    list_response,
    query_str,
    str_field,
    text_body,
)
from levante.engine.api.response import JSONResponse
from levante.engine.languages.base import DEFAULT_LANGUAGE, WorkflowLanguage
from levante.engine.store import definitions as store
from levante.engine.store import queries

IGNORED = ("all_projects", "project_id_filter")


def _scope(request: Request) -> str:
    scope = query_str(request, "scope", "private")
    if scope not in store.SCOPES:
        raise ApiError(400, f"Parameter 'scope' must be private or public, not {scope!r}")
    return scope


def _language(request: Request) -> WorkflowLanguage:
    """`?language=`: the workflow language of the text sent (Mistral v2 when not given),
    one the engine's settings know (InvalidRequest otherwise)."""
    return store.language(query_str(request, "language", DEFAULT_LANGUAGE),
                          db_of(request).runtime.settings.languages)


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])


# --- validation (200 with {"valid": bool, "error": str}) ----------------------------------

async def _validate(request: Request, parse: Any, with_db: bool = False) -> JSONResponse:
    text = await text_body(request)
    try:
        lang = _language(request)
        if with_db:  # references to actions and workflows are checked against the store
            await db_of(request).read(parse, text, query_str(request, "namespace"),
                                      lang=lang)
        else:
            await db_of(request).call(parse, text, lang=lang)
    except Exception as exc:
        if type(exc).__name__ != "ValidationError" and not isinstance(exc, store.DefinitionError):
            raise
        return JSONResponse({"valid": False, "error": str(exc)})
    return JSONResponse({"valid": True})


async def validate_workflows(request: Request) -> Response:
    return await _validate(request, store.validate_workflows, with_db=True)


async def validate_workbook(request: Request) -> Response:
    return await _validate(request, store.validate_workbook, with_db=True)


async def validate_actions(request: Request) -> Response:
    return await _validate(request, store.parse_actions)


# --- workflows -------------------------------------------------------------------------------

async def list_workflows(request: Request) -> Response:
    listing = queries.workflows_listing()
    req, fields = list_request(request, listing, IGNORED, encode.workflow)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.workflow(r), fields) for r in rows]
    return list_response(request, "workflows", items, req, fields)


async def get_workflow(request: Request) -> Response:
    row = await db_of(request).read(
        store.get_workflow, _path(request, "identifier"), query_str(request, "namespace")
    )
    return JSONResponse(encode.workflow(row))


async def create_workflows(request: Request) -> Response:
    text = await text_body(request)
    rows = await db_of(request).write(
        store.create_workflows, text, query_str(request, "namespace"), _scope(request),
        lang=_language(request),
    )
    return JSONResponse({"workflows": [encode.workflow(r) for r in rows]}, status_code=201)


async def update_workflows(request: Request) -> Response:
    text = await text_body(request)
    rows = await db_of(request).write(
        store.update_workflows, text, query_str(request, "namespace"), _scope(request),
        lang=_language(request),
    )
    return JSONResponse({"workflows": [encode.workflow(r) for r in rows]})


async def update_workflow(request: Request) -> Response:
    text = await text_body(request)
    rows = await db_of(request).write(
        store.update_workflows, text, query_str(request, "namespace"), _scope(request),
        _path(request, "identifier"), lang=_language(request),
    )
    return JSONResponse(encode.workflow(rows[0]))


async def delete_workflow(request: Request) -> Response:
    await db_of(request).write(
        store.delete_workflow, _path(request, "identifier"), query_str(request, "namespace")
    )
    return Response(status_code=204)


# --- workbooks -------------------------------------------------------------------------------

async def list_workbooks(request: Request) -> Response:
    listing = queries.workbooks_listing()
    req, fields = list_request(request, listing, IGNORED, encode.workbook)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.workbook(r), fields) for r in rows]
    return list_response(request, "workbooks", items, req, fields)


async def get_workbook(request: Request) -> Response:
    row = await db_of(request).read(
        store.get_workbook, _path(request, "name"), query_str(request, "namespace")
    )
    return JSONResponse(encode.workbook(row))


async def create_workbook(request: Request) -> Response:
    text = await text_body(request)
    row = await db_of(request).write(
        store.create_workbook, text, query_str(request, "namespace"), _scope(request),
        lang=_language(request),
    )
    return JSONResponse(encode.workbook(row), status_code=201)


async def update_workbook(request: Request) -> Response:
    text = await text_body(request)
    row = await db_of(request).write(
        store.update_workbook, text, query_str(request, "namespace"), _scope(request),
        lang=_language(request),
    )
    return JSONResponse(encode.workbook(row))


async def delete_workbook(request: Request) -> Response:
    await db_of(request).write(
        store.delete_workbook, _path(request, "name"), query_str(request, "namespace")
    )
    return Response(status_code=204)


# --- actions (standard ones from the registry, ad-hoc ones from the database) ----------------

def _std_actions() -> list[Any]:
    return list(registered_actions())


def _std_action(name: str) -> Any:
    return next((a for a in _std_actions() if getattr(a, "name", None) == name), None)


async def list_actions(request: Request) -> Response:
    """The standard actions (by name) then the ad-hoc ones from the database.

    Filters apply to both; `marker` and `limit` page through the two as one list.
    """
    listing = queries.actions_listing()
    req, fields = list_request(request, listing, IGNORED, encode.action)
    std = [encode.std_action(a) for a in _std_actions()]
    std = [a for a in std if _std_matches(a, req.filters)]
    db_req = req
    if req.marker:
        position = next((i for i, a in enumerate(std) if a["id"] == req.marker), None)
        if position is None:
            std = []
        else:
            std = std[position + 1:]
            db_req = replace(req, marker=None)
    if req.limit:
        std = std[: req.limit]
        db_req = replace(db_req, limit=req.limit - len(std))
    rows: list[dict[str, Any]] = []
    if db_req.limit != 0:
        rows = await db_of(request).read(queries.list_rows, listing, db_req)
    items = [encode.only_fields(a, fields) for a in std]
    items += [encode.only_fields(encode.action(r), fields) for r in rows]
    return list_response(request, "actions", items, req, fields)


def _std_matches(action: dict[str, Any], filters: dict[str, str] | Any) -> bool:
    for name, raw in dict(filters).items():
        op, value = queries.split_filter(raw)
        have = action.get(name)
        text = "" if have is None else str(have).lower() if isinstance(have, bool) else str(have)
        if op == "eq" and text != value:
            return False
        if op == "neq" and text == value:
            return False
        if op == "in" and text not in value.split(","):
            return False
        if op == "nin" and text in value.split(","):
            return False
        if op == "has" and value not in text:
            return False
        if op in ("gt", "gte", "lt", "lte"):
            return False
    return True


async def get_action(request: Request) -> Response:
    identifier = _path(request, "identifier")
    namespace = str(request.path_params.get("namespace") or query_str(request, "namespace"))
    std = _std_action(identifier)
    if std is not None:
        return JSONResponse(encode.std_action(std))
    row = await db_of(request).read(store.get_action, identifier, namespace)
    return JSONResponse(encode.action(row))


async def create_actions(request: Request) -> Response:
    text = await text_body(request)
    rows = await db_of(request).write(
        store.create_actions, text, query_str(request, "namespace"), _scope(request),
        lang=_language(request),
    )
    return JSONResponse({"actions": [encode.action(r) for r in rows]}, status_code=201)


async def update_actions(request: Request) -> Response:
    text = await text_body(request)
    identifier = request.path_params.get("identifier")
    if identifier is not None and _std_action(str(identifier)) is not None:
        raise ApiError(400, f"Attempt to modify a system action: {identifier}")
    rows = await db_of(request).write(
        store.update_actions, text, query_str(request, "namespace"), _scope(request),
        str(identifier) if identifier is not None else None, lang=_language(request),
    )
    if identifier is not None:
        return JSONResponse(encode.action(rows[0]))
    return JSONResponse({"actions": [encode.action(r) for r in rows]})


async def delete_action(request: Request) -> Response:
    identifier = _path(request, "identifier")
    if _std_action(identifier) is not None:
        raise ApiError(400, f"Attempt to delete a system action: {identifier}")
    namespace = str(request.path_params.get("namespace") or query_str(request, "namespace"))
    await db_of(request).write(store.delete_action, identifier, namespace)
    return Response(status_code=204)


# --- environments ----------------------------------------------------------------------------

async def list_environments(request: Request) -> Response:
    listing = queries.environments_listing()
    req, fields = list_request(request, listing, IGNORED, encode.environment)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.environment(r), fields) for r in rows]
    return list_response(request, "environments", items, req, fields)


async def get_environment(request: Request) -> Response:
    row = await db_of(request).read(store.get_environment, _path(request, "name"))
    return JSONResponse(encode.environment(row))


def _env_fields(data: dict[str, Any]) -> dict[str, Any]:
    scope = str_field(data, "scope")
    if scope is not None and scope not in store.SCOPES:
        raise ApiError(400, f"Field 'scope' must be private or public, not {scope!r}")
    return {
        "variables": json_field(data, "variables"),
        "description": str_field(data, "description"),
        "scope": scope,
    }


async def create_environment(request: Request) -> Response:
    data = await json_body(request)
    name = str_field(data, "name")
    if not name:
        raise ApiError(400, "Field 'name' is required")
    fields = _env_fields(data)
    fields["scope"] = fields["scope"] or "private"
    row = await db_of(request).write(store.create_environment, name, **fields)
    return JSONResponse(encode.environment(row), status_code=201)


async def update_environment(request: Request) -> Response:
    data = await json_body(request)
    name = str_field(data, "name")
    if not name:
        raise ApiError(400, "Field 'name' is required")
    row = await db_of(request).write(store.update_environment, name, **_env_fields(data))
    return JSONResponse(encode.environment(row))


async def delete_environment(request: Request) -> Response:
    await db_of(request).write(store.delete_environment, _path(request, "name"))
    return Response(status_code=204)


# --- cron triggers ---------------------------------------------------------------------------

async def list_cron_triggers(request: Request) -> Response:
    listing = queries.cron_triggers_listing()
    req, fields = list_request(request, listing, IGNORED, encode.cron_trigger)
    rows = await db_of(request).read(queries.list_rows, listing, req)
    items = [encode.only_fields(encode.cron_trigger(r), fields) for r in rows]
    return list_response(request, "cron_triggers", items, req, fields)


async def get_cron_trigger(request: Request) -> Response:
    row = await db_of(request).read(store.get_cron_trigger, _path(request, "name"))
    return JSONResponse(encode.cron_trigger(row))


def _count(data: dict[str, Any]) -> int | None:
    value = data.get("remaining_executions")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApiError(400, "Field 'remaining_executions' must be a positive integer")
    try:
        count = int(value)
    except ValueError:
        raise ApiError(400, "Field 'remaining_executions' must be a positive integer") from None
    if count < 1:
        raise ApiError(400, "Field 'remaining_executions' must be a positive integer")
    return count


async def create_cron_trigger(request: Request) -> Response:
    data = await json_body(request)
    name = str_field(data, "name")
    if not name:
        raise ApiError(400, "Field 'name' is required")
    workflow = str_field(data, "workflow_id") or str_field(data, "workflow_name")
    if not workflow:
        raise ApiError(400, "Field 'workflow_name' or 'workflow_id' is required")
    scope = str_field(data, "scope") or "private"

    def create(conn: Connection) -> dict[str, Any]:
        return store.create_cron_trigger(
            conn,
            name,
            workflow,
            pattern=str_field(data, "pattern"),
            first_time=str_field(data, "first_execution_time"),
            count=_count(data),
            workflow_input=json_field(data, "workflow_input"),
            workflow_params=json_field(data, "workflow_params"),
            namespace=str_field(data, "workflow_namespace") or "",
            scope=scope,
        )

    row = await db_of(request).write(create)
    return JSONResponse(encode.cron_trigger(row), status_code=201)


async def delete_cron_trigger(request: Request) -> Response:
    await db_of(request).write(store.delete_cron_trigger, _path(request, "name"))
    return Response(status_code=204)
