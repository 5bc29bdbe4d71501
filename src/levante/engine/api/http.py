"""Request plumbing shared by the handlers: database transactions off the event loop,
bodies, Mistral's JSON-or-JSON-string fields and the list parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlencode

import yaml
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from levante import jsontext
from levante.db.connect import writing
from levante.engine.api.errors import ApiError
from levante.engine.api.response import JSONResponse
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store.queries import MAX_LIMIT, Listing, ListRequest

T = TypeVar("T")
MAX_BODY = jsontext.MAX_BODY
LIST_PARAMS = frozenset({"marker", "limit", "sort_keys", "sort_dirs", "fields"})


class Db:
    """Runs store functions in a worker thread, in a read or a write transaction, and the
    operations of the app's engine runtime (`call`)."""

    def __init__(self, runtime: EngineRuntime) -> None:
        self.runtime = runtime
        self.engine: Engine = runtime.db

    def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.engine.connect() as conn:
            return fn(conn, *args, **kwargs)

    def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A write transaction by the runtime's `writer`: on SQLite the API's writes queue on
        the same in-process lock as the engine's steps instead of busy-waiting in SQLite."""
        with writing(self.engine) as conn:
            return fn(conn, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(self._read, fn, *args, **kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(self._write, fn, *args, **kwargs)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A function that manages its own transactions (the runtime's)."""
        return await run_in_threadpool(fn, *args, **kwargs)


def db_of(request: Request) -> Db:
    db: Db = request.app.state.db
    return db


async def raw_body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(413, f"The request body is larger than {MAX_BODY} bytes")
    return body


async def text_body(request: Request, what: str = "definition") -> str:
    """A YAML body as mistralclient sends it (text/plain); JSON {"definition": ...} too."""
    body = await raw_body(request)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"The {what} must be UTF-8 text") from None
    if "json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("definition"), str):
            text = data["definition"]
    if not text.strip():
        raise ApiError(400, f"The {what} is empty")
    _check_definition(text, what)
    return text


# YAML escapes that make a NUL character or a lone surrogate in a double-quoted scalar.
_YAML_BAD_ESCAPE = re.compile(r"\\(?:0|x00|u0000|U00000000|u[dD][89a-fA-F]|U0000[dD][89a-fA-F])")


def _check_definition(text: str, what: str) -> None:
    """A definition whose text, or whose YAML values, hold a NUL or a lone surrogate, or
    that nests deeper than jsontext.MAX_DEPTH: 400 naming where. The YAML is parsed here
    only when it may be one of those (a bad escape, many brackets or a deep indentation);
    the language parser reads it afterwards."""
    problem = jsontext.text_problem(text)
    if problem:
        raise ApiError(400, f"The {what} {problem}")
    limit = jsontext.MAX_DEPTH
    if not (_YAML_BAD_ESCAPE.search(text) or text.count("[") + text.count("{") > limit
            or any(len(line) - len(line.lstrip()) > limit for line in text.splitlines())):
        return
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ApiError(400, f"The {what} cannot be accepted: it is nested more than "
                            f"{limit} levels deep") from None
    except yaml.YAMLError:
        return  # the language parser says what is wrong with it
    try:
        jsontext.check(data)
    except jsontext.BadJson as exc:
        raise ApiError(400, f"The {what} cannot be accepted: {exc}") from None


async def json_body(request: Request, text: bool = True) -> dict[str, Any]:
    """The JSON object of the request, checked (jsontext): nested at most MAX_DEPTH deep
    and, unless not ``text`` (results that actions produced), without NUL characters or
    lone surrogates; 400 naming the field otherwise."""
    body = await raw_body(request)
    if not body.strip():
        return {}
    try:
        data = jsontext.loads(body, text=text)
    except jsontext.BadJson as exc:
        raise ApiError(400, f"The request body cannot be accepted: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return data


def json_field(data: Mapping[str, Any], name: str, kind: type = dict) -> Any:
    """A field Mistral takes as JSON or as a string of JSON; None when absent or empty."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = jsontext.loads(value, name)
        except jsontext.BadJson as exc:
            raise ApiError(400, f"The request body cannot be accepted: {exc}") from None
        except ValueError:
            raise ApiError(400, f"Field '{name}' is not valid JSON") from None
    if kind is not object and not isinstance(value, kind):
        raise ApiError(400, f"Field '{name}' must be a JSON {_kind_name(kind)}")
    return value


def _kind_name(kind: type) -> str:
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(kind, kind.__name__)


def str_field(data: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(400, f"Field '{name}' must be a string")
    problem = jsontext.text_problem(value)
    if problem:
        raise ApiError(400, f"Field '{name}' {problem}")
    return value


def query_str(request: Request, name: str, default: str = "") -> str:
    return request.query_params.get(name, default) or default


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise ApiError(400, f"Parameter '{name}' must be true or false")


def _csv(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


Encoder = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@cache
def field_names(encoder: Encoder) -> frozenset[str]:
    """The fields of the resource `encoder` makes (what `fields=` may name): a function of
    the encoder alone (one of `encode`'s), memoized."""
    return frozenset(encoder({}))


def list_request(
    request: Request, listing: Listing, ignored: Iterable[str] = (),
    encoder: Encoder | None = None,
) -> tuple[ListRequest, tuple[str, ...]]:
    """Mistral's list parameters: filters on fields, marker, limit, sort and fields.

    As Mistral, `fields` may only name fields of the resource (what `encoder` makes).
    """
    params = request.query_params
    skip = set(ignored)
    limit = None
    raw_limit = params.get("limit")
    if raw_limit not in (None, ""):
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiError(400, "Parameter 'limit' must be an integer") from None
        if limit < 0:
            raise ApiError(400, "Parameter 'limit' must not be negative")
        if limit == 0:
            limit = None
    filters: dict[str, str] = {}
    for key in params:
        if key in LIST_PARAMS or key in skip:
            continue
        if key not in listing.columns:
            known = ", ".join(sorted(set(listing.columns) | LIST_PARAMS | skip))
            raise ApiError(400, f"Unknown parameter '{key}' (known: {known})")
        filters[key] = params[key]
    fields = _csv(params.get("fields"))
    shown = field_names(encoder) if encoder is not None else frozenset(listing.columns)
    unknown = [name for name in fields if name not in shown and name not in skip]
    if unknown:
        raise ApiError(400, f"Unknown field '{unknown[0]}' in 'fields' "
                            f"(known: {', '.join(sorted(shown))})")
    req = ListRequest(
        filters=filters,
        marker=params.get("marker") or None,
        limit=limit,
        sort_keys=_csv(params.get("sort_keys")),
        sort_dirs=_csv(params.get("sort_dirs")),
    )
    return req, fields


def list_response(
    request: Request,
    key: str,
    items: list[dict[str, Any]],
    req: ListRequest,
    fields: tuple[str, ...],
) -> JSONResponse:
    """The collection body, with a `next` link when a full page came back (full at the
    limit used: the one asked for, at most MAX_LIMIT)."""
    body: dict[str, Any] = {key: items}
    if req.limit and items and len(items) >= min(req.limit, MAX_LIMIT):
        params = {k: v for k, v in request.query_params.items() if k != "marker"}
        params["marker"] = str(items[-1]["id"])
        base = str(request.url.replace(query="", fragment=""))
        body["next"] = f"{base}?{urlencode(params)}"
    return JSONResponse(body)


async def read_through(db: Db, fn: Callable[[Connection], T]) -> T:
    return await db.read(fn)
