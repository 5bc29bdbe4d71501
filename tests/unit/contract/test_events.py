"""Every event the engine can emit has a declared meaning in the contract.

The engine names events as string literals (or the contract's maps and `Event` members);
this walks the engine's source and fails on any event-like name the contract does not
declare, and on an event name built at run time where events are emitted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import levante.engine
from levante.contract import events, states
from levante.contract.events import MEANINGS, Event
from levante.platform.workflows.receiver import BadEvent, parse_event

ENGINE = Path(levante.engine.__file__).parent
EVENT_LIKE = re.compile(r"^(WORKFLOW|TASK)_[A-Z]+$")
# Calls that take an event name (the engine's emit and the state changes that emit).
EMITTING = {"emit", "set_wf_state", "set_task_state", "reopen"}


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for path in sorted(ENGINE.rglob("*.py"))]


def test_the_engine_source_is_found() -> None:
    names = {path.relative_to(ENGINE).as_posix() for path, _ in _sources()}
    assert {"core/step/base.py", "core/step/commands.py"} <= names


def _event_names(tree: ast.Module) -> dict[str, int]:
    """Event-like names used in a module (string literals, ``Event.X``), with a line."""
    exported = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                for n in ast.walk(node.value)}  # names of the module, not events
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if id(node) in exported:
            continue
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and EVENT_LIKE.match(node.value)):
            found.setdefault(node.value, node.lineno)
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "Event"):
            found.setdefault(node.attr, node.lineno)
    return found


def test_the_walk_finds_an_undeclared_event() -> None:
    tree = ast.parse('__all__ = ["TASK_EVENTS"]\n'
                     'def f(step, wf):\n    step.emit(wf, "WORKFLOW_EXPLODED")\n')
    names = _event_names(tree)
    assert names == {"WORKFLOW_EXPLODED": 3}
    assert not events.is_known("WORKFLOW_EXPLODED")


def test_every_event_name_in_the_engine_has_a_meaning() -> None:
    found: dict[str, str] = {}
    for path, tree in _sources():
        for name, line in _event_names(tree).items():
            found.setdefault(name, f"{path.relative_to(ENGINE)}:{line}")
    assert found, "no event name found in the engine: the walk is broken"
    unknown = {name: where for name, where in found.items() if not events.is_known(name)}
    assert not unknown, f"events without a meaning in levante.contract.events: {unknown}"


def test_events_are_never_built_where_they_are_emitted() -> None:
    built: list[str] = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in EMITTING):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.JoinedStr | ast.BinOp):
                    built.append(f"{path.relative_to(ENGINE)}:{node.lineno}")
    assert not built, f"event names built at run time (name them in the contract): {built}"


def test_the_state_maps_of_the_engine_publish_contract_events() -> None:
    from levante.engine.core.step import base as step_base

    for mapping in (step_base.WORKFLOW_EVENTS, step_base.TASK_EVENTS):
        for state, name in mapping.items():
            assert state in states.ENGINE_STATES
            assert events.is_known(name)
            assert events.state_of(name) == state


def test_every_event_has_one_meaning_with_an_engine_state() -> None:
    assert set(MEANINGS) == set(Event)
    for event, meaning in MEANINGS.items():
        assert meaning.state in states.ENGINE_STATES
        assert event.startswith((events.TASK_PREFIX, events.WORKFLOW_PREFIX))


@pytest.mark.parametrize("event", list(Event))
def test_the_receiver_accepts_every_event_and_reads_its_state(event: Event) -> None:
    if events.is_task_event(event):
        body = {"event": str(event), "id": "t1", "workflow_execution_id": "w1"}
    else:
        body = {"event": str(event), "id": "w1"}
    update = parse_event(body)
    assert update.state == events.state_of(event)
    assert update.kind == ("task" if events.is_task_event(event) else "workflow")


def test_the_receiver_refuses_an_undeclared_event() -> None:
    with pytest.raises(BadEvent, match="not a known event"):
        parse_event({"event": "WORKFLOW_EXPLODED", "id": "w1"})
