"""The engine's REST API, Mistral v2 compatible: `create_app(runtime)`.

Every handler is wrapped so that any exception becomes a Mistral fault body with the
right status; unknown paths and methods answer in the same shape.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from levante.engine.api import definitions as defs
from levante.engine.api import executions as exs
from levante.engine.api import keystone
from levante.engine.api.auth import EngineAuth
from levante.engine.api.errors import error_response, fault
from levante.engine.api.http import Db
from levante.engine.api.openapi import openapi_document
from levante.engine.core.runtime import EngineRuntime

Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Answer every failure of `handler` as a Mistral fault, never a bare 500."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            return error_response(exc)

    return wrapper


async def versions(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"versions": [
        {"id": "v2.0", "status": "CURRENT", "links": [{"href": f"{base}/v2", "rel": "self"}]}
    ]})


async def root_v2(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return JSONResponse({
        "uri": f"{base}/v2",
        "version": {"id": "v2.0", "status": "CURRENT",
                    "links": [{"href": f"{base}/v2", "rel": "self"}]},
    })


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(str(request.base_url).rstrip("/")))


def _r(path: str, handler: Handler, methods: list[str]) -> Route:
    return Route(path, guarded(handler), methods=methods)


ROUTES: list[Route] = [
    _r("/", versions, ["GET"]),
    _r("/v2", root_v2, ["GET"]),
    _r("/v2/", root_v2, ["GET"]),
    _r("/v2/openapi.json", openapi, ["GET"]),
    # the part of Keystone v3 that keystoneauth (the mistral CLI) uses
    _r("/identity", keystone.versions, ["GET"]),
    _r("/identity/", keystone.versions, ["GET"]),
    _r("/identity/v3", keystone.version_v3, ["GET"]),
    _r("/identity/v3/", keystone.version_v3, ["GET"]),
    _r("/identity/v3/auth/tokens", keystone.create_token, ["POST"]),
    # workbooks
    _r("/v2/workbooks/validate", defs.validate_workbook, ["POST"]),
    _r("/v2/workbooks", defs.list_workbooks, ["GET"]),
    _r("/v2/workbooks", defs.create_workbook, ["POST"]),
    _r("/v2/workbooks", defs.update_workbook, ["PUT"]),
    _r("/v2/workbooks/{name}", defs.get_workbook, ["GET"]),
    _r("/v2/workbooks/{name}", defs.delete_workbook, ["DELETE"]),
    # workflows
    _r("/v2/workflows/validate", defs.validate_workflows, ["POST"]),
    _r("/v2/workflows", defs.list_workflows, ["GET"]),
    _r("/v2/workflows", defs.create_workflows, ["POST"]),
    _r("/v2/workflows", defs.update_workflows, ["PUT"]),
    _r("/v2/workflows/{identifier}", defs.get_workflow, ["GET"]),
    _r("/v2/workflows/{identifier}", defs.update_workflow, ["PUT"]),
    _r("/v2/workflows/{identifier}", defs.delete_workflow, ["DELETE"]),
    # actions
    _r("/v2/actions/validate", defs.validate_actions, ["POST"]),
    _r("/v2/actions", defs.list_actions, ["GET"]),
    _r("/v2/actions", defs.create_actions, ["POST"]),
    _r("/v2/actions", defs.update_actions, ["PUT"]),
    _r("/v2/actions/{identifier}", defs.get_action, ["GET"]),
    _r("/v2/actions/{identifier}", defs.update_actions, ["PUT"]),
    _r("/v2/actions/{identifier}", defs.delete_action, ["DELETE"]),
    _r("/v2/actions/{identifier}/", defs.get_action, ["GET"]),
    _r("/v2/actions/{identifier}/", defs.delete_action, ["DELETE"]),
    _r("/v2/actions/{identifier}/{namespace}", defs.get_action, ["GET"]),
    _r("/v2/actions/{identifier}/{namespace}", defs.delete_action, ["DELETE"]),
    # executions
    _r("/v2/executions", exs.list_executions, ["GET"]),
    _r("/v2/executions", exs.create_execution, ["POST"]),
    _r("/v2/executions/{id}", exs.get_execution, ["GET"]),
    _r("/v2/executions/{id}", exs.update_execution, ["PUT"]),
    _r("/v2/executions/{id}", exs.delete_execution, ["DELETE"]),
    _r("/v2/executions/{id}/tasks", exs.execution_tasks, ["GET"]),
    _r("/v2/executions/{id}/executions", exs.sub_executions, ["GET"]),
    _r("/v2/executions/{id}/report", exs.execution_report, ["GET"]),
    # tasks
    _r("/v2/tasks", exs.list_tasks, ["GET"]),
    _r("/v2/tasks/{id}", exs.get_task, ["GET"]),
    _r("/v2/tasks/{id}", exs.update_task, ["PUT"]),
    _r("/v2/tasks/{id}/action_executions", exs.task_action_executions, ["GET"]),
    _r("/v2/tasks/{id}/executions", exs.task_sub_executions, ["GET"]),
    # action executions
    _r("/v2/action_executions", exs.list_action_executions, ["GET"]),
    _r("/v2/action_executions", exs.run_action, ["POST"]),
    _r("/v2/action_executions/{id}", exs.get_action_execution, ["GET"]),
    _r("/v2/action_executions/{id}", exs.update_action_execution, ["PUT"]),
    # environments
    _r("/v2/environments", defs.list_environments, ["GET"]),
    _r("/v2/environments", defs.create_environment, ["POST"]),
    _r("/v2/environments", defs.update_environment, ["PUT"]),
    _r("/v2/environments/{name}", defs.get_environment, ["GET"]),
    _r("/v2/environments/{name}", defs.delete_environment, ["DELETE"]),
    # cron triggers
    _r("/v2/cron_triggers", defs.list_cron_triggers, ["GET"]),
    _r("/v2/cron_triggers", defs.create_cron_trigger, ["POST"]),
    _r("/v2/cron_triggers/{name}", defs.get_cron_trigger, ["GET"]),
    _r("/v2/cron_triggers/{name}", defs.delete_cron_trigger, ["DELETE"]),
]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return fault(404, f"Resource not found: {request.url.path}")
    if status == 405:
        return fault(405, f"Method {request.method} not allowed on {request.url.path}")
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
    return fault(status, str(detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


def create_app(runtime: EngineRuntime, auth: bool | None = None) -> Starlette:
    """The Mistral v2 API over `runtime` (its database, its settings; the configuration in
    them is kept for handlers that need it).

    Requests are authenticated when `auth` is true; by default as ``[engine] auth`` says
    (on unless turned off), and off for an app made without a configuration (tests of
    the API alone)."""
    config = runtime.settings.config
    db_engine = runtime.db
    if auth is None:
        auth = config.get_bool("engine", "auth") if config is not None else False
    app = Starlette(
        routes=list(ROUTES),
        middleware=[Middleware(EngineAuth, db=db_engine, enabled=auth)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.db = Db(runtime)
    app.state.config = config
    app.router.redirect_slashes = False
    return app

