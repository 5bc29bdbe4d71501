"""The OpenAPI 3 description of API v1, served at /v1/openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from levante import __version__
from levante.platform.api.common import json_response

_OBJ: dict[str, Any] = {"type": "object"}
_LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
_FAULT: dict[str, Any] = {
    "type": "object",
    "properties": {"faultstring": {"type": "string"}},
    "required": ["faultstring"],
}


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _p(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_INCLUDE = _q("include_attributes", {"type": "string"}, "Comma-separated attributes to keep.")
_EXCLUDE = _q("exclude_attributes", {"type": "string"}, "Comma-separated attributes to drop.")
_LIMIT = _q("limit", {"type": "integer", "minimum": -1}, "Items at most (-1: all).")
_OFFSET = _q("offset", {"type": "integer", "minimum": 0})


def _op(summary: str, ok: int = 200, schema: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        text: bool = False) -> dict[str, Any]:
    content = ({"text/plain": {"schema": {"type": "string"}}} if text
               else {"application/json": {"schema": schema or _OBJ}})
    responses: dict[str, Any] = {
        str(ok): {"description": "Success", "content": content} if ok != 204
        else {"description": "Deleted"},
        "400": {"description": "Bad input",
                "content": {"application/json": {"schema": _FAULT}}},
        "401": {"description": "No valid API key or token",
                "content": {"application/json": {"schema": _FAULT}}},
        "404": {"description": "Not found",
                "content": {"application/json": {"schema": _FAULT}}},
    }
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    return op


_EXECUTION_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string"},
        "parameters": {"type": "object"},
        "context": {"type": "object"},
        "parent": {"type": "string"},
        "notify": {"type": "object", "description": "StackStorm's notify block "
                                                    "(on-complete, on-success, on-failure)."},
        "id": {"type": "string", "pattern": "^[0-9a-f]{24}$",
               "description": "Chosen by the client: a repeated request answers the "
                              "execution the first created (200) instead of a second."},
    },
    "required": ["action"],
}
_RULE_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "pack": {"type": "string"},
        "description": {"type": "string"}, "enabled": {"type": "boolean"},
        "trigger": {"type": "object", "properties": {
            "type": {"type": "string"}, "parameters": {"type": "object"}}},
        "criteria": {"type": "object"},
        "action": {"type": "object", "properties": {
            "ref": {"type": "string"}, "parameters": {"type": "object"}}},
        "context": {"type": "object"}, "tags": {"type": "array"},
    },
    "required": ["name", "trigger", "action"],
}
_ACTION_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "pack": {"type": "string"},
        "runner_type": {"type": "string"}, "description": {"type": "string"},
        "entry_point": {"type": "string"}, "enabled": {"type": "boolean"},
        "parameters": {"type": "object"},
    },
    "required": ["name", "pack", "runner_type"],
}


def build() -> dict[str, Any]:
    ref, eid, kid = _p("ref"), _p("id"), _p("id")
    paths: dict[str, Any] = {
        "/v1/actions": {
            "get": _op("List actions", schema=_LIST, params=[
                _q("pack", {"type": "string"}), _q("name", {"type": "string"}),
                _LIMIT, _OFFSET, _INCLUDE, _EXCLUDE]),
            "post": _op("Create an action", 201, body=_ACTION_BODY),
        },
        "/v1/actions/{ref}": {
            "get": _op("Get an action by ref or id", params=[ref, _INCLUDE, _EXCLUDE]),
            "put": _op("Replace an action", params=[ref], body=_ACTION_BODY),
            "delete": _op("Delete an action", 204, params=[ref]),
        },
        "/v1/actions/views/parameters/{ref}": {
            "get": _op("The merged parameter schema of an action", params=[ref]),
        },
        "/v1/runnertypes": {
            "get": _op("List runner types", schema=_LIST,
                       params=[_q("name", {"type": "string"}), _INCLUDE, _EXCLUDE]),
        },
        "/v1/runnertypes/{name}": {"get": _op("Get a runner type", params=[_p("name")])},
        "/v1/executions": {
            "get": _op("List executions (X-Total-Count header)", schema=_LIST, params=[
                _q("action", {"type": "string"}), _q("status", {"type": "string"}),
                _q("parent", {"type": "string"}), _q("user", {"type": "string"}),
                _LIMIT, _OFFSET, _q("sort_desc", {"type": "boolean"}),
                _q("sort_asc", {"type": "boolean"}), _INCLUDE, _EXCLUDE]),
            "post": _op("Run an action", 201, body=_EXECUTION_BODY),
        },
        "/v1/executions/{id}": {
            "get": _op("Get an execution", params=[eid, _INCLUDE, _EXCLUDE]),
            "put": _op("Change an execution's status", params=[eid], body={
                "type": "object", "properties": {"status": {"type": "string"},
                                                 "result": {}},
                "required": ["status"]}),
            "delete": _op("Cancel an execution", params=[eid]),
        },
        "/v1/executions/{id}/children": {
            "get": _op("Child executions", schema=_LIST,
                       params=[eid, _q("depth", {"type": "integer", "minimum": -1})]),
        },
        "/v1/executions/{id}/output": {
            "get": _op("Output lines as text", params=[eid, _q("output_type", {
                "type": "string", "enum": ["stdout", "stderr", "other"]})], text=True),
        },
        "/v1/executions/{id}/re_run": {
            "post": _op("Run again, parameters maybe changed; with tasks, re-run those "
                        "failed tasks in the same workflow execution", 201, params=[eid], body={
                "type": "object", "properties": {
                    "parameters": {"type": "object"},
                    "tasks": {"type": "array", "items": {"type": "string"}},
                    "reset": {"type": "array", "items": {"type": "string"}}}}),
        },
        "/v1/packs": {"get": _op("List packs", schema=_LIST)},
        "/v1/packs/{ref}": {"get": _op("Get a pack", params=[_p("ref")])},
        "/v1/configs": {"get": _op("List pack configs (secrets masked)", schema=_LIST)},
        "/v1/configs/{pack}": {"get": _op("Get a pack's config (secrets masked)",
                                          params=[_p("pack")])},
        "/v1/config_schemas": {"get": _op("List pack config schemas", schema=_LIST)},
        "/v1/config_schemas/{pack}": {"get": _op("Get a pack's config schema",
                                                 params=[_p("pack")])},
        "/v1/packs/register": {
            "post": _op("Register packs from the pack folders", body={
                "type": "object",
                "properties": {"packs": {"type": "array", "items": {"type": "string"}}}}),
        },
        "/v1/apikeys": {
            "get": _op("List API keys", schema=_LIST),
            "post": _op("Create an API key (shown once)", 201, body={
                "type": "object", "properties": {"user": {"type": "string"},
                                                 "metadata": {"type": "object"}}}),
        },
        "/v1/apikeys/{id}": {
            "get": _op("Get an API key", params=[kid]),
            "put": _op("Enable or disable an API key", params=[kid], body={
                "type": "object", "properties": {"enabled": {"type": "boolean"}},
                "required": ["enabled"]}),
            "delete": _op("Delete an API key", 204, params=[kid]),
        },
        "/v1/rules": {
            "get": _op("List rules", schema=_LIST, params=[
                _q("pack", {"type": "string"}), _q("name", {"type": "string"}),
                _q("enabled", {"type": "string"}), _LIMIT, _OFFSET, _INCLUDE, _EXCLUDE]),
            "post": _op("Create a rule", 201, body=_RULE_BODY),
        },
        "/v1/rules/{ref}": {
            "get": _op("Get a rule by ref or id", params=[ref, _INCLUDE, _EXCLUDE]),
            "put": _op("Replace a rule", params=[ref], body=_RULE_BODY),
            "delete": _op("Delete a rule", 204, params=[ref]),
        },
        "/v1/ruleenforcements": {
            "get": _op("List rule enforcements, newest first", schema=_LIST, params=[
                _q("rule_ref", {"type": "string"}), _q("execution", {"type": "string"}),
                _q("trigger_instance", {"type": "string"}),
                _q("enforced_at_gt", {"type": "string"}), _LIMIT, _OFFSET]),
        },
        "/v1/triggertypes": {
            "get": _op("List trigger types", schema=_LIST, params=[
                _q("pack", {"type": "string"}), _LIMIT, _OFFSET]),
            "post": _op("Create a trigger type", 201, body={
                "type": "object", "properties": {
                    "name": {"type": "string"}, "pack": {"type": "string"},
                    "description": {"type": "string"}, "payload_schema": {"type": "object"},
                    "parameters_schema": {"type": "object"}, "tags": {"type": "array"}},
                "required": ["name"]}),
        },
        "/v1/triggertypes/{ref}": {
            "get": _op("Get a trigger type by ref or id", params=[ref]),
        },
        "/v1/triggers": {
            "get": _op("List triggers", schema=_LIST, params=[
                _q("type", {"type": "string"}), _LIMIT, _OFFSET]),
            "post": _op("Create a trigger", 201, body={
                "type": "object", "properties": {
                    "type": {"type": "string"}, "name": {"type": "string"},
                    "pack": {"type": "string"}, "parameters": {"type": "object"}},
                "required": ["type"]}),
        },
        "/v1/triggerinstances": {
            "get": _op("List trigger instances, newest first", schema=_LIST, params=[
                _q("trigger", {"type": "string"}), _q("status", {"type": "string"}),
                _q("timestamp_gt", {"type": "string"}),
                _q("timestamp_lt", {"type": "string"}), _LIMIT, _OFFSET]),
        },
        "/v1/triggerinstances/{id}": {"get": _op("Get a trigger instance", params=[eid])},
        "/v1/triggerinstances/{id}/re_emit": {
            "post": _op("Record the instance again for the rules to match", params=[eid]),
        },
        "/v1/webhooks": {"get": _op("List the webhooks (triggers of core.st2.webhook)",
                                    schema=_LIST)},
        "/v1/webhooks/{url}": {
            "get": _op("Get the webhook of a URL", params=[_p("url")]),
            "post": _op("Post to a webhook (st2: the generic one, with trigger and "
                        "payload)", 202, params=[_p("url")], body={"type": "object"}),
        },
        "/v1/timers": {"get": _op("List the timer triggers", schema=_LIST, params=[
            _q("timer_type", {"type": "string"})])},
        "/v1/timers/{ref}": {"get": _op("Get a timer trigger by ref or id", params=[ref])},
        "/v1/inquiries": {"get": _op("List the inquiries that wait for an answer",
                                     schema=_LIST, params=[_LIMIT, _OFFSET])},
        "/v1/inquiries/{id}": {
            "get": _op("Get an inquiry that waits", params=[eid]),
            "put": _op("Answer an inquiry", params=[eid], body={
                "type": "object", "properties": {"id": {"type": "string"},
                                                 "response": {"type": "object"}},
                "required": ["response"]}),
        },
        "/v1/sensortypes": {"get": _op("List pack sensors", schema=_LIST, params=[
            _q("pack", {"type": "string"}), _q("name", {"type": "string"}),
            _q("enabled", {"type": "boolean"}), _LIMIT, _OFFSET, _INCLUDE, _EXCLUDE])},
        "/v1/sensortypes/{ref_or_id}": {
            "get": _op("Get a sensor", params=[_p("ref_or_id")]),
            "put": _op("Enable or disable a sensor", params=[_p("ref_or_id")], body={
                "type": "object", "properties": {"enabled": {"type": "boolean"}},
                "required": ["enabled"]}),
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Levante platform API", "version": __version__,
                 "description": "StackStorm v1 compatible automation API."},
        "components": {"securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "St2-Api-Key"},
            "Token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        }},
        "security": [{"ApiKey": []}, {"Token": []}],
        "paths": paths,
    }


_DOCUMENT = build()


async def document(request: Request) -> Response:
    return json_response(_DOCUMENT)


async def index(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/ui/")  # a browser: the web UI
    return json_response({"name": "levante", "version": __version__,
                          "api": "/v1", "openapi": "/v1/openapi.json"})
