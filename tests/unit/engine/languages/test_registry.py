"""Languages are found by name in the engine's `Languages` (a value of its settings); a new
one is a module plus an entry in `BUILTIN`, or added to the settings' languages, and what
it parses is the graph the engine core walks (`machine`), the same as Mistral's."""

from __future__ import annotations

import pytest

from levante.engine import states
from levante.engine.core import machine
from levante.engine.languages import registry
from levante.engine.languages.base import DEFAULT_LANGUAGE, WorkflowLanguage
from levante.engine.languages.errors import ValidationError
from levante.engine.languages.graph import WorkflowGraph
from levante.engine.languages.registry import BUILTIN_LANGUAGES
from levante.engine.settings import EngineSettings

from .toy import ToyLanguage

TOY = """\
workflow: greet   # a toy workflow
input: name, punct=!
output: {"said": "<% $.said %>"}
hello: std.echo {"output": "Hello <% $.name %>"} -> shout, log | oops
shout: std.noop publish {"said": "loud"}
log: std.noop
oops: std.fail
"""


@pytest.fixture
def toy() -> WorkflowLanguage:
    return ToyLanguage()


def test_the_default_language_is_mistral_v2() -> None:
    assert DEFAULT_LANGUAGE == "mistral-v2"
    assert BUILTIN_LANGUAGES.get().name == DEFAULT_LANGUAGE
    assert BUILTIN_LANGUAGES.get(None) is BUILTIN_LANGUAGES.get(DEFAULT_LANGUAGE)
    assert DEFAULT_LANGUAGE in BUILTIN_LANGUAGES.names()


def test_an_unknown_language_is_named_with_the_known_ones() -> None:
    with pytest.raises(registry.UnknownLanguage) as caught:
        BUILTIN_LANGUAGES.get("cobol")
    assert "'cobol'" in str(caught.value) and DEFAULT_LANGUAGE in str(caught.value)


def test_languages_are_values(toy: WorkflowLanguage) -> None:
    """Adding a language makes new languages: the built-in ones stay as they are."""
    with_toy = BUILTIN_LANGUAGES.adding(toy)
    assert with_toy.get("toy") is toy
    assert with_toy.names() == sorted([DEFAULT_LANGUAGE, "toy"])
    assert with_toy.get() is BUILTIN_LANGUAGES.get()
    with pytest.raises(registry.UnknownLanguage):
        BUILTIN_LANGUAGES.get("toy")
    assert "toy" not in BUILTIN_LANGUAGES.names()
    assert EngineSettings(languages=with_toy).languages.get("toy") is toy
    assert EngineSettings().languages is BUILTIN_LANGUAGES


def test_the_toy_language_builds_the_graph(toy: WorkflowLanguage) -> None:
    [found] = BUILTIN_LANGUAGES.adding(toy).get("toy").parse_workflows(TOY)
    graph = found.graph
    assert found.name == "greet" and found.input == "name, punct"
    assert graph.input_names() == ["name", "punct"]
    assert graph.start_tasks() == ["hello"]
    assert graph.inbound("oops") == ["hello"]
    hello = graph.tasks["hello"]
    assert hello.next_task_names() == {"shout", "log", "oops"}
    assert hello.input == {"output": "Hello <% $.name %>"}
    assert graph.tasks["shout"].publish == {"said": "loud"}
    # stored and rebuilt through the language, as the definitions store does
    again = toy.load_workflow(graph.to_dict())
    assert again.to_dict() == graph.to_dict()


def test_the_core_walks_a_toy_graph_as_any_other(toy: WorkflowLanguage) -> None:
    graph: WorkflowGraph = toy.parse_workflows(TOY)[0].graph
    hello = graph.tasks["hello"]
    ok = machine.next_targets(hello, states.SUCCESS, lambda _: True)
    assert [(kind, t.task) for kind, t in ok] == [("on-success", "shout"),
                                                  ("on-success", "log")]
    failed = machine.next_targets(hello, states.ERROR, lambda _: True)
    assert [(kind, t.task) for kind, t in failed] == [("on-error", "oops")]
    assert machine.workflow_input(graph, {"name": "Ann"}) == {"name": "Ann", "punct": "!"}
    views = {"hello": [machine.TaskView("hello", states.SUCCESS, processed=True,
                                        routed_to=("shout", "log"))]}
    assert machine.join_status(graph, "shout", views) == machine.SATISFIED
    assert machine.join_status(graph, "oops", views) == machine.IMPOSSIBLE


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("hello: std.noop\n", "line 1"),
        ("workflow: w\n\nhello: std.noop -> nowhere\n", "task 'hello', field 'next', line 3"),
        ("workflow: w\nhello: std.echo {nope}\n", "field 'input', line 2"),
        ("workflow: w\nthis is not a task\n", "workflow 'w', line 2"),
    ],
)
def test_toy_errors_say_where(toy: WorkflowLanguage, text: str, where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        toy.parse_workflows(text)
    assert where in str(caught.value)
