"""/v1/configs and /v1/config_schemas: the registered pack configs, as StackStorm shows
them (``{id, pack, values}`` and ``{id, pack, attributes}``), secret values masked."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from levante.platform.api.common import ApiError, RouteTable, json_response, platform, project
from levante.platform.configs import schema as pack_configs
from levante.platform.configs import store
from levante.platform.core.packs import pack_name_problem


def config_view(row: dict[str, Any]) -> dict[str, Any]:
    values = row["config_values"] if row["config_values"] is not None else {}
    return {"id": row["id"], "pack": row["pack"],
            "values": pack_configs.mask(row["config_schema"], values)}


def schema_view(row: dict[str, Any]) -> dict[str, Any]:
    schema = dict(row["config_schema"] or {})
    for spec in schema.values():  # a secret's default is a secret too
        if isinstance(spec, dict) and spec.get("secret") and spec.get("default") is not None:
            spec["default"] = pack_configs.MASK
    return {"id": row["id"], "pack": row["pack"], "attributes": schema}


def _row(request: Request, wanted: str) -> dict[str, Any]:
    ref = request.path_params["pack"]
    problem = pack_name_problem(ref, "The path's pack")
    if problem:
        raise ApiError(400, problem)
    row = store.get_pack_config(platform(request).db, ref)
    if row is None or (wanted == "values" and row["config_values"] is None) \
            or (wanted == "schema" and row["config_schema"] is None):
        what = "config" if wanted == "values" else "config schema"
        raise ApiError(404, f'Pack "{ref}" has no registered {what}.')
    return row


async def list_configs(request: Request) -> Response:
    rows = [r for r in store.list_pack_configs(platform(request).db)
            if r["config_values"] is not None]
    return json_response([project(config_view(r), request) for r in rows],
                         headers={"X-Total-Count": str(len(rows))})


async def get_config(request: Request) -> Response:
    return json_response(project(config_view(_row(request, "values")), request))


async def list_schemas(request: Request) -> Response:
    rows = [r for r in store.list_pack_configs(platform(request).db)
            if r["config_schema"] is not None]
    return json_response([project(schema_view(r), request) for r in rows],
                         headers={"X-Total-Count": str(len(rows))})


async def get_schema(request: Request) -> Response:
    return json_response(project(schema_view(_row(request, "schema")), request))


async def put_config(request: Request) -> Response:
    path = platform(request).config.configs_path
    raise ApiError(405, "Changing a pack config over the API is not supported by Levante: "
                        f"edit {path}/<pack>.yaml and register the pack again.")


def routes() -> RouteTable:
    """This feature's routes, mounted by `levante.platform.api.app.FEATURES`."""
    return [
        ("/v1/configs", list_configs, ["GET"]),
        ("/v1/configs/{pack}", get_config, ["GET"]),
        ("/v1/configs/{pack}", put_config, ["PUT"]),
        ("/v1/config_schemas", list_schemas, ["GET"]),
        ("/v1/config_schemas/{pack}", get_schema, ["GET"]),
    ]
