"""``/v1/triggertypes``, ``/v1/triggers`` and ``/v1/triggerinstances``: StackStorm's
trigger API, thin handlers over :mod:`.store`.

Listings answer ``X-Total-Count``; an unknown id or ref is a 404 naming it; a body that
cannot be a trigger type or trigger is a 400 naming the field. ``POST
/v1/triggerinstances/{id}/re_emit`` records a new instance of the same trigger with the
same payload plus ``__context.original_id`` (as StackStorm's), for the rules engine to
process again.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from levante.db.connect import writing
from levante.platform.api.common import (
    ApiError,
    Endpoint,
    in_db,
    json_response,
    platform,
    project,
    query_int,
    query_limit,
    query_time,
    read_object,
)
from levante.platform.core.store import iso
from levante.platform.triggers import execution_payloads, store

Row = dict[str, Any]


# --- views --------------------------------------------------------------------------------

def type_view(row: Row) -> Row:
    return {"id": row["id"], "ref": row["ref"],
            "uid": f"trigger_type:{row['pack']}:{row['name']}", "name": row["name"],
            "pack": row["pack"], "description": row["description"],
            "payload_schema": row["payload_schema"] or {},
            "parameters_schema": row["parameters_schema"] or {},
            "tags": row["tags"] or [], "metadata_file": row["metadata_file"] or ""}


def trigger_view(row: Row) -> Row:
    return {"id": row["id"], "ref": row["ref"],
            "uid": f"trigger:{row['pack']}:{row['name']}", "name": row["name"],
            "pack": row["pack"], "type": row["type"], "parameters": row["parameters"] or {},
            "description": row["description"]}


def instance_view(row: Row) -> Row:
    return {"id": row["id"], "trigger": row["trigger"], "payload": row["payload"],
            "occurrence_time": iso(row["occurrence_time"]), "status": row["status"]}


def _page(request: Request) -> tuple[int | None, int]:
    return query_limit(request, 50), query_int(request, "offset", 0) or 0


def _listing(items: list[Row], total: int, request: Request) -> Response:
    return json_response([project(item, request) for item in items],
                         headers={"X-Total-Count": str(total)})


def _ref(request: Request) -> str:
    return str(request.path_params["ref_or_id"])


NAME_LIMIT = 255  # the `name` and `pack` columns


def _text(body: Row, name: str, required: bool = True, default: str = "",
          limit: int | None = None) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"'{name}' is required.")
        return default
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string.")
    if limit is not None and len(value) > limit:
        raise ApiError(400, f"'{name}' must be at most {limit} characters.")
    return value


def _object(body: Row, name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, f"'{name}' must be an object.")
    return value


# --- trigger types ------------------------------------------------------------------------

def _type_or_404(request: Request) -> Row:
    found = store.get_trigger_type(platform(request).db, _ref(request))
    if found is None:
        raise ApiError(404, f'Trigger type "{_ref(request)}" cannot be found.')
    return found


async def list_trigger_types(request: Request) -> Response:
    limit, offset = _page(request)
    rows, total = store.list_trigger_types(
        platform(request).db, request.query_params.get("pack") or None,
        request.query_params.get("name") or None, limit, offset)
    return _listing([type_view(r) for r in rows], total, request)


async def get_trigger_type(request: Request) -> Response:
    return json_response(project(type_view(_type_or_404(request)), request))


def _type_fields(body: Row) -> tuple[str, dict[str, Any]]:
    name = _text(body, "name", limit=NAME_LIMIT)
    pack = _text(body, "pack", required=False, default="default", limit=NAME_LIMIT)
    tags = body.get("tags") or []
    if not isinstance(tags, list):
        raise ApiError(400, "'tags' must be a list.")
    return f"{pack}.{name}", {
        "description": _text(body, "description", required=False),
        "payload_schema": _object(body, "payload_schema"),
        "parameters_schema": _object(body, "parameters_schema"),
        "tags": tags, "metadata_file": ""}


async def create_trigger_type(request: Request) -> Response:
    ref, fields = _type_fields(await read_object(request))
    db = platform(request).db
    if store.get_trigger_type(db, ref) is not None:
        raise ApiError(409, f'Trigger type "{ref}" exists already.')

    def work() -> Row:
        with writing(db) as conn:
            store.upsert_trigger_type(conn, ref, **fields)
        return store.get_trigger_type(db, ref) or {}

    try:
        made = await in_db(request, work, commits=True)
    except IntegrityError:  # created meanwhile by another request
        raise ApiError(409, f'Trigger type "{ref}" exists already.') from None
    return json_response(type_view(made), 201)


async def update_trigger_type(request: Request) -> Response:
    found = _type_or_404(request)
    ref, fields = _type_fields(await read_object(request))
    if ref != found["ref"]:
        raise ApiError(400, f"'name' and 'pack' cannot change: this trigger type is "
                            f"{found['ref']}, not {ref}.")
    db = platform(request).db

    def work() -> Row:
        with writing(db) as conn:
            store.upsert_trigger_type(conn, ref, **fields)
        return store.get_trigger_type(db, ref) or {}

    return json_response(type_view(await in_db(request, work, commits=True)))


async def delete_trigger_type(request: Request) -> Response:
    found = _type_or_404(request)
    db = platform(request).db
    await in_db(request, lambda: store.delete_trigger_type(db, found["id"]), commits=True)
    return Response(status_code=204)


# --- triggers -----------------------------------------------------------------------------

def _trigger_or_404(request: Request) -> Row:
    found = store.get_trigger(platform(request).db, _ref(request))
    if found is None:
        raise ApiError(404, f'Trigger "{_ref(request)}" cannot be found.')
    return found


async def list_triggers(request: Request) -> Response:
    limit, offset = _page(request)
    rows, total = store.list_triggers(
        platform(request).db, request.query_params.get("type") or None,
        request.query_params.get("pack") or None, limit, offset)
    return _listing([trigger_view(r) for r in rows], total, request)


async def get_trigger(request: Request) -> Response:
    return json_response(project(trigger_view(_trigger_or_404(request)), request))


async def create_trigger(request: Request) -> Response:
    body = await read_object(request)
    db = platform(request).db
    type_ref = _text(body, "type")
    if store.get_trigger_type(db, type_ref) is None:
        raise ApiError(400, f"'type': trigger type \"{type_ref}\" is not registered.")
    parameters = _object(body, "parameters")
    pack = _text(body, "pack", required=False, default=type_ref.partition(".")[0],
                 limit=NAME_LIMIT)
    name = _text(body, "name", required=False, default=str(uuid.uuid4()), limit=NAME_LIMIT)
    description = _text(body, "description", required=False)
    try:
        row = await in_db(request, lambda: store.create_trigger(
            db, f"{pack}.{name}", type_ref, parameters, description), commits=True)
    except IntegrityError:
        raise ApiError(409, f'Trigger "{pack}.{name}" exists already.') from None
    return json_response(trigger_view(row), 201)


async def update_trigger(request: Request) -> Response:
    found = _trigger_or_404(request)
    body = await read_object(request)
    if body.get("type") not in (None, found["type"]):
        raise ApiError(400, f"'type' cannot change: this trigger is of {found['type']}.")
    parameters = _object(body, "parameters") if "parameters" in body \
        else found["parameters"]
    description = _text(body, "description", required=False,
                        default=found["description"])
    db = platform(request).db
    await in_db(request, lambda: store.update_trigger(db, found["id"], parameters,
                                                      description), commits=True)
    return json_response(trigger_view(store.get_trigger(db, found["id"]) or found))


async def delete_trigger(request: Request) -> Response:
    found = _trigger_or_404(request)
    db = platform(request).db
    await in_db(request, lambda: store.delete_trigger(db, found["id"]), commits=True)
    return Response(status_code=204)


# --- trigger instances --------------------------------------------------------------------

def _instance_or_404(request: Request) -> Row:
    instance_id = str(request.path_params["id"])
    db = platform(request).db
    found = store.get_instance(db, instance_id)
    if found is None:
        raise ApiError(404, f'Trigger instance "{instance_id}" cannot be found.')
    return execution_payloads.with_payloads(db, [found])[0]


async def list_instances(request: Request) -> Response:
    status = request.query_params.get("status") or None
    if status is not None and status not in store.STATUSES:
        raise ApiError(400, f"Query parameter 'status': {status!r} is not a trigger "
                            f"instance status (one of {', '.join(store.STATUSES)}).")
    limit, offset = _page(request)
    rows, total = store.list_instances(
        platform(request).db, request.query_params.get("trigger") or None, status,
        query_time(request, "timestamp_gt"), query_time(request, "timestamp_lt"),
        limit, offset)
    rows = execution_payloads.with_payloads(platform(request).db, rows)
    return _listing([instance_view(r) for r in rows], total, request)


async def get_instance(request: Request) -> Response:
    return json_response(project(instance_view(_instance_or_404(request)), request))


async def re_emit(request: Request) -> Response:
    found = _instance_or_404(request)
    payload = copy.deepcopy(found["payload"])
    if isinstance(payload, dict):
        payload["__context"] = {"original_id": found["id"]}
    db = platform(request).db

    def work() -> str:
        with writing(db) as conn:
            return store.record_instance(conn, found["trigger"], payload)

    new_id = await in_db(request, work, commits=True)
    return json_response({
        "message": f"Trigger instance {found['id']} succesfully re-sent.",
        "payload": payload, "id": new_id})


ROUTES: tuple[tuple[str, Endpoint, list[str]], ...] = (
    ("/v1/triggertypes", list_trigger_types, ["GET"]),
    ("/v1/triggertypes", create_trigger_type, ["POST"]),
    ("/v1/triggertypes/{ref_or_id}", get_trigger_type, ["GET"]),
    ("/v1/triggertypes/{ref_or_id}", update_trigger_type, ["PUT"]),
    ("/v1/triggertypes/{ref_or_id}", delete_trigger_type, ["DELETE"]),
    ("/v1/triggers", list_triggers, ["GET"]),
    ("/v1/triggers", create_trigger, ["POST"]),
    ("/v1/triggers/{ref_or_id}", get_trigger, ["GET"]),
    ("/v1/triggers/{ref_or_id}", update_trigger, ["PUT"]),
    ("/v1/triggers/{ref_or_id}", delete_trigger, ["DELETE"]),
    ("/v1/triggerinstances", list_instances, ["GET"]),
    ("/v1/triggerinstances/{id}", get_instance, ["GET"]),
    ("/v1/triggerinstances/{id}/re_emit", re_emit, ["POST"]),
)


def routes() -> list[tuple[str, Endpoint, list[str]]]:
    """This feature's route table, mounted by the platform app (`api.app.FEATURES`)."""
    return list(ROUTES)
