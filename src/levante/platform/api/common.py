"""What every handler shares: the platform context, JSON in and out, errors, query values."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from levante import jsontext
from levante.config import Config, parse_bool
from levante.contract.signing import signing_secret
from levante.db import faults

T = TypeVar("T")

Endpoint = Callable[[Request], Awaitable[Response]]
# (path, endpoint, methods): what the core and each feature package's `routes()` give the app
RouteTable = list[tuple[str, Endpoint, list[str]]]


@dataclass
class Platform:
    """What handlers need, kept on ``app.state.platform``."""

    config: Config
    db: Engine
    web_base: str
    allow_sudo: bool
    default_timeout: int
    packs_paths: list[str]
    auth_enabled: bool
    token_ttl: int
    _event_secret: str | None = field(default=None, init=False, repr=False)
    # The threads that run this app's committing work (`in_db`): made at its first
    # commit, shut down with the app (and made again if it serves again).
    _committers: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def committers(self) -> ThreadPoolExecutor:
        """The app's committer threads (called on the event loop's thread only)."""
        if self._committers is None:
            self._committers = ThreadPoolExecutor(max_workers=16,
                                                  thread_name_prefix="levante-api-db")
        return self._committers

    def close(self) -> None:
        """Let the app's committer threads end (the app has stopped serving)."""
        pool, self._committers = self._committers, None
        if pool is not None:
            pool.shutdown(wait=False)

    def event_secret(self) -> str:
        """The secret the engine signs its events with (read, or made, at the first event
        this app receives; kept here, by the app that uses it)."""
        if self._event_secret is None:
            self._event_secret = signing_secret(self.config)
        return self._event_secret


async def in_db(request: Request, func: Callable[[], T], commits: bool = False) -> T:
    """Run database work: inline, or in a worker thread for work that ``commits`` on
    PostgreSQL.

    A read is one round trip (a fraction of a millisecond on loopback): inline is cheaper
    than a hop to a thread and back. A commit on PostgreSQL also waits for the disk:
    in a thread, the event loop serves other requests meanwhile and concurrent commits
    share a flush. SQLite: always inline (its commits do not wait for the disk).
    """
    if not commits:
        return func()
    found = platform(request)
    if found.db.dialect.name == "sqlite":
        return func()
    # A plain executor: lighter than anyio's (no capacity limiter, no checkpoints).
    return await asyncio.get_running_loop().run_in_executor(found.committers(), func)


class ApiError(Exception):
    """An error answered as ``{"faultstring": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def platform(request: Request) -> Platform:
    found: Platform = request.app.state.platform
    return found


def user_of(request: Request) -> str:
    return str(request.scope.get("levante_user") or "levante")


def dumps(data: Any) -> bytes:
    return jsontext.safe_dumps(data, default=str)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(data), status_code=status, headers=headers,
                    media_type="application/json")


def fault(status: int, message: str) -> Response:
    return json_response({"faultstring": message}, status)


def unavailable() -> Response:
    """503: the database refuses writes for now (levante.db.faults)."""
    return json_response({"faultstring": faults.MESSAGE}, 503,
                         {"Retry-After": str(faults.RETRY_AFTER_SECONDS)})


async def read_body(request: Request) -> bytes:
    """The request's body; 413 past ``jsontext.MAX_BODY``."""
    raw = await request.body()
    if len(raw) > jsontext.MAX_BODY:
        raise ApiError(413, f"The request body is larger than {jsontext.MAX_BODY} bytes.")
    return raw


async def read_json(request: Request, required: bool = True,
                    name: str = "The request body") -> Any:
    """The request's JSON body (None when empty and not ``required``); 400 for malformed
    JSON, 413 past ``jsontext.MAX_BODY``. ``name`` starts the error messages."""
    raw = await read_body(request)
    if not raw.strip():
        if required:
            raise ApiError(400, f"{name} is empty: a JSON object is expected.")
        return None
    try:
        body = jsontext.loads(raw)
    except jsontext.BadJson as exc:
        raise ApiError(400, f"{name} cannot be accepted: {exc}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"{name} is not valid JSON: {exc}") from None
    return body


async def read_object(request: Request, required: bool = True) -> dict[str, Any]:
    body = await read_json(request, required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


# Execution ids: the platform's own (24 hex digits) or a UUID; nothing else can name one.
_EXECUTION_ID = re.compile(
    r"^(?:[0-9a-fA-F]{24}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$")


def execution_id(value: str, what: str = "execution id") -> str:
    """``value`` if it has the form of an execution id, else 400 naming ``what``."""
    if not _EXECUTION_ID.match(value):
        shown = json.dumps(value[:80])
        raise ApiError(400, f"{what} {shown} is not a valid execution id (24 hexadecimal "
                            "digits, or a UUID).")
    return value


def path_execution_id(request: Request) -> str:
    """The execution id in the request's path (400 when it cannot be one)."""
    return execution_id(str(request.path_params["id"]), "The path's execution id")


MAX_QUERY_INT = 2**31 - 1


def query_int(
    request: Request, name: str, default: int | None, minimum: int = 0
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter '{name}' must be an integer, not {raw!r}.") from None
    if value < minimum:
        raise ApiError(400, f"Query parameter '{name}' must be at least {minimum}.")
    if value > MAX_QUERY_INT:
        raise ApiError(400, f"Query parameter '{name}' must be at most {MAX_QUERY_INT}.")
    return value


def query_time(request: Request, name: str) -> datetime | None:
    """An ISO 8601 timestamp (``2026-01-31T12:00:00Z``), in UTC; without a zone it is UTC."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ApiError(400, f"Query parameter '{name}' must be an ISO 8601 timestamp such as "
                            f"2026-01-31T12:00:00Z, not {raw!r}.") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    return raw.strip().lower() in ("1", "true", "yes", "on", "")


def query_filter_bool(request: Request, name: str) -> bool | None:
    """A yes/no filter (``?enabled=true``): None when absent or empty; a 400 naming the
    parameter for a word that is neither."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_bool(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter '{name}' must be true or false, not {raw!r}.") \
            from None


def query_limit(request: Request, default: int | None) -> int | None:
    """``limit``: a positive number, or -1/0 for every item."""
    value = query_int(request, "limit", default, minimum=-1)
    if value is not None and value <= 0:
        return None
    return value


def project(doc: dict[str, Any], request: Request) -> dict[str, Any]:
    """Apply ``include_attributes`` / ``exclude_attributes`` (dotted paths allowed)."""
    include = attr_list(request.query_params.get("include_attributes"))
    exclude = attr_list(request.query_params.get("exclude_attributes"))
    if include:
        kept: dict[str, Any] = {"id": doc.get("id")} if "id" in doc else {}
        for path in include:
            _copy_path(doc, kept, path.split("."))
        doc = kept
    for path in exclude:
        _drop_path(doc, path.split("."))
    return doc


def attr_list(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [a.strip() for a in raw.split(",") if a.strip()]


def _copy_path(src: dict[str, Any], dst: dict[str, Any], parts: list[str]) -> None:
    head = parts[0]
    if head not in src:
        return
    if len(parts) == 1 or not isinstance(src[head], dict):
        dst[head] = src[head]
        return
    inner = dst.get(head)
    if not isinstance(inner, dict):
        inner = {}
        dst[head] = inner
    _copy_path(src[head], inner, parts[1:])


def _drop_path(doc: dict[str, Any], parts: list[str]) -> None:
    head = parts[0]
    if head not in doc:
        return
    if len(parts) == 1:
        del doc[head]
    elif isinstance(doc[head], dict):
        doc[head] = dict(doc[head])
        _drop_path(doc[head], parts[1:])
