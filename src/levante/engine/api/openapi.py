"""The OpenAPI 3 description of the engine API, served at /v2/openapi.json.

Built from a compact table of operations so that it stays beside the routes it describes.
"""

from __future__ import annotations

from typing import Any

_FAULT = {
    "type": "object",
    "properties": {
        "faultstring": {"type": "string"},
        "debuginfo": {"type": "string", "nullable": True},
        "error_code": {"type": "integer"},
    },
    "required": ["faultstring"],
}

_LIST = ["marker", "limit", "sort_keys", "sort_dirs", "fields"]

_OBJ: dict[str, Any] = {"type": "object"}
_JSON_OR_STR: dict[str, Any] = {"oneOf": [{"type": "object"}, {"type": "string"}]}

_EXECUTION_BODY = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "workflow_name": {"type": "string"},
        "workflow_id": {"type": "string"},
        "workflow_namespace": {"type": "string"},
        "description": {"type": "string"},
        "input": _JSON_OR_STR,
        "params": _JSON_OR_STR,
        "source_execution_id": {"type": "string"},
    },
}
_EXECUTION_UPDATE = {
    "type": "object",
    "properties": {
        "state": {"type": "string"},
        "state_info": {"type": "string"},
        "description": {"type": "string"},
        "params": _JSON_OR_STR,
    },
}
_TASK_UPDATE = {
    "type": "object",
    "properties": {
        "state": {"type": "string"},
        "reset": {"type": "boolean"},
        "env": _JSON_OR_STR,
    },
}
_ACTION_RUN = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "input": _JSON_OR_STR,
        "params": _JSON_OR_STR,
        "workflow_namespace": {"type": "string"},
        "description": {"type": "string"},
    },
    "required": ["name"],
}
_ACTION_UPDATE = {
    "type": "object",
    "properties": {"state": {"type": "string"}, "output": {}},
}
_ENVIRONMENT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "variables": _JSON_OR_STR,
        "scope": {"type": "string", "enum": ["private", "public"]},
    },
    "required": ["name"],
}
_CRON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "workflow_name": {"type": "string"},
        "workflow_id": {"type": "string"},
        "workflow_input": _JSON_OR_STR,
        "workflow_params": _JSON_OR_STR,
        "pattern": {"type": "string"},
        "first_execution_time": {"type": "string"},
        "remaining_executions": {"type": "integer"},
        "scope": {"type": "string", "enum": ["private", "public"]},
    },
    "required": ["name"],
}

TEXT = "text"
# (path, method, summary, query parameters, body: None | TEXT | schema, success status)
PUBLIC = ("/v2", "/identity", "/identity/v3", "/identity/v3/auth/tokens")

_OPERATIONS: list[tuple[str, str, str, list[str], Any, int]] = [
    ("/v2", "get", "API root", [], None, 200),
    ("/identity", "get", "Keystone identity API versions", [], None, 200),
    ("/identity/v3", "get", "Keystone v3 version", [], None, 200),
    ("/identity/v3/auth/tokens", "post",
     "Keystone v3 token: the token method with an API key or token", [], _OBJ, 201),
    ("/v2/workbooks", "get", "List workbooks", [*_LIST, "namespace", "name", "scope"],
     None, 200),
    ("/v2/workbooks", "post", "Create a workbook", ["namespace", "scope"], TEXT, 201),
    ("/v2/workbooks", "put", "Update a workbook", ["namespace", "scope"], TEXT, 200),
    ("/v2/workbooks/validate", "post", "Validate a workbook", [], TEXT, 200),
    ("/v2/workbooks/{name}", "get", "Get a workbook", ["namespace"], None, 200),
    ("/v2/workbooks/{name}", "delete", "Delete a workbook", ["namespace"], None, 204),
    ("/v2/workflows", "get", "List workflows", [*_LIST, "namespace", "name", "scope"],
     None, 200),
    ("/v2/workflows", "post", "Create workflows", ["namespace", "scope"], TEXT, 201),
    ("/v2/workflows", "put", "Update workflows", ["namespace", "scope"], TEXT, 200),
    ("/v2/workflows/validate", "post", "Validate workflows", [], TEXT, 200),
    ("/v2/workflows/{identifier}", "get", "Get a workflow", ["namespace"], None, 200),
    ("/v2/workflows/{identifier}", "put", "Update a workflow by id", ["namespace", "scope"],
     TEXT, 200),
    ("/v2/workflows/{identifier}", "delete", "Delete a workflow", ["namespace"], None, 204),
    ("/v2/actions", "get", "List actions", [*_LIST, "name", "is_system", "scope"], None, 200),
    ("/v2/actions", "post", "Create ad-hoc actions", ["namespace", "scope"], TEXT, 201),
    ("/v2/actions", "put", "Update ad-hoc actions", ["namespace", "scope"], TEXT, 200),
    ("/v2/actions/validate", "post", "Validate ad-hoc actions", [], TEXT, 200),
    ("/v2/actions/{identifier}", "get", "Get an action", ["namespace"], None, 200),
    ("/v2/actions/{identifier}", "put", "Update an ad-hoc action by id", ["namespace", "scope"],
     TEXT, 200),
    ("/v2/actions/{identifier}", "delete", "Delete an ad-hoc action", ["namespace"], None,
     204),
    ("/v2/executions", "get", "List workflow executions",
     [*_LIST, "workflow_name", "workflow_id", "state", "task_execution_id",
      "root_execution_id", "include_output"], None, 200),
    ("/v2/executions", "post", "Start a workflow", [], _EXECUTION_BODY, 201),
    ("/v2/executions/{id}", "get", "Get a workflow execution", [], None, 200),
    ("/v2/executions/{id}", "put", "Pause, resume, cancel, fail or describe an execution",
     [], _EXECUTION_UPDATE, 200),
    ("/v2/executions/{id}", "delete", "Delete a workflow execution", ["force"], None, 204),
    ("/v2/executions/{id}/tasks", "get", "Tasks of an execution", [*_LIST, "state", "name"],
     None, 200),
    ("/v2/executions/{id}/executions", "get", "An execution and its sub-workflows",
     ["errors_only", "max_depth"], None, 200),
    ("/v2/executions/{id}/report", "get", "Report of an execution",
     ["errors_only", "max_depth", "statistics_only"], None, 200),
    ("/v2/tasks", "get", "List tasks",
     [*_LIST, "name", "state", "workflow_name", "workflow_execution_id"], None, 200),
    ("/v2/tasks/{id}", "get", "Get a task", [], None, 200),
    ("/v2/tasks/{id}", "put", "Re-run or skip a task", [], _TASK_UPDATE, 200),
    ("/v2/tasks/{id}/action_executions", "get", "Action executions of a task", [*_LIST],
     None, 200),
    ("/v2/tasks/{id}/executions", "get", "Sub-workflow executions of a task",
     ["errors_only", "max_depth"], None, 200),
    ("/v2/action_executions", "get", "List action executions",
     [*_LIST, "name", "state", "task_execution_id", "include_output"], None, 200),
    ("/v2/action_executions", "post", "Run an action alone", [], _ACTION_RUN, 201),
    ("/v2/action_executions/{id}", "get", "Get an action execution", [], None, 200),
    ("/v2/action_executions/{id}", "put", "Report the result of an asynchronous action", [],
     _ACTION_UPDATE, 200),
    ("/v2/environments", "get", "List environments", [*_LIST, "name", "scope"], None, 200),
    ("/v2/environments", "post", "Create an environment", [], _ENVIRONMENT, 201),
    ("/v2/environments", "put", "Update an environment", [], _ENVIRONMENT, 200),
    ("/v2/environments/{name}", "get", "Get an environment", [], None, 200),
    ("/v2/environments/{name}", "delete", "Delete an environment", [], None, 204),
    ("/v2/cron_triggers", "get", "List cron triggers", [*_LIST, "name", "workflow_name"],
     None, 200),
    ("/v2/cron_triggers", "post", "Create a cron trigger", [], _CRON, 201),
    ("/v2/cron_triggers/{name}", "get", "Get a cron trigger", [], None, 200),
    ("/v2/cron_triggers/{name}", "delete", "Delete a cron trigger", [], None, 204),
]

_TEXT_EXAMPLES = {
    "workflows": "version: '2.0'\nexample_wf:\n  tasks:\n    t1:\n      action: std.noop\n",
    "workbooks": "version: '2.0'\nname: example_wb\nworkflows:\n  wf:\n    tasks:\n"
                 "      t1:\n        action: std.noop\n",
    "actions": "version: '2.0'\nexample_action:\n  base: std.echo\n  base-input:\n"
               "    output: hi\n",
}

_INTEGER_PARAMS = {"limit", "max_depth"}
_BOOLEAN_PARAMS = {"include_output", "errors_only", "statistics_only", "force"}


def _parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if name in _INTEGER_PARAMS:
        schema = {"type": "integer"}
    elif name in _BOOLEAN_PARAMS:
        schema = {"type": "boolean"}
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _operation(path: str, summary: str, params: list[str], body: Any,
               status: int) -> dict[str, Any]:
    parameters = [
        {"name": seg[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for seg in path.split("/") if seg.startswith("{")
    ]
    parameters += [_parameter(p) for p in params]
    fault_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Fault"}}}
    responses: dict[str, Any] = {
        str(status): {"description": "Success"} if status == 204 else {
            "description": "Success", "content": {"application/json": {"schema": _OBJ}}},
        "400": {"description": "Bad input", "content": fault_ref},
        "401": {"description": "No valid API key or token", "content": fault_ref},
        "404": {"description": "Not found", "content": fault_ref},
        "409": {"description": "Duplicate", "content": fault_ref},
    }
    op: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": responses}
    if body == TEXT:
        example = _TEXT_EXAMPLES.get(path.split("/")[2], "")
        op["requestBody"] = {"required": True, "content": {
            "text/plain": {"schema": {"type": "string"}, "example": example}}}
    elif body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def openapi_document(base_url: str = "") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, params, body, status in _OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(path, summary, params, body, status)
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "Levante engine API (Mistral v2 compatible)", "version": "2.0"},
        "paths": paths,
        "components": {
            "schemas": {"Fault": _FAULT},
            "securitySchemes": {  # unless [engine] auth = false
                "Token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                "ApiKey": {"type": "apiKey", "in": "header", "name": "St2-Api-Key"},
            },
        },
        "security": [{"Token": []}, {"ApiKey": []}],
    }
    for path in PUBLIC:  # no key needed
        for op in paths.get(path, {}).values():
            op["security"] = []
    if base_url:
        doc["servers"] = [{"url": base_url}]
    return doc
