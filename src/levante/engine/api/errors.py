"""Errors as Mistral answers them: ``{"faultstring", "debuginfo", "error_code"}``.

Every exception a handler lets out is mapped here to a status code; anything unknown
becomes a 500 with a generic message (and a log line), never a traceback in the body.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from starlette.requests import ClientDisconnect

from levante.db import faults
from levante.engine.api.response import JSONResponse
from levante.engine.store.definitions import (
    DuplicateError,
    InvalidRequest,
    NotFound,
)
from levante.engine.store.queries import QueryError

log = logging.getLogger("levante.engine.api")


class ApiError(Exception):
    """An error with its HTTP status, raised by handlers for bad requests."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def fault(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"faultstring": message, "debuginfo": None, "error_code": status}, status_code=status,
        headers=headers,
    )


def unavailable() -> JSONResponse:
    """503: the database refuses writes for now (levante.db.faults)."""
    return fault(503, faults.MESSAGE, {"Retry-After": str(faults.RETRY_AFTER_SECONDS)})


def _by_name(exc: BaseException) -> int | None:
    """Status of exceptions of other engine modules, matched by class name so that the
    API does not need them importable (the runtime and language are optional here)."""
    for cls in type(exc).__mro__:
        name = cls.__name__
        if name in ("NotFound", "UnknownAction", "ExecutionNotFound"):
            return 404
        if name in ("ValidationError", "InvalidStateTransition", "InputError",
                    "ActionInputError", "ExpressionError", "InvalidInput"):
            return 400
        if name in ("Duplicate", "DuplicateError", "Conflict"):
            return 409
    return None


def error_response(exc: BaseException) -> JSONResponse:
    if isinstance(exc, StatementError | InterfaceError) and faults.refuses_writes(exc):
        log.warning("the database refuses writes: %s", type(exc).__name__)
        return unavailable()
    if isinstance(exc, ApiError):
        return fault(exc.status, exc.message)
    if isinstance(exc, ClientDisconnect):  # the client gave up (a timeout): nobody reads this
        log.info("the client went away before its request was read")
        return fault(400, "The client went away before its request was read")
    if isinstance(exc, NotFound):
        return fault(404, str(exc))
    if isinstance(exc, DuplicateError):
        return fault(409, str(exc))
    status = getattr(exc, "http_status", None)  # e.g. the runtime's NotAllowed: 403
    if isinstance(exc, InvalidRequest) and isinstance(status, int):
        return fault(status, str(exc))
    if isinstance(exc, InvalidRequest | QueryError):
        return fault(400, str(exc))
    if isinstance(exc, IntegrityError):
        return fault(409, "Duplicate entry: an object with the same name or id already exists")
    if isinstance(exc, DataError) or (
        isinstance(exc, StatementError) and isinstance(exc.orig, ValueError | OverflowError)
    ) or isinstance(exc, OverflowError):
        return fault(400, "A value cannot be stored or compared: it is too long, out of "
                          "range or holds a NUL character")
    if isinstance(exc, OperationalError):
        log.warning("database unavailable: %s", type(exc).__name__)
        return fault(503, "The database is busy or unavailable; try again",
                     {"Retry-After": str(faults.RETRY_AFTER_SECONDS)})
    status = _by_name(exc)
    if status is not None:
        message = str(exc)
        if status == 404 and type(exc).__name__ == "UnknownAction":
            message = f"Action not found [name={message}]"
        return fault(status, message or type(exc).__name__)
    log.exception("unexpected error in the engine API")
    return fault(500, "Internal error; see the engine log")
