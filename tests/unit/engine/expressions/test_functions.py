"""Built-in functions in YAQL and Jinja, against a context like the runtime's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from levante.engine.expressions import (
    ContextUnavailable,
    DataContext,
    ExpressionContext,
    ExpressionError,
    evaluate,
)


class RunContext:
    """What the runtime answers (a fixed picture of one running workflow)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.tasks_by_name: dict[str, dict[str, Any]] = {
            "t1": {"id": "id1", "name": "t1", "state": "SUCCESS", "state_info": None,
                   "result": {"out": [1, 2]}, "published": {"p": 1}, "type": "ACTION",
                   "spec": {}, "workflow_execution_id": "wf1"},
            "cur": {"id": "id2", "name": "cur", "state": "RUNNING", "state_info": None,
                    "result": None, "published": {}, "type": "ACTION", "spec": {},
                    "workflow_execution_id": "wf1"},
        }

    def env(self) -> dict[str, Any]:
        return {"region": "eu", "nested": {"k": "v"}}

    def execution(self) -> dict[str, Any]:
        return {"id": "wf1", "name": "wf", "input": {"a": 1}, "params": {}, "spec": {}}

    def task(self, name: str | None) -> dict[str, Any] | None:
        self.calls.append(("task", name))
        return self.tasks_by_name.get(name if name is not None else "cur")

    def tasks(self, wf_ex_id: str | None, recursive: bool,
              state: str | None) -> list[dict[str, Any]]:
        self.calls.append(("tasks", wf_ex_id, recursive, state))
        return [t for t in self.tasks_by_name.values() if state is None or t["state"] == state]

    def global_var(self, name: str) -> Any:
        return {"g": 42}.get(name)


@pytest.fixture
def ctx() -> RunContext:
    return RunContext()


def test_runtime_context_satisfies_protocol(ctx: RunContext) -> None:
    assert isinstance(ctx, ExpressionContext)
    assert isinstance(DataContext({}), ExpressionContext)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% env() %>", {"region": "eu", "nested": {"k": "v"}}),
        ("<% env().region %>", "eu"),
        ("<% env().nested.k %>", "v"),
        ("<% execution().id %>", "wf1"),
        ("<% execution().input.a %>", 1),
        ("<% task(t1).result %>", {"out": [1, 2]}),
        ("<% task('t1').result.out %>", [1, 2]),
        ('<% task("t1").state %>', "SUCCESS"),
        ("<% task().name %>", "cur"),
        ("<% task(t1).result.out.len() %>", 2),
        ("<% task(missing) %>", None),
        ("<% tasks().len() %>", 2),
        ("<% tasks(null, false, 'SUCCESS').select($.name) %>", ["t1"]),
        ("<% tasks(state => 'RUNNING').select($.name) %>", ["cur"]),
        ("<% global('g') %>", 42),
        ("<% global(nothing) %>", None),
        ("<% json_parse('[1, {\"a\": 2}]') %>", [1, {"a": 2}]),
        ("<% json_dump($.d) %>", '{\n    "a": [\n        1,\n        2\n    ]\n}'),
        ("<% yaml_parse('a: [1, 2]') %>", {"a": [1, 2]}),
        ("<% yaml_dump($.d) %>", "a:\n- 1\n- 2\n"),
        ("<% json_parse(json_dump($.d)) %>", {"a": [1, 2]}),
        (
            "<% json_dump($) %>",
            '{\n    "d": {\n        "a": [\n            1,\n            2\n        ]\n    }\n}',
        ),
        (
            "<% json_dump([$.d, set(1)]) %>",
            '[\n    {\n        "a": [\n            1,\n            2\n        ]\n    },\n'
            '    [\n        1\n    ]\n]',
        ),
        ("<% yaml_dump($) %>", "d:\n  a:\n  - 1\n  - 2\n"),
        ("{{ env().region }}", "eu"),
        ("{{ execution().name }}", "wf"),
        ("{{ task('t1').result.out }}", [1, 2]),
        ("{{ task().state }}", "RUNNING"),
        ("{{ tasks() | length }}", 2),
        ("{{ tasks(None, False, 'SUCCESS')[0].name }}", "t1"),
        ("{{ tasks(state='RUNNING')[0].name }}", "cur"),
        ("{{ global('g') }}", 42),
        ("{{ json_dump(_.d) }}", '{\n    "a": [\n        1,\n        2\n    ]\n}'),
        ("{{ _.d | json_dump }}", '{\n    "a": [\n        1,\n        2\n    ]\n}'),
        ("{{ json_parse('{\"k\": 1}') }}", {"k": 1}),
        ("{{ '{\"k\": 1}' | json_parse }}", {"k": 1}),
        ("{{ yaml_parse('k: 1') }}", {"k": 1}),
        ("{{ _.d | yaml_dump }}", "a:\n- 1\n- 2\n"),
        ("region={{ env().region }}", "region=eu"),
        ("region=<% env().region %>", "region=eu"),
    ],
)
def test_builtins(ctx: RunContext, expression: str, expected: Any) -> None:
    assert evaluate(expression, {"d": {"a": [1, 2]}}, ctx) == expected


def test_tasks_arguments_reach_the_context(ctx: RunContext) -> None:
    evaluate("<% tasks('wf9', true, 'ERROR') %>", {}, ctx)
    evaluate("{{ tasks('wf8', recursive=True) }}", {}, ctx)
    assert ("tasks", "wf9", True, "ERROR") in ctx.calls
    assert ("tasks", "wf8", True, None) in ctx.calls


@pytest.mark.parametrize("expression", ["<% uuid() %>", "{{ uuid() }}"])
def test_uuid(ctx: RunContext, expression: str) -> None:
    a, b = evaluate(expression, {}, ctx), evaluate(expression, {}, ctx)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", a)
    assert a != b


def test_json_pp(ctx: RunContext) -> None:
    out = evaluate("<% json_pp($.d) %>", {"d": {"a": 1}}, ctx)
    assert json.loads(out) == {"a": 1} and "\n" in out
    assert json.loads(evaluate("<% json_pp() %>", {"d": 1}, ctx)) == {"d": 1}


def test_yaml_dump_of_yaql_values(ctx: RunContext) -> None:
    out = evaluate("<% yaml_dump(dict(a => [1, 2])) %>", {}, ctx)
    assert yaml.safe_load(out) == {"a": [1, 2]}


def test_without_context_env_and_execution_come_from_data() -> None:
    data = {"__env": {"k": "v"}, "__execution": {"id": "e1"}}
    assert evaluate("<% env().k %>", data) == "v"
    assert evaluate("{{ execution().id }}", data) == "e1"
    assert evaluate("<% env() %>", {}) == {}


@pytest.mark.parametrize("expression",
                         ["<% task(t1) %>", "<% tasks() %>", "<% global(x) %>", "{{ task() }}"])
def test_without_context_runtime_functions_fail_clearly(expression: str) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, {})
    assert "only available while a workflow runs" in str(info.value)


def test_context_errors_become_expression_errors(ctx: RunContext) -> None:
    class Broken(RunContext):
        def task(self, name: str | None) -> dict[str, Any] | None:
            raise RuntimeError("database gone")

    with pytest.raises(ExpressionError) as info:
        evaluate("<% task(t1).result %>", {}, Broken())
    assert "database gone" in str(info.value)


def test_bad_json_fails_the_expression(ctx: RunContext) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("<% json_parse('{nope') %>", {}, ctx)
    assert "JSONDecodeError" in str(info.value)


def test_context_unavailable_propagates() -> None:
    class Busy(RunContext):
        def task(self, name: str | None) -> dict[str, Any] | None:
            raise ContextUnavailable("database is locked")

        def tasks(self, wf_ex_id: str | None, recursive: bool,
                  state: str | None) -> list[dict[str, Any]]:
            raise ContextUnavailable("database is locked")

    for expression in ("<% task(t1).result %>", "<% task(t1).result.len() > 0 %>",
                       "{{ task('t1') }}", "<% tasks().select($.name) %>",
                       "x <% task(t1) %>", "{{ tasks() | length }} tasks"):
        with pytest.raises(ContextUnavailable):
            evaluate(expression, {}, Busy())


def test_database_errors_propagate() -> None:
    import sqlite3

    class Broken(RunContext):
        def env(self) -> dict[str, Any]:
            raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        evaluate("<% env().x %>", {}, Broken())
