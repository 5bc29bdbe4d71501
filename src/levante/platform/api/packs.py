"""/v1/packs: list, get, and register packs from the pack folders."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from levante.platform.api.common import ApiError, json_response, platform, project, read_object
from levante.platform.core import store
from levante.platform.core.pack_env import settings_from_config
from levante.platform.core.pack_registry import pack_view, register_packs
from levante.platform.core.packs import pack_name_problem


async def list_packs(request: Request) -> Response:
    rows = store.list_packs(platform(request).db)
    return json_response([project(pack_view(r), request) for r in rows],
                         headers={"X-Total-Count": str(len(rows))})


async def get_pack(request: Request) -> Response:
    ref = request.path_params["ref"]
    problem = pack_name_problem(ref, "The path's pack")
    if problem:
        raise ApiError(400, problem)
    row = store.get_pack(platform(request).db, ref)
    if row is None:
        raise ApiError(404, f'Pack "{ref}" cannot be found.')
    return json_response(project(pack_view(row), request))


async def register(request: Request) -> Response:
    """Load packs from disk: ``{"packs": [names]}`` (empty or absent: every pack found)."""
    body = await read_object(request, required=False)
    names = body.get("packs") or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "'packs' must be a list of pack names.")
    for index, name in enumerate(names):
        problem = pack_name_problem(name, f"'packs[{index}]'")
        if problem:
            raise ApiError(400, problem)
    p = platform(request)
    report = await run_in_threadpool(register_packs, p.db, p.packs_paths, names,
                                     configs_path=p.config.configs_path,
                                     envs=settings_from_config(p.config))
    return json_response(report.to_api())
