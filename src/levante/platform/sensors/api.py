"""``/v1/sensortypes``, as StackStorm's: list (``pack``, ``name``, ``enabled``, ``limit``,
``offset``; ``X-Total-Count``), get by ref or id, and ``PUT`` to enable or disable a
sensor (the only change StackStorm's API accepts; ``st2 sensor enable|disable`` send the
whole sensor back with ``enabled`` changed). Thin handlers over :mod:`.store`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from levante.platform.api.common import (
    ApiError,
    Endpoint,
    in_db,
    json_response,
    platform,
    project,
    query_filter_bool,
    query_int,
    query_limit,
    read_object,
)
from levante.platform.sensors import store

# What a PUT body may hold (StackStorm's SensorTypeAPI); only `enabled` is changed.
_FIELDS = frozenset({"id", "uid", "ref", "name", "pack", "description", "artifact_uri",
                     "entry_point", "enabled", "trigger_types", "poll_interval",
                     "metadata_file"})


def entry_point_of(row: dict[str, Any]) -> str:
    """StackStorm's entry point: the module path within the pack and the class name
    (``sensors.my_sensor.MySensor``)."""
    module = Path(str(row["entry_point"])).with_suffix("").as_posix().replace("/", ".")
    return f"{module}.{row['class_name']}"


def view(row: dict[str, Any], pack_path: str | None) -> dict[str, Any]:
    """A sensor as StackStorm's API shows it (SensorTypeAPI)."""
    doc: dict[str, Any] = {
        "id": row["id"],
        "uid": f"sensor_type:{row['pack']}:{row['name']}",
        "ref": row["ref"],
        "pack": row["pack"],
        "name": row["name"],
        "description": row["description"],
        "artifact_uri": f"file://{Path(pack_path) / row['entry_point']}" if pack_path
        else "",
        "entry_point": entry_point_of(row),
        "enabled": bool(row["enabled"]),
        "trigger_types": list(row["trigger_types"] or []),
        "metadata_file": row["metadata_file"],
    }
    if row["poll_interval"] is not None:
        doc["poll_interval"] = row["poll_interval"]
    return doc


def _views(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    paths = store.pack_paths(platform(request).db, sorted({r["pack"] for r in rows}))
    return [project(view(r, paths.get(r["pack"])), request) for r in rows]


async def list_sensors(request: Request) -> Response:
    db = platform(request).db
    pack = request.query_params.get("pack") or None
    name = request.query_params.get("name") or None
    enabled = query_filter_bool(request, "enabled")
    limit = query_limit(request, None)
    offset = query_int(request, "offset", 0) or 0

    def read() -> tuple[list[dict[str, Any]], int]:
        rows, total = store.list_sensors(db, pack, name, enabled, limit, offset)
        return _views(request, rows), total

    docs, total = await in_db(request, read)
    return json_response(docs, headers={"X-Total-Count": str(total)})


def _ref(request: Request) -> str:
    return str(request.path_params["ref_or_id"])


async def get_sensor(request: Request) -> Response:
    ref = _ref(request)

    def read() -> dict[str, Any]:
        row = store.get_sensor(platform(request).db, ref)
        if row is None:
            raise ApiError(404, f'Sensor "{ref}" cannot be found (a sensor ref such as '
                                'pack.SensorClass, or an id).')
        return _views(request, [row])[0]

    return json_response(await in_db(request, read))


async def put_sensor(request: Request) -> Response:
    ref = _ref(request)
    body = await read_object(request)
    unknown = sorted(str(k) for k in body if k not in _FIELDS)
    if unknown:
        raise ApiError(400, f"Sensor {ref}: unknown field(s) {', '.join(unknown)} (a sensor "
                            f"has {', '.join(sorted(_FIELDS))}).")
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(400, f"Sensor {ref}: 'enabled' must be true or false (the only "
                            f"field that can change), not {enabled!r}.")
    db = platform(request).db

    def change() -> dict[str, Any]:
        row = store.get_sensor(db, ref)
        if row is None:
            raise ApiError(404, f'Sensor "{ref}" cannot be found.')
        for name in ("ref", "pack", "name"):
            given = body.get(name)
            if given is not None and given != row[name]:
                raise ApiError(400, f"Sensor {row['ref']}: '{name}' cannot change "
                                    f"({given!r} given, {row[name]!r} registered).")
        changed = store.set_enabled(db, str(row["id"]), enabled)
        if changed is None:
            raise ApiError(404, f'Sensor "{ref}" cannot be found.')
        return _views(request, [changed])[0]

    return json_response(await in_db(request, change, commits=True))


# (path, endpoint, methods): mounted by the platform app's route table.
ROUTES: tuple[tuple[str, Endpoint, list[str]], ...] = (
    ("/v1/sensortypes", list_sensors, ["GET"]),
    ("/v1/sensortypes/{ref_or_id}", get_sensor, ["GET"]),
    ("/v1/sensortypes/{ref_or_id}", put_sensor, ["PUT"]),
)


def routes() -> list[tuple[str, Endpoint, list[str]]]:
    """This feature's route table, mounted by the platform app (`api.app.FEATURES`)."""
    return list(ROUTES)
