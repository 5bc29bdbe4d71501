"""/v1/actions and /v1/runnertypes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from levante.platform.api.common import (
    ApiError,
    json_response,
    platform,
    project,
    query_int,
    query_limit,
    read_object,
)
from levante.platform.core import executions as ex
from levante.platform.core import store
from levante.platform.core.pack_registry import action_row
from levante.platform.core.packs import PackMeta, pack_name_problem, parse_action
from levante.platform.core.parameters import merge_schema
from levante.platform.runners import UnknownRunner, get_runner, runner_names, runner_types


async def list_actions(request: Request) -> Response:
    limit = query_limit(request, None)
    offset = query_int(request, "offset", 0) or 0
    rows, total = store.list_actions(
        platform(request).db,
        pack=request.query_params.get("pack") or None,
        name=request.query_params.get("name") or None,
        limit=limit,
        offset=offset,
    )
    body = [project(ex.action_view(r, shown=True), request) for r in rows]
    return json_response(body, headers={"X-Total-Count": str(total)})


async def get_action(request: Request) -> Response:
    row = ex.get_action(platform(request).db, request.path_params["ref"])
    return json_response(project(ex.action_view(row, shown=True), request))


async def action_parameters(request: Request) -> Response:
    row = ex.get_action(platform(request).db, request.path_params["ref"])
    runner = get_runner(row["runner_type"])
    merged = merge_schema(runner.runner_parameters, row["parameters"])
    view = ex.action_view({**row, "parameters": merged}, shown=True)
    return json_response({"parameters": view["parameters"]})


async def action_entry_point(request: Request) -> Response:
    row = ex.get_action(platform(request).db, request.path_params["ref"])
    entry = row["entry_point"]
    if not entry:
        raise ApiError(404, f'Action "{row["ref"]}" has no entry point.')
    try:
        text = Path(entry).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ApiError(404, f'The entry point of action "{row["ref"]}" cannot be read.') from None
    return PlainTextResponse(text)


def _parse(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Check an action document the way pack registration does; 400 saying why."""
    pack_name = body.get("pack")
    if not isinstance(pack_name, str) or not pack_name:
        raise ApiError(400, "'pack' is required.")
    problem = pack_name_problem(pack_name, "'pack'")
    if problem:
        raise ApiError(400, problem)
    p = platform(request)
    pack_row = store.get_pack(p.db, pack_name)
    pack_path = Path(pack_row["path"]) if pack_row else p.config.data_dir / "packs" / pack_name
    pack = PackMeta(name=pack_name, version="0.0.0", description="", author="",
                    path=pack_path.resolve())
    data = {k: v for k, v in body.items()
            if k in ("name", "pack", "description", "runner_type", "entry_point", "enabled",
                     "parameters", "tags", "notify")}
    name = data.get("name")
    metadata_file = pack.path / "actions" / f"{name if isinstance(name, str) else 'action'}.yaml"
    try:
        action = parse_action(data, pack, metadata_file, runner_names())
    except ValueError as exc:
        raise ApiError(400, f"Invalid action: {exc}") from None
    return action_row(action)


async def create_action(request: Request) -> Response:
    row = _parse(request, await read_object(request))
    db = platform(request).db
    if store.get_action(db, row["ref"]) is not None:
        raise ApiError(409, f'Action "{row["ref"]}" already exists.')
    stored = store.insert_action(db, row)
    ex.forget_actions(db)
    return json_response(ex.action_view(stored, shown=True), 201)


async def update_action(request: Request) -> Response:
    db = platform(request).db
    existing = ex.get_action(db, request.path_params["ref"])
    body = await read_object(request)
    body.setdefault("pack", existing["pack"])
    body.setdefault("name", existing["name"])
    row = _parse(request, body)
    if row["ref"] != existing["ref"]:
        raise ApiError(400, "An action's pack and name cannot change; create a new action.")
    store.update_action(db, existing["id"], {k: v for k, v in row.items() if k != "ref"})
    ex.forget_actions(db)
    return json_response(ex.action_view(ex.get_action(db, existing["id"]), shown=True))


async def delete_action(request: Request) -> Response:
    db = platform(request).db
    existing = ex.get_action(db, request.path_params["ref"])
    store.delete_action(db, existing["id"])
    ex.forget_actions(db)
    return Response(status_code=204)


def _runner_body(name: str) -> dict[str, Any]:
    return ex.runner_view(name)


async def list_runnertypes(request: Request) -> Response:
    name = request.query_params.get("name")
    bodies = [_runner_body(rt.name) for rt in runner_types()]
    if name:
        bodies = [b for b in bodies if b["name"] == name]
        if not bodies:
            try:
                bodies = [_runner_body(get_runner(name).name)]
            except UnknownRunner:
                bodies = []
    return json_response([project(b, request) for b in bodies],
                         headers={"X-Total-Count": str(len(bodies))})


async def get_runnertype(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        body = _runner_body(get_runner(name).name)
    except UnknownRunner:
        raise ApiError(404, f'Runner type "{name}" cannot be found.') from None
    return json_response(project(body, request))
