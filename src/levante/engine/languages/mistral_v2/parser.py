"""Mistral v2 language: YAML text -> validated specs.

Every error is a `ValidationError` naming the workflow, task, field and line. Parsing is
strict where Mistral is (unknown keys, wrong types, dangling task names) and also rejects
what Mistral only finds at run time (cycles in `requires`, bad `with-items`).
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import yaml

from levante.engine.expressions.syntax import ExpressionSyntaxError, check_syntax, is_expression
from levante.engine.languages.errors import ValidationError
from levante.engine.languages.mistral_v2.inline import InlineError, parse_command, parse_params
from levante.engine.languages.mistral_v2.loader import Located, load
from levante.engine.languages.mistral_v2.spec import (
    DIRECT,
    ENGINE_COMMANDS,
    REVERSE,
    AdHocActionSpec,
    InputParam,
    OnClauseTarget,
    RetrySpec,
    TaskSpec,
    Transition,
    WorkbookSpec,
    WorkflowSpec,
)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[\w.-]+$")
_WITH_ITEMS = re.compile(r"^\s*([\w-]+)\s+in\s+(.+?)\s*$", re.S)

_META_KEYS = {"version", "name", "description", "tags"}
_WORKFLOW_KEYS = _META_KEYS | {
    "type", "input", "output", "output-on-error", "vars", "task-defaults", "tasks",
}
_POLICY_KEYS = {"retry", "wait-before", "wait-after", "timeout", "pause-before", "concurrency"}
_TASK_KEYS = {
    "name", "description", "tags", "action", "workflow", "input", "with-items", "publish",
    "publish-on-error", "fail-on", "target", "keep-result", "safe-rerun", "policies",
} | _POLICY_KEYS
_DIRECT_TASK_KEYS = _TASK_KEYS | {"join", "on-success", "on-error", "on-complete"}
_REVERSE_TASK_KEYS = _TASK_KEYS | {"requires"}
_DEFAULTS_KEYS = _POLICY_KEYS | {"on-success", "on-error", "on-complete", "safe-rerun", "requires"}
_ON_CLAUSES = ("on-success", "on-error", "on-complete")
_RETRY_KEYS = {"count", "delay", "break-on", "continue-on"}
_ACTION_KEYS = _META_KEYS | {"base", "base-input", "input", "output"}
_WORKBOOK_KEYS = _META_KEYS | {"workflows", "actions"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping"}.get(type(value), type(value).__name__)


class _Where:
    """Where we are in the document, to name it in errors."""

    def __init__(self, doc: Located, workflow: str | None = None, task: str | None = None,
                 prefix: str = "") -> None:
        self.doc = doc
        self.workflow = workflow
        self.task = task
        self.prefix = prefix

    def at(self, *, workflow: str | None = None, task: str | None = None,
           prefix: str | None = None) -> _Where:
        return _Where(
            self.doc,
            workflow if workflow is not None else self.workflow,
            task if task is not None else self.task,
            prefix if prefix is not None else self.prefix,
        )

    def fail(self, message: str, field: str | None = None, container: Any = None,
             key: Any = None) -> NoReturn:
        line = self.doc.line(container, key) if container is not None else None
        if not field:
            field = None
        if field is not None and self.prefix:
            field = f"{self.prefix}.{field}"
        elif field is None and self.prefix:
            field = self.prefix
        raise ValidationError(message, self.workflow, self.task, field, line)

    # --- type checks -------------------------------------------------------------------

    def keys(self, body: dict[str, Any], allowed: set[str], what: str,
             hint: dict[str, str] | None = None) -> None:
        for key in body:
            if key not in allowed:
                extra = (hint or {}).get(key, "")
                expected = ", ".join(sorted(allowed))
                self.fail(f"unknown key '{key}' in {what}{extra}; expected one of: {expected}",
                          str(key), body, key)

    def mapping(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        value = body[key]
        if not isinstance(value, dict):
            self.fail(f"must be a mapping, not {_kind(value)}", key, body, key)
        self.expressions(value, key, body)
        return value

    def string(self, body: dict[str, Any], key: str) -> str:
        value = body[key]
        if not isinstance(value, str):
            self.fail(f"must be a non-empty string, not {_kind(value)}", key, body, key)
        if not value.strip():
            self.fail("must not be empty", key, body, key)
        return value

    def string_list(self, body: dict[str, Any], key: str, allow_single: bool = False) -> list[str]:
        value = body[key]
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"must be a list of strings, not {_kind(value)}", key, body, key)
        if len(set(value)) != len(value):
            self.fail("must not repeat a value", key, body, key)
        return list(value)

    def expr_or_int(self, body: dict[str, Any], key: str) -> Any:
        value = body[key]
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                self.fail(f"must not be negative, got {value}", key, body, key)
            return value
        if isinstance(value, str) and is_expression(value):
            self.expressions(value, key, body)
            return value
        self.fail(f"must be a non-negative integer or an expression, not {_kind(value)}",
                  key, body, key)

    def expr_or_bool(self, body: dict[str, Any], key: str) -> Any:
        value = body[key]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and is_expression(value):
            self.expressions(value, key, body)
            return value
        self.fail(f"must be a boolean or an expression, not {_kind(value)}", key, body, key)

    def expression(self, body: dict[str, Any], key: str) -> str:
        value = body[key]
        if not isinstance(value, str) or not is_expression(value):
            self.fail(f"must be an expression (<% %> or {{{{ }}}}), not {_kind(value)}",
                      key, body, key)
        self.expressions(value, key, body)
        return value

    def expressions(self, value: Any, field: str, container: Any = None,
                    key: Any = None) -> None:
        """Check the syntax of every expression inside `value`."""
        try:
            check_syntax(value)
        except ExpressionSyntaxError as e:
            self.fail(str(e), field, container, key if key is not None else field)


# --- public entry points ---------------------------------------------------------------


def parse_workflows(text: str | bytes) -> list[WorkflowSpec]:
    """Parse a workflow definition: `version: '2.0'` then one key per workflow."""
    doc = load(text)
    where = _Where(doc)
    root = _root(doc, where)
    names = [k for k in root if k != "version"]
    if not names:
        where.fail("the definition holds no workflow", container=root)
    if isinstance(root.get("workflows"), dict) and isinstance(root.get("name"), str):
        where.fail("this is a workbook (it has 'name' and 'workflows'), not a workflow "
                   "definition", "workflows", root, "workflows")
    return [
        _workflow(where, str(name), root, name, str(name), {}, {}) for name in names
    ]


def parse_actions(text: str | bytes) -> list[AdHocActionSpec]:
    """Parse ad-hoc action definitions: `version: '2.0'` then one key per action."""
    doc = load(text)
    where = _Where(doc)
    root = _root(doc, where)
    names = [k for k in root if k != "version"]
    if not names:
        where.fail("the definition holds no action", container=root)
    return [_action(where, str(name), root, name, str(name)) for name in names]


def parse_workbook(text: str | bytes) -> WorkbookSpec:
    """Parse a workbook; its workflows and actions are named `<workbook>.<name>`."""
    doc = load(text)
    where = _Where(doc)
    root = _root(doc, where)
    where.keys(root, _WORKBOOK_KEYS, "a workbook")
    if "name" not in root:
        where.fail("a workbook needs a 'name'", "name", root)
    wb = where.string(root, "name")
    description = where.string(root, "description") if "description" in root else ""
    tags = where.string_list(root, "tags") if "tags" in root else []

    sections: dict[str, dict[str, Any]] = {}
    for section in ("workflows", "actions"):
        if section in root:
            body = root[section]
            if not isinstance(body, dict) or not body:
                where.fail(f"must be a non-empty mapping, not {_kind(body)}", section, root,
                           section)
            if "version" in body:
                _check_version(where, body)
            sections[section] = body

    actions_body = sections.get("actions", {})
    workflows_body = sections.get("workflows", {})
    action_keys = [k for k in actions_body if k != "version"]
    workflow_keys = [k for k in workflows_body if k != "version"]
    local_actions = {str(k): f"{wb}.{k}" for k in action_keys}
    local_workflows = {str(k): f"{wb}.{k}" for k in workflow_keys}

    actions = [
        _action(where, f"{wb}.{k}", actions_body, k, f"actions.{k}") for k in action_keys
    ]
    workflows = [
        _workflow(where, f"{wb}.{k}", workflows_body, k, f"workflows.{k}", local_actions,
                  local_workflows)
        for k in workflow_keys
    ]
    return WorkbookSpec(
        name=wb,
        description=description,
        tags=tags,
        workflows={w.name: w for w in workflows},
        actions={a.name: a for a in actions},
    )


# --- document level --------------------------------------------------------------------


def _root(doc: Located, where: _Where) -> dict[str, Any]:
    root = doc.data
    if not isinstance(root, dict):
        where.fail(f"the definition must be a YAML mapping, not {_kind(root)}")
    if "version" not in root:
        where.fail("missing 'version' (must be '2.0')", "version", root)
    _check_version(where, root)
    return root


def _check_version(where: _Where, body: dict[str, Any]) -> None:
    version = body["version"]
    if str(version) not in ("2.0", "2"):
        where.fail(f"unsupported version '{version}'; must be '2.0'", "version", body,
                   "version")


def _check_name(where: _Where, name: str, container: Any, key: Any, what: str) -> None:
    if not isinstance(key, str):
        where.fail(f"a {what} name must be a string: quote '{key}'", container=container,
                   key=key)
    if not name or not _NAME.match(name):
        where.fail(f"invalid {what} name '{name}': use letters, digits, '_', '-', '.'",
                   container=container, key=key)
    if _UUID.match(name):
        where.fail(f"a {what} name cannot look like a UUID", container=container, key=key)


def _input_params(where: _Where, body: dict[str, Any], key: str) -> list[InputParam]:
    value = body[key]
    if not isinstance(value, list):
        where.fail(f"must be a list of names or 'name: default' pairs, not {_kind(value)}",
                   key, body, key)
    params: list[InputParam] = []
    seen: set[str] = set()
    for entry in value:
        if isinstance(entry, str) and entry:
            param = InputParam(entry, None, True)
        elif isinstance(entry, dict) and len(entry) == 1:
            name, default = next(iter(entry.items()))
            if not isinstance(name, str):
                where.fail(f"input name must be a string, not {_kind(name)}", key, body, key)
            where.expressions(default, f"{key}.{name}", entry, name)
            param = InputParam(name, default, False)
        else:
            where.fail(f"each entry must be a name or a one-key 'name: default' mapping, "
                       f"not {_kind(entry)}", key, body, key)
        if param.name in seen:
            where.fail(f"input '{param.name}' is declared twice", key, body, key)
        seen.add(param.name)
        params.append(param)
    return params


# --- ad-hoc actions --------------------------------------------------------------------


def _action(where: _Where, name: str, parent: dict[str, Any], key: Any,
            field_prefix: str) -> AdHocActionSpec:
    body = parent[key]
    w = where.at(prefix=field_prefix)
    _check_name(w, str(key), parent, key, "action")
    if not isinstance(body, dict):
        w.fail(f"an action must be a mapping, not {_kind(body)}", container=parent, key=key)
    w.keys(body, _ACTION_KEYS, "an ad-hoc action")
    if "version" in body:
        _check_version(w, body)
    if "base" not in body:
        w.fail("an ad-hoc action needs a 'base'", "base", body)
    base_text = w.string(body, "base")
    try:
        base, inline = parse_command(base_text)
    except InlineError as e:
        w.fail(str(e), "base", body, "base")
    base_input = dict(w.mapping(body, "base-input")) if "base-input" in body else {}
    base_input.update(inline)
    w.expressions(base_input, "base-input", body, "base")
    output = body.get("output")
    w.expressions(output, "output", body, "output")
    return AdHocActionSpec(
        name=name,
        base=base,
        base_input=base_input,
        input=_input_params(w, body, "input") if "input" in body else [],
        output=output,
        description=w.string(body, "description") if "description" in body else "",
        tags=w.string_list(body, "tags") if "tags" in body else [],
        line=where.doc.line(parent, key) or 0,
    )


# --- workflows -------------------------------------------------------------------------


def _workflow(where: _Where, name: str, parent: dict[str, Any], key: Any, field_prefix: str,
              local_actions: dict[str, str], local_workflows: dict[str, str]) -> WorkflowSpec:
    body = parent[key]
    w = where.at(workflow=name)
    _check_name(w, str(key), parent, key, "workflow")
    if not isinstance(body, dict):
        w.fail(f"a workflow must be a mapping, not {_kind(body)}", container=parent, key=key)
    w.keys(body, _WORKFLOW_KEYS, "a workflow")
    if "version" in body:
        _check_version(w, body)

    wf_type = body.get("type", DIRECT)
    if wf_type not in (DIRECT, REVERSE):
        w.fail(f"must be 'direct' or 'reverse', not '{wf_type}'", "type", body, "type")

    if "tasks" not in body:
        w.fail("a workflow needs 'tasks'", "tasks", body)
    tasks_body = body["tasks"]
    if not isinstance(tasks_body, dict) or not tasks_body:
        w.fail(f"must be a non-empty mapping of tasks, not {_kind(tasks_body)}", "tasks",
               body, "tasks")

    output: Any = None
    if "output" in body:
        output = body["output"]
        w.expressions(output, "output", body, "output")
    output_on_error: Any = None
    if "output-on-error" in body:
        output_on_error = body["output-on-error"]
        w.expressions(output_on_error, "output-on-error", body, "output-on-error")

    defaults_raw: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    if "task-defaults" in body:
        defaults_raw = w.mapping(body, "task-defaults")
        defaults = _task_defaults(w.at(prefix="task-defaults"), defaults_raw, wf_type)

    tasks: dict[str, TaskSpec] = {}
    for task_key in tasks_body:
        task_name = str(task_key)
        tw = w.at(task=task_name)
        _check_name(tw, task_name, tasks_body, task_key, "task")
        tasks[task_name] = _task(tw, tasks_body, task_key, wf_type, defaults, local_actions,
                                 local_workflows)

    spec = WorkflowSpec(
        name=name,
        type=wf_type,
        description=w.string(body, "description") if "description" in body else "",
        tags=w.string_list(body, "tags") if "tags" in body else [],
        input=_input_params(w, body, "input") if "input" in body else [],
        output=output,
        output_on_error=output_on_error,
        vars=w.mapping(body, "vars") if "vars" in body else {},
        tasks=tasks,
        task_defaults=_defaults_to_dict(defaults),
        line=where.doc.line(parent, key) or 0,
    )
    if wf_type == DIRECT:
        _check_direct(w, spec, body)
    else:
        _check_reverse(w, spec, tasks_body)
    return spec


def _defaults_to_dict(defaults: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in defaults.items():
        out[k] = v.to_dict() if isinstance(v, Transition | RetrySpec) else v
    return out


def _task_defaults(w: _Where, body: dict[str, Any], wf_type: str) -> dict[str, Any]:
    allowed = set(_DEFAULTS_KEYS)
    allowed -= {"requires"} if wf_type == DIRECT else set(_ON_CLAUSES)
    w.keys(body, allowed, f"task-defaults of a {wf_type} workflow")
    out: dict[str, Any] = {}
    out.update(_policies(w, body))
    if "safe-rerun" in body:
        out["safe_rerun"] = w.expr_or_bool(body, "safe-rerun")
    for clause in _ON_CLAUSES:
        if clause in body:
            out[clause.replace("-", "_")] = _transition(w, body, clause)
    if "requires" in body:
        out["requires"] = w.string_list(body, "requires", allow_single=True)
    return out


def _policies(w: _Where, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("wait-before", "wait-after", "timeout", "concurrency"):
        if key in body:
            out[key.replace("-", "_")] = w.expr_or_int(body, key)
    timeout = out.get("timeout")
    if isinstance(timeout, int) and timeout <= 0:
        w.fail(f"must be a positive number of seconds, got {timeout}", "timeout", body,
               "timeout")
    if "pause-before" in body:
        out["pause_before"] = w.expr_or_bool(body, "pause-before")
    if "retry" in body:
        out["retry"] = _retry(w, body)
    return out


def _retry(w: _Where, body: dict[str, Any]) -> RetrySpec:
    value = body["retry"]
    if isinstance(value, str):
        try:
            value = parse_params(value)
        except InlineError as e:
            w.fail(str(e), "retry", body, "retry")
        rw = w.at(prefix=f"{w.prefix}.retry" if w.prefix else "retry")
        holder: dict[str, Any] = value
        line_container, line_key = body, "retry"
    elif isinstance(value, dict):
        rw = w.at(prefix=f"{w.prefix}.retry" if w.prefix else "retry")
        holder = value
        line_container, line_key = value, None
    else:
        w.fail(f"must be a mapping or 'count=N delay=N' text, not {_kind(value)}", "retry",
               body, "retry")
    for key in holder:
        if key not in _RETRY_KEYS:
            rw.fail(f"unknown retry option '{key}'; expected one of: "
                    f"{', '.join(sorted(_RETRY_KEYS))}", str(key), line_container,
                    line_key if line_key else key)
    if "count" not in holder:
        rw.fail("retry needs a 'count'", "count", line_container, line_key)
    count = rw.expr_or_int(holder, "count")
    delay = rw.expr_or_int(holder, "delay") if "delay" in holder else 0
    break_on = rw.expression(holder, "break-on") if "break-on" in holder else None
    continue_on = rw.expression(holder, "continue-on") if "continue-on" in holder else None
    return RetrySpec(count, delay, break_on, continue_on)


def _transition(w: _Where, body: dict[str, Any], clause: str) -> Transition:
    value = body[clause]
    cw = w.at(prefix=f"{w.prefix}.{clause}" if w.prefix else clause)
    publish: dict[str, Any] = {}
    publish_global: dict[str, Any] = {}
    nxt: Any = value
    if isinstance(value, dict) and value and set(value) <= {"publish", "next"}:
        nxt = value.get("next")
        if "publish" in value:
            pub = value["publish"]
            if not isinstance(pub, dict):
                cw.fail(f"must be a mapping, not {_kind(pub)}", "publish", value, "publish")
            if pub and set(pub) <= {"branch", "global", "atomic"}:
                for part in pub:
                    if not isinstance(pub[part], dict):
                        cw.fail(f"must be a mapping, not {_kind(pub[part])}",
                                f"publish.{part}", pub, part)
                publish = {**pub.get("atomic", {}), **pub.get("branch", {})}
                publish_global = dict(pub.get("global", {}))
            else:
                publish = dict(pub)
            cw.expressions(pub, "publish", value, "publish")
    targets: list[OnClauseTarget] = []
    if nxt is None:
        entries: list[Any] = []
    elif isinstance(nxt, str | dict):
        entries = [nxt]
    elif isinstance(nxt, list):
        entries = nxt
    else:
        cw.fail(f"must be a task name, a list of them or a mapping, not {_kind(nxt)}",
                container=body, key=clause)
    for entry in entries:
        guard: str | None = None
        if isinstance(entry, dict):
            if len(entry) != 1:
                cw.fail("each entry must be a task name or one 'task: <% guard %>' pair",
                        container=body, key=clause)
            text, guard_value = next(iter(entry.items()))
            if not isinstance(guard_value, str) or not is_expression(guard_value):
                cw.fail(f"the guard of '{text}' must be an expression, not "
                        f"{_kind(guard_value)}", container=entry, key=text)
            cw.expressions(guard_value, "", entry, text)
            guard = guard_value
        elif isinstance(entry, str):
            text = entry
        else:
            cw.fail(f"each entry must be a task name, not {_kind(entry)}", container=body,
                    key=clause)
        if not isinstance(text, str):
            cw.fail(f"a task name must be a string, not {_kind(text)}", container=body,
                    key=clause)
        try:
            name, params = parse_command(text)
        except InlineError as e:
            cw.fail(str(e), container=body, key=clause)
        cw.expressions(params, "", body, clause)
        targets.append(OnClauseTarget(name, guard, params))
    return Transition(targets, publish, publish_global)


def _with_items(w: _Where, body: dict[str, Any]) -> list[tuple[str, Any]]:
    value = body["with-items"]
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not entries:
        w.fail(f"must be 'var in <% $.list %>' or a list of them, not {_kind(value)}",
               "with-items", body, "with-items")
    out: list[tuple[str, Any]] = []
    for entry in entries:
        m = _WITH_ITEMS.match(entry) if isinstance(entry, str) else None
        if m is None:
            w.fail(f"'{entry}' is not of the form 'var in <% $.list %>' or 'var in [1, 2]'",
                   "with-items", body, "with-items")
        var, source_text = m.group(1), m.group(2)
        source: Any
        if source_text.startswith("["):
            try:
                source = yaml.safe_load(source_text)
            except yaml.YAMLError:
                source = None
            if not isinstance(source, list):
                w.fail(f"'{source_text}' is not a valid list", "with-items", body, "with-items")
        elif is_expression(source_text):
            source = source_text
        else:
            w.fail(f"the source of '{var}' must be an expression or a [list], not "
                   f"'{source_text}'", "with-items", body, "with-items")
        w.expressions(source, "with-items", body, "with-items")
        if any(var == v for v, _ in out):
            w.fail(f"variable '{var}' appears twice", "with-items", body, "with-items")
        out.append((var, source))
    return out


def _action_or_workflow(w: _Where, body: dict[str, Any], key: str,
                        local: dict[str, str]) -> tuple[str, dict[str, Any]]:
    text = w.string(body, key)
    stripped = text.strip()
    if (stripped.startswith("<%") or stripped.startswith("{{")) and is_expression(stripped):
        w.expressions(stripped, key, body, key)
        return stripped, {}
    try:
        name, params = parse_command(text)
    except InlineError as e:
        w.fail(str(e), key, body, key)
    w.expressions(params, key, body, key)
    return local.get(name, name), params


def _task(w: _Where, tasks_body: dict[str, Any], key: Any, wf_type: str,
          defaults: dict[str, Any], local_actions: dict[str, str],
          local_workflows: dict[str, str]) -> TaskSpec:
    body = tasks_body[key]
    name = str(key)
    line = w.doc.line(tasks_body, key) or 0
    if body is None:
        body = {}
    if not isinstance(body, dict):
        w.fail(f"a task must be a mapping, not {_kind(body)}", container=tasks_body, key=key)
    if wf_type == DIRECT:
        hint = {"requires": " ('requires' is for reverse workflows)"}
        w.keys(body, _DIRECT_TASK_KEYS, "a task of a direct workflow", hint)
    else:
        hint = {k: f" ('{k}' is for direct workflows)" for k in (*_ON_CLAUSES, "join")}
        w.keys(body, _REVERSE_TASK_KEYS, "a task of a reverse workflow", hint)

    if "action" in body and "workflow" in body:
        w.fail("a task has either 'action' or 'workflow', not both", "action", body, "action")
    action: str | None = None
    workflow: str | None = None
    inline: dict[str, Any] = {}
    if "workflow" in body:
        workflow, inline = _action_or_workflow(w, body, "workflow", local_workflows)
    elif "action" in body:
        action, inline = _action_or_workflow(w, body, "action", local_actions)
    else:
        action = "std.noop"

    task_input: Any = {}
    if "input" in body:
        raw = body["input"]
        if isinstance(raw, dict):
            task_input = dict(raw)
            task_input.update(inline)
        elif isinstance(raw, str) and is_expression(raw):
            if inline:
                w.fail("an expression 'input' cannot be combined with inline parameters",
                       "input", body, "input")
            task_input = raw
        else:
            w.fail(f"must be a mapping or an expression, not {_kind(raw)}", "input", body,
                   "input")
        w.expressions(raw, "input", body, "input")
    else:
        task_input = inline

    fields: dict[str, Any] = {
        k: v for k, v in defaults.items()
        if k in ("retry", "wait_before", "wait_after", "timeout", "pause_before", "concurrency",
                 "safe_rerun")
    }
    if "policies" in body:
        # Older Mistral grouped the policies under `policies:`; still accepted.
        legacy = w.mapping(body, "policies")
        pw = w.at(prefix="policies")
        pw.keys(legacy, _POLICY_KEYS, "policies")
        for key_ in legacy:
            if key_ in body:
                pw.fail(f"'{key_}' is given both here and on the task", key_, legacy, key_)
        fields.update(_policies(pw, legacy))
    fields.update(_policies(w, body))
    for key_ in ("fail-on", "keep-result", "safe-rerun"):
        if key_ in body:
            fields[key_.replace("-", "_")] = w.expr_or_bool(body, key_)
    if "target" in body:
        fields["target"] = w.string(body, "target")
        w.expressions(fields["target"], "target", body, "target")
    if "with-items" in body:
        fields["with_items"] = _with_items(w, body)
    if "publish" in body:
        fields["publish"] = w.mapping(body, "publish")
    if "publish-on-error" in body:
        fields["publish_on_error"] = w.mapping(body, "publish-on-error")
    if "description" in body:
        fields["description"] = w.string(body, "description")
    if "tags" in body:
        w.string_list(body, "tags")

    if wf_type == DIRECT:
        for clause in _ON_CLAUSES:
            attr = clause.replace("-", "_")
            own = _transition(w, body, clause) if clause in body else None
            default: Transition | None = defaults.get(attr)
            if default is not None and (own is None or not own.targets):
                targets = [t for t in default.targets if t.task != name]
                own = Transition(targets, own.publish if own else {},
                                 own.publish_global if own else {})
            if own is not None:
                fields[attr] = own
        if "join" in body:
            join = body["join"]
            valid_int = isinstance(join, int) and not isinstance(join, bool) and join >= 1
            if join not in ("all", "one") and not valid_int:
                w.fail(f"must be 'all', 'one' or a positive integer, not {join!r}", "join",
                       body, "join")
            fields["join"] = join
    else:
        requires = list(defaults.get("requires", []))
        if "requires" in body:
            for r in w.string_list(body, "requires", allow_single=True):
                if r not in requires:
                    requires.append(r)
        fields["requires"] = [r for r in requires if r != name]

    return TaskSpec(name=name, action=action, workflow=workflow, input=task_input,
                    line=line, **fields)


def _check_direct(w: _Where, spec: WorkflowSpec, wf_body: dict[str, Any]) -> None:
    tasks_body = wf_body["tasks"]
    for task in spec.tasks.values():
        tw = w.at(task=task.name)
        body = tasks_body[task.name] or {}
        for clause, tr in task.transitions():
            for target in tr.targets:
                if target.task not in spec.tasks and target.task not in ENGINE_COMMANDS:
                    container = body if clause in body else tasks_body
                    key = clause if clause in body else task.name
                    tw.fail(f"unknown task '{target.task}' in {clause}", clause, container, key)
    if not spec.start_tasks():
        w.fail("no start task: at least one task must have no inbound transition",
               "tasks", wf_body, "tasks")
    for task in spec.tasks.values():
        if task.join is None:
            continue
        inbound = len(spec.inbound(task.name))
        need = 1 if task.join in ("all", "one") else int(task.join)
        if inbound < need:
            w.at(task=task.name).fail(
                f"join {task.join!r} needs at least {need} inbound task(s), found {inbound}",
                "join", tasks_body[task.name], "join")


def _check_reverse(w: _Where, spec: WorkflowSpec, tasks_body: dict[str, Any]) -> None:
    for task in spec.tasks.values():
        for req in task.requires:
            if req not in spec.tasks:
                body = tasks_body[task.name] or {}
                container = body if "requires" in body else tasks_body
                key = "requires" if "requires" in body else task.name
                w.at(task=task.name).fail(f"unknown task '{req}' in requires", "requires",
                                          container, key)
    # Depth-first search for a cycle; report it as a path.
    state: dict[str, int] = {}
    for root in spec.tasks:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, idx = stack.pop()
            if idx == 0:
                state[node] = 1
                path.append(node)
            reqs = spec.tasks[node].requires
            if idx < len(reqs):
                stack.append((node, idx + 1))
                nxt = reqs[idx]
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt):], nxt]
                    body = tasks_body[node] or {}
                    container = body if "requires" in body else tasks_body
                    key = "requires" if "requires" in body else node
                    w.at(task=node).fail(f"cycle in requires: {' -> '.join(cycle)}",
                                         "requires", container, key)
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
