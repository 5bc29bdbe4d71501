"""The ``inquirer`` runner (StackStorm's): its run records the inquiry, leaves the
execution ``pending`` (it holds no worker while it waits) and pauses the root workflow
above it; the answer or the TTL sweep ends it (:mod:`levante.platform.inquiries.service`).
"""

from __future__ import annotations

import logging
from typing import Any

from levante.platform.core import store
from levante.platform.inquiries import answers, workflows
from levante.platform.inquiries import store as inquiry_store
from levante.platform.runners.action_chain import DATABASE
from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest

log = logging.getLogger("levante.platform.inquiries")

DEFAULT_TTL = 1440  # minutes (a day), as StackStorm's; the runner type: in the catalog


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{what}' must be a list of names (strings).")
    return list(value)


async def run_inquirer(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Record the inquiry and leave the execution pending; fail at once on bad
    parameters (a schema that is not one, a ttl below 0)."""
    del on_output
    db = DATABASE.get()
    if db is None:
        return RunOutcome("failed", {"error": "the inquirer runner needs the platform's "
                                              "database (it runs in the runner service)"})
    params = request.parameters
    try:
        schema = answers.checked_schema(params.get("schema"))
        users = _names(params.get("users"), "users")
        roles = _names(params.get("roles"), "roles")
        ttl = params.get("ttl", DEFAULT_TTL)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            raise ValueError(f"'ttl' must be a whole number of minutes, 0 or more, not "
                             f"{ttl!r}.")
    except ValueError as exc:
        return RunOutcome("failed", {"error": f"The inquiry cannot be asked: {exc}"})
    route = str(params.get("route") or "")
    result = {"schema": schema, "roles": roles, "users": users, "route": route, "ttl": ttl}
    execution_id = request.execution_id
    root = workflows.root_of(db, execution_id)
    inquiry_store.insert_inquiry(db, {
        "id": execution_id, "route": route, "ttl": ttl, "users": users, "roles": roles,
        "response_schema": schema, "root": root, "created_at": store.now()})
    if store.transition(db, execution_id, ["running"], "pending",
                        {"result": result, "claimed_by": None, "lease_until": None}) is None:
        return RunOutcome("running", None)  # canceled meanwhile: nothing more to record
    log.info("[%s] inquiry asked (route %r, ttl %s)", execution_id, route, ttl)
    if root is not None:
        workflows.pause(db, root)
    # "running": the runner service records nothing more; the answer or the sweep ends it.
    return RunOutcome("running", None)
