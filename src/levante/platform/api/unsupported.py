"""Routes of the StackStorm v1 API that the `st2` CLI can call and Levante does not serve.

st2client reads a 404 on a listing as "no items" and prints an empty table, so a missing
route would look like an empty datastore or rule set. Each of these answers 501 with
"<what> is not supported by Levante" instead, which the CLI prints as an error. A route
Levante serves is matched before these (they are mounted last), so serving a feature only
means adding its routes and dropping its line here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from levante.platform.api.common import fault

# (path prefix under the API root, what it is, as the message names it)
UNSUPPORTED: tuple[tuple[str, str], ...] = (
    ("/v1/ruletypes", "Rule types"),
    ("/v1/policies", "Policies"),
    ("/v1/policytypes", "Policy types"),
    ("/v1/actionalias", "Action aliases"),
    ("/v1/aliasexecution", "Action alias executions"),
    ("/v1/traces", "Traces"),
    ("/v1/rbac", "RBAC"),
    ("/v1/service_registry", "The service registry"),
    ("/v1/workflows", "Workflow inspection"),
    ("/v1/packs/install", "Installing packs over the API"),
    ("/v1/packs/uninstall", "Uninstalling packs over the API"),
    ("/v1/packs/index", "The pack index"),
    ("/v1/packs/views", "Pack file views"),
)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def message(path: str) -> str | None:
    """The 501 message for `path`, or None when Levante serves it (or nothing claims it)."""
    for prefix, what in UNSUPPORTED:
        if path == prefix or path.startswith(prefix + "/"):
            return f"{what} is not supported by Levante."
    return None


async def not_supported(request: Request) -> Response:
    text = message(request.url.path) or "This route is not supported by Levante."
    return fault(501, text)


def routes() -> list[Route]:
    """One catch-all route per prefix: the prefix itself and everything under it."""
    table: list[Route] = []
    for prefix, _what in UNSUPPORTED:
        table.append(Route(prefix, not_supported, methods=METHODS))
        table.append(Route(prefix + "/{rest:path}", not_supported, methods=METHODS))
    return table
