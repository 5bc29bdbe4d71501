"""``/v1/rules`` and ``/v1/ruleenforcements``: StackStorm's rule API, thin handlers over
:mod:`.model` (checks and shapes) and :mod:`.store`.

A rule created or replaced here runs as the requester (``context.user``) unless it names
its user; it is refused with a 400 naming the field when its trigger type is unknown, its
criteria use an unknown operator, or its action is missing or not registered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
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
    query_time,
    read_object,
    user_of,
)
from levante.platform.core import store as core_store
from levante.platform.rules import model
from levante.platform.rules import store as rule_store
from levante.platform.triggers import store as trigger_store

Row = dict[str, Any]


def _rule_or_404(request: Request) -> Row:
    ref = str(request.path_params["ref_or_id"])
    found = rule_store.get_rule(platform(request).db, ref)
    if found is None:
        raise ApiError(404, f'Rule "{ref}" cannot be found.')
    return found


async def list_rules(request: Request) -> Response:
    q = request.query_params
    rows, total = rule_store.list_rules(
        platform(request).db, pack=q.get("pack") or None, name=q.get("name") or None,
        enabled=query_filter_bool(request, "enabled"),
        trigger_type=q.get("trigger_type") or q.get("trigger") or None,
        action=q.get("action") or None, limit=query_limit(request, 50),
        offset=query_int(request, "offset", 0) or 0)
    return json_response([project(model.view(r), request) for r in rows],
                         headers={"X-Total-Count": str(total)})


async def get_rule(request: Request) -> Response:
    return json_response(project(model.view(_rule_or_404(request)), request))


def _checked(request: Request, body: Row, metadata_file: str = "",
             user: str | None = None) -> model.Rule:
    """The rule of ``body`` (400 naming the field); ``user``: whom it runs as when its
    context names nobody (by default the requester)."""
    db = platform(request).db
    try:
        rule = model.checked(body, trigger_type=lambda ref: trigger_store.get_trigger_type(
            db, ref), user=user_of(request) if user is None else user,
            metadata_file=metadata_file)
    except model.RuleError as exc:
        raise ApiError(400, str(exc)) from None
    if core_store.get_action(db, rule.action["ref"]) is None:
        raise ApiError(400, f"'action.ref': action \"{rule.action['ref']}\" is not "
                            "registered.")
    return rule


async def create_rule(request: Request) -> Response:
    rule = _checked(request, await read_object(request))
    db = platform(request).db
    if rule_store.ref_taken(db, rule.ref):
        raise ApiError(409, f'Rule "{rule.ref}" exists already.')
    try:
        row = await in_db(request, lambda: rule_store.save_rule(db, rule), commits=True)
    except IntegrityError:  # created meanwhile by another request
        raise ApiError(409, f'Rule "{rule.ref}" exists already.') from None
    return json_response(model.view(row), 201)


async def update_rule(request: Request) -> Response:
    found = _rule_or_404(request)
    body = await read_object(request)
    # The rule keeps its user unless the body names one: its creator's, or none for a
    # pack's rule ([rulesengine] system_user), which also stays its file's (removed
    # with it), whatever is changed here.
    pack_file = found["metadata_file"] or ""
    kept = (found["context"] or {}).get("user") or ("" if pack_file else user_of(request))
    rule = _checked(request, body, pack_file, kept)
    db = platform(request).db
    if rule_store.ref_taken(db, rule.ref, other_than=found["id"]):
        raise ApiError(409, f'Rule "{rule.ref}" exists already.')
    try:
        row = await in_db(request, lambda: rule_store.save_rule(db, rule, found["id"]),
                          commits=True)
    except IntegrityError:  # its new ref taken meanwhile by another request
        raise ApiError(409, f'Rule "{rule.ref}" exists already.') from None
    return json_response(model.view(row))


async def delete_rule(request: Request) -> Response:
    found = _rule_or_404(request)
    db = platform(request).db
    await in_db(request, lambda: rule_store.delete_rule(db, found["id"]), commits=True)
    return Response(status_code=204)


async def list_enforcements(request: Request) -> Response:
    q = request.query_params
    rows, total = rule_store.list_enforcements(
        platform(request).db, rule_ref=q.get("rule_ref") or None,
        rule_id=q.get("rule_id") or None, execution=q.get("execution") or None,
        trigger_instance=q.get("trigger_instance") or None,
        after=query_time(request, "enforced_at_gt") or query_time(request, "timestamp_gt"),
        before=query_time(request, "enforced_at_lt") or query_time(request, "timestamp_lt"),
        limit=query_limit(request, 50), offset=query_int(request, "offset", 0) or 0)
    return json_response([project(model.enforcement_view(r), request) for r in rows],
                         headers={"X-Total-Count": str(total)})


async def get_enforcement(request: Request) -> Response:
    enforcement_id = str(request.path_params["id"])
    found = rule_store.get_enforcement(platform(request).db, enforcement_id)
    if found is None:
        raise ApiError(404, f'Rule enforcement "{enforcement_id}" cannot be found.')
    return json_response(project(model.enforcement_view(found), request))


ROUTES: tuple[tuple[str, Endpoint, list[str]], ...] = (
    ("/v1/rules", list_rules, ["GET"]),
    ("/v1/rules", create_rule, ["POST"]),
    ("/v1/rules/views", list_rules, ["GET"]),
    ("/v1/rules/{ref_or_id}", get_rule, ["GET"]),
    ("/v1/rules/{ref_or_id}", update_rule, ["PUT"]),
    ("/v1/rules/{ref_or_id}", delete_rule, ["DELETE"]),
    ("/v1/ruleenforcements", list_enforcements, ["GET"]),
    ("/v1/ruleenforcements/views", list_enforcements, ["GET"]),
    ("/v1/ruleenforcements/{id}", get_enforcement, ["GET"]),
)


def routes() -> list[tuple[str, Endpoint, list[str]]]:
    """This feature's route table, mounted by the platform app (`api.app.FEATURES`)."""
    return list(ROUTES)
