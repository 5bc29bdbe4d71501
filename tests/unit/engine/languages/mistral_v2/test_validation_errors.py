"""Invalid definitions are refused with a message naming workflow, task, field and line."""

from __future__ import annotations

import pytest

from levante.engine.languages.mistral_v2 import (
    ValidationError,
    parse_actions,
    parse_workbook,
    parse_workflows,
)

HEAD = "version: '2.0'\nwf:\n"


def error(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_workflows(text)
    return info.value


def tasks(body: str) -> str:
    """A workflow `wf` whose tasks block is `body` (indented by 4 spaces already)."""
    return HEAD + "  tasks:\n" + body


# (definition, workflow, task, field, line, words in the message)
CASES = [
    ("wf: [1\n", None, None, None, 2, "malformed YAML"),
    ("version: '2.0'\nwf:\n  tasks:\n    t1:\n   bad: 1\n", None, None, None, 5,
     "malformed YAML"),
    ("- a\n- b\n", None, None, None, None, "must be a YAML mapping"),
    ("wf:\n  tasks: {t1: {}}\n", None, None, "version", 1, "missing 'version'"),
    ("version: '1.0'\nwf:\n  tasks: {t1: {}}\n", None, None, "version", 1, "'2.0'"),
    ("version: '2.0'\n", None, None, None, 1, "no workflow"),
    ("version: '2.0'\nname: wb\nworkflows:\n  w: {tasks: {t: {}}}\n", None, None, "workflows",
     3, "this is a workbook"),
    ("version: '2.0'\nwf:\n  tasks: {t1: {}}\n  tasks: {t2: {}}\n", None, None, None, 4,
     "duplicate key 'tasks'"),
    (HEAD + "  tasks: {t1: {}}\n  colour: red\n", "wf", None, "colour", 4,
     "unknown key 'colour'"),
    (HEAD + "  type: sideways\n  tasks: {t1: {}}\n", "wf", None, "type", 3, "'direct'"),
    (HEAD + "  description: x\n", "wf", None, "tasks", 3, "needs 'tasks'"),
    (HEAD + "  tasks: {}\n", "wf", None, "tasks", 3, "non-empty"),
    (HEAD + "  tasks: [t1]\n", "wf", None, "tasks", 3, "non-empty mapping"),
    (HEAD + "  input: a\n  tasks: {t1: {}}\n", "wf", None, "input", 3, "list"),
    (HEAD + "  input:\n    - {a: 1, b: 2}\n  tasks: {t1: {}}\n", "wf", None, "input", 3,
     "one-key"),
    (HEAD + "  input: [a, a]\n  tasks: {t1: {}}\n", "wf", None, "input", 3, "twice"),
    (HEAD + "  vars: [1]\n  tasks: {t1: {}}\n", "wf", None, "vars", 3, "mapping"),
    (HEAD + "  tags: x\n  tasks: {t1: {}}\n", "wf", None, "tags", 3, "list of strings"),
    (HEAD + "  output:\n    a: <% $.x + %>\n  tasks: {t1: {}}\n", "wf", None, "output", 3,
     "invalid YAQL expression"),
    (HEAD + "  vars:\n    a: '{{ _.x + }}'\n  tasks: {t1: {}}\n", "wf", None, "vars", 3,
     "invalid Jinja expression"),
    (HEAD + "  vars:\n    a: '<% $.x %> {{ _.y }}'\n  tasks: {t1: {}}\n", "wf", None, "vars",
     3, "mixing YAQL and Jinja"),
    ("version: '2.0'\n123e4567-e89b-12d3-a456-426614174000:\n  tasks: {t1: {}}\n",
     "123e4567-e89b-12d3-a456-426614174000", None, None, 2, "UUID"),
    ("version: '2.0'\n'bad name':\n  tasks: {t1: {}}\n", "bad name", None, None, 2,
     "invalid workflow name"),
    (tasks("    1: {}\n"), "wf", "1", None, 4, "quote '1'"),
    ("version: '2.0'\n2: {tasks: {t: {}}}\n", "2", None, None, 2, "quote '2'"),
    (HEAD + "  task-defaults:\n    colour: red\n  tasks: {t1: {}}\n", "wf", None,
     "task-defaults.colour", 4, "unknown key"),
    (HEAD + "  task-defaults:\n    requires: [a]\n  tasks: {t1: {}}\n", "wf", None,
     "task-defaults.requires", 4, "unknown key"),
    (HEAD + "  task-defaults:\n    on-error: nope\n  tasks: {t1: {}}\n", "wf", "t1",
     "on-error", 5, "unknown task 'nope'"),
    # tasks
    (tasks("    t1: 5\n"), "wf", "t1", None, 4, "must be a mapping"),
    (tasks("    t1:\n      colour: red\n"), "wf", "t1", "colour", 5, "unknown key 'colour'"),
    (tasks("    t1:\n      requires: [t2]\n    t2: {}\n"), "wf", "t1", "requires", 5,
     "reverse workflows"),
    (tasks("    t1:\n      action: std.noop\n      workflow: wf2\n"), "wf", "t1", "action", 5,
     "not both"),
    (tasks("    t1:\n      action: 5\n"), "wf", "t1", "action", 5, "non-empty string"),
    (tasks("    t1:\n      action: std.echo output\n"), "wf", "t1", "action", 5,
     "name=value"),
    (tasks("    t1:\n      action: std.echo output='x\n"), "wf", "t1", "action", 5,
     "unterminated quote"),
    (tasks("    t1:\n      action: std.echo output=<% $.x + %>\n"), "wf", "t1", "action", 5,
     "invalid YAQL"),
    (tasks("    t1:\n      action: ''\n"), "wf", "t1", "action", 5, "must not be empty"),
    (tasks("    t1:\n      input: [1]\n"), "wf", "t1", "input", 5, "mapping or an expression"),
    (tasks("    t1:\n      input: <% $.x %>\n      action: a.b c=1\n"), "wf", "t1", "input",
     5, "inline"),
    (tasks("    t1:\n      publish: 3\n"), "wf", "t1", "publish", 5, "mapping"),
    (tasks("    t1:\n      publish:\n        a: <% $. %>\n"), "wf", "t1", "publish", 5,
     "invalid YAQL"),
    (tasks("    t1:\n      publish-on-error: [a]\n"), "wf", "t1", "publish-on-error", 5,
     "mapping"),
    (tasks("    t1:\n      timeout: -1\n"), "wf", "t1", "timeout", 5, "negative"),
    (tasks("    t1:\n      timeout: soon\n"), "wf", "t1", "timeout", 5,
     "integer or an expression"),
    (tasks("    t1:\n      wait-before: 1.5\n"), "wf", "t1", "wait-before", 5, "integer"),
    (tasks("    t1:\n      wait-after: true\n"), "wf", "t1", "wait-after", 5, "integer"),
    (tasks("    t1:\n      concurrency: many\n"), "wf", "t1", "concurrency", 5, "integer"),
    (tasks("    t1:\n      pause-before: 3\n"), "wf", "t1", "pause-before", 5, "boolean"),
    (tasks("    t1:\n      keep-result: maybe\n"), "wf", "t1", "keep-result", 5, "boolean"),
    (tasks("    t1:\n      safe-rerun: 1\n"), "wf", "t1", "safe-rerun", 5, "boolean"),
    (tasks("    t1:\n      fail-on: yes please\n"), "wf", "t1", "fail-on", 5, "boolean"),
    (tasks("    t1:\n      target: 5\n"), "wf", "t1", "target", 5, "string"),
    (tasks("    t1:\n      policies:\n        retries: 3\n"), "wf", "t1", "policies.retries", 6,
     "unknown key"),
    (tasks("    t1:\n      timeout: 1\n      policies:\n        timeout: 2\n"), "wf", "t1",
     "policies.timeout", 7, "both"),
    (tasks("    t1:\n      policies:\n        timeout: x\n"), "wf", "t1", "policies.timeout",
     6, "integer"),
    # retry
    (tasks("    t1:\n      retry: 3\n"), "wf", "t1", "retry", 5, "count=N"),
    (tasks("    t1:\n      retry: count=3 delay\n"), "wf", "t1", "retry", 5, "name=value"),
    (tasks("    t1:\n      retry: delay=1\n"), "wf", "t1", "retry.count", 5, "needs a 'count'"),
    (tasks("    t1:\n      retry: count=3 tries=2\n"), "wf", "t1", "retry.tries", 5,
     "unknown retry option"),
    (tasks("    t1:\n      retry:\n        count: 3\n        forever: true\n"), "wf", "t1",
     "retry.forever", 7, "unknown retry option"),
    (tasks("    t1:\n      retry:\n        count: three\n"), "wf", "t1", "retry.count", 6,
     "integer"),
    (tasks("    t1:\n      retry:\n        count: 3\n        delay: -2\n"), "wf", "t1",
     "retry.delay", 7, "negative"),
    (tasks("    t1:\n      retry:\n        count: 3\n        break-on: true\n"), "wf", "t1",
     "retry.break-on", 7, "expression"),
    # with-items
    (tasks("    t1:\n      with-items: xs\n"), "wf", "t1", "with-items", 5, "var in"),
    (tasks("    t1:\n      with-items: x in $.xs\n"), "wf", "t1", "with-items", 5,
     "expression or a [list]"),
    (tasks("    t1:\n      with-items: x in [1, 2\n"), "wf", "t1", "with-items", 5,
     "not a valid list"),
    (tasks("    t1:\n      with-items:\n        - x in [1]\n        - x in [2]\n"), "wf", "t1",
     "with-items", 5, "twice"),
    (tasks("    t1:\n      with-items: {x: 1}\n"), "wf", "t1", "with-items", 5, "var in"),
    (tasks("    t1:\n      with-items: x in <% $.xs + %>\n"), "wf", "t1", "with-items", 5,
     "invalid YAQL"),
    # on-* clauses
    (tasks("    t1:\n      on-success: t9\n"), "wf", "t1", "on-success", 5,
     "unknown task 't9'"),
    (tasks("    t1:\n      on-error:\n        - t9: <% $.x %>\n"), "wf", "t1", "on-error", 5,
     "unknown task 't9'"),
    (tasks("    t1:\n      on-complete:\n        next: [t9]\n"), "wf", "t1", "on-complete", 5,
     "unknown task 't9'"),
    (tasks("    t1:\n      on-success: 5\n"), "wf", "t1", "on-success", 5, "task name"),
    (tasks("    t1:\n      on-success:\n        - t2: true\n    t2: {}\n"), "wf", "t1",
     "on-success", 6, "guard of 't2' must be an expression"),
    (tasks("    t1:\n      on-success:\n        - {t2: <% 1 %>, t3: <% 2 %>}\n"), "wf", "t1",
     "on-success", 5, "one 'task"),
    (tasks("    t1:\n      on-success:\n        - t2: <% $.x + %>\n    t2: {}\n"), "wf", "t1",
     "on-success", 6, "invalid YAQL"),
    (tasks("    t1:\n      on-success:\n        publish: [a]\n"), "wf", "t1",
     "on-success.publish", 6, "mapping"),
    (tasks("    t1:\n      on-success:\n        publish:\n          global: 3\n"), "wf", "t1",
     "on-success.publish.global", 7, "mapping"),
    (tasks("    t1:\n      on-success: [[t2]]\n    t2: {}\n"), "wf", "t1", "on-success", 5,
     "task name"),
    (tasks("    t1:\n      on-success: fail msg=\n"), "wf", "t1", "on-success", 5,
     "missing value"),
    (tasks("    t1:\n      on-success: t2\n    t2:\n      on-success: t1\n"), "wf", None,
     "tasks", 3, "no start task"),
    # join
    (tasks("    t1:\n      join: all\n"), "wf", "t1", "join", 5, "inbound"),
    (tasks("    t1:\n      on-success: t2\n    t2:\n      join: 2\n"), "wf", "t2", "join", 7,
     "found 1"),
    (tasks("    t1:\n      join: 0\n"), "wf", "t1", "join", 5, "positive integer"),
    (tasks("    t1:\n      join: some\n"), "wf", "t1", "join", 5, "'all', 'one'"),
    (tasks("    t1:\n      join: true\n"), "wf", "t1", "join", 5, "'all', 'one'"),
]


@pytest.mark.parametrize(("text", "workflow", "task", "field", "line", "words"), CASES)
def test_invalid_definitions(text: str, workflow: str | None, task: str | None,
                             field: str | None, line: int | None, words: str) -> None:
    e = error(text)
    assert words in e.message
    assert (e.workflow, e.task, e.field, e.line) == (workflow, task, field, line)
    text_of_error = str(e)
    for part in (workflow, task, field):
        if part:
            assert f"'{part}'" in text_of_error
    if line:
        assert f"line {line}" in text_of_error


REVERSE = "version: '2.0'\nwf:\n  type: reverse\n  tasks:\n"

REVERSE_CASES = [
    (REVERSE + "    t1:\n      requires: [t9]\n", "t1", "requires", 6, "unknown task 't9'"),
    (REVERSE + "    t1:\n      requires: [fail]\n", "t1", "requires", 6, "unknown task 'fail'"),
    (REVERSE + "    t1:\n      on-success: t2\n    t2: {}\n", "t1", "on-success", 6,
     "direct workflows"),
    (REVERSE + "    t1:\n      join: all\n", "t1", "join", 6, "direct workflows"),
    (REVERSE + "    t1:\n      requires: 5\n", "t1", "requires", 6, "list of strings"),
    (REVERSE + "    t1:\n      requires: [a, a]\n    a: {}\n", "t1", "requires", 6, "repeat"),
    (REVERSE + "    a:\n      requires: b\n    b:\n      requires: a\n", "b", "requires", 8,
     "cycle in requires: a -> b -> a"),
    (REVERSE + "    a:\n      requires: [b]\n    b:\n      requires: [c]\n"
     "    c:\n      requires: [b]\n", "c", "requires", 10, "cycle in requires: b -> c -> b"),
]


@pytest.mark.parametrize(("text", "task", "field", "line", "words"), REVERSE_CASES)
def test_invalid_reverse_workflows(text: str, task: str, field: str, line: int,
                                   words: str) -> None:
    e = error(text)
    assert words in e.message
    assert (e.workflow, e.task, e.field, e.line) == ("wf", task, field, line)


def test_task_defaults_of_reverse_workflow_refuse_on_clauses() -> None:
    e = error(REVERSE.replace("  tasks:\n", "  task-defaults:\n    on-error: [a]\n  tasks:\n")
              + "    a: {}\n")
    assert e.field == "task-defaults.on-error"
    assert "unknown key" in e.message


def test_str_without_location() -> None:
    assert str(ValidationError("plain")) == "plain"
    assert ValidationError("m", "w", "t", "f", 3).to_dict() == {
        "message": "m", "workflow": "w", "task": "t", "field": "f", "line": 3}


@pytest.mark.parametrize(
    ("text", "field", "line", "words"),
    [
        ("version: '2.0'\nname: wb\ncolour: red\n", "colour", 3, "unknown key"),
        ("version: '2.0'\nworkflows: {w: {tasks: {t: {}}}}\n", "name", 1, "needs a 'name'"),
        ("version: '2.0'\nname: wb\nworkflows: []\n", "workflows", 3, "non-empty mapping"),
        ("version: '2.0'\nname: wb\nactions:\n  a1:\n    base-input: {}\n", "actions.a1.base",
         5, "needs a 'base'"),
        ("version: '2.0'\nname: wb\nactions:\n  a1: std.echo\n", "actions.a1", 4,
         "must be a mapping"),
        ("version: '2.0'\nname: wb\nworkflows:\n  version: '3.0'\n  w: {tasks: {t: {}}}\n",
         "version", 4, "'2.0'"),
    ],
)
def test_invalid_workbooks(text: str, field: str | None, line: int | None, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_workbook(text)
    assert words in info.value.message
    assert (info.value.field, info.value.line) == (field, line)


def test_workbook_workflow_error_names_qualified_workflow() -> None:
    text = ("version: '2.0'\nname: wb\nworkflows:\n  w:\n    tasks:\n      t:\n"
            "        on-success: nope\n")
    with pytest.raises(ValidationError) as info:
        parse_workbook(text)
    e = info.value
    assert (e.workflow, e.task, e.field, e.line) == ("wb.w", "t", "on-success", 7)


@pytest.mark.parametrize(
    ("text", "field", "line", "words"),
    [
        ("version: '2.0'\na1:\n  input: [x]\n", "a1.base", 3, "needs a 'base'"),
        ("version: '2.0'\na1:\n  base: std.echo\n  colour: red\n", "a1.colour", 4,
         "unknown key"),
        ("version: '2.0'\na1:\n  base: std.echo x=\n", "a1.base", 3, "missing value"),
        ("version: '2.0'\na1:\n  base: std.echo\n  base-input: 3\n", "a1.base-input", 4,
         "mapping"),
        ("version: '2.0'\na1:\n  base: std.echo\n  output: <% $. %>\n", "a1.output", 4,
         "invalid YAQL"),
        ("version: '2.0'\n", None, 1, "no action"),
    ],
)
def test_invalid_actions(text: str, field: str | None, line: int | None, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_actions(text)
    assert words in info.value.message
    assert (info.value.field, info.value.line) == (field, line)
