"""The events the engine publishes and what each one means for a state.

An event names a change of a workflow execution (``WORKFLOW_*``) or of one of its tasks
(``TASK_*``). Its meaning is the engine state it reports (the body's ``state`` when the
body has none) and, for workflow events, the word the trace prints. The engine may emit
only these (a unit test walks the engine's source and checks every event name it uses);
the receiver refuses any other name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from levante.contract import states


class Event(StrEnum):
    """Every event name on the wire (Mistral's names)."""

    WORKFLOW_LAUNCHED = "WORKFLOW_LAUNCHED"
    WORKFLOW_SUCCEEDED = "WORKFLOW_SUCCEEDED"
    WORKFLOW_FAILED = "WORKFLOW_FAILED"
    WORKFLOW_CANCELLED = "WORKFLOW_CANCELLED"
    WORKFLOW_PAUSED = "WORKFLOW_PAUSED"
    WORKFLOW_RESUMED = "WORKFLOW_RESUMED"
    WORKFLOW_RERUN = "WORKFLOW_RERUN"
    TASK_LAUNCHED = "TASK_LAUNCHED"
    TASK_SUCCEEDED = "TASK_SUCCEEDED"
    TASK_FAILED = "TASK_FAILED"
    TASK_CANCELLED = "TASK_CANCELLED"
    TASK_PAUSED = "TASK_PAUSED"
    TASK_RESUMED = "TASK_RESUMED"
    TASK_RERUN = "TASK_RERUN"
    TASK_SKIPPED = "TASK_SKIPPED"


TASK_PREFIX: Final = "TASK_"
WORKFLOW_PREFIX: Final = "WORKFLOW_"


@dataclass(frozen=True)
class Meaning:
    """What an event says: the engine state it reports, and (workflow events) the word
    a trace uses for it."""

    state: str
    word: str = "task"


MEANINGS: Final[dict[Event, Meaning]] = {
    Event.WORKFLOW_LAUNCHED: Meaning(states.RUNNING, "launch"),
    Event.WORKFLOW_SUCCEEDED: Meaning(states.SUCCESS, "completion"),
    Event.WORKFLOW_FAILED: Meaning(states.ERROR, "completion"),
    Event.WORKFLOW_CANCELLED: Meaning(states.CANCELLED, "completion"),
    Event.WORKFLOW_PAUSED: Meaning(states.PAUSED, "pause"),
    Event.WORKFLOW_RESUMED: Meaning(states.RUNNING, "resume"),
    Event.WORKFLOW_RERUN: Meaning(states.RUNNING, "re-run"),
    Event.TASK_LAUNCHED: Meaning(states.RUNNING),
    Event.TASK_SUCCEEDED: Meaning(states.SUCCESS),
    Event.TASK_FAILED: Meaning(states.ERROR),
    Event.TASK_CANCELLED: Meaning(states.CANCELLED),
    Event.TASK_PAUSED: Meaning(states.PAUSED),
    Event.TASK_RESUMED: Meaning(states.RUNNING),
    Event.TASK_RERUN: Meaning(states.RUNNING),
    Event.TASK_SKIPPED: Meaning(states.SKIPPED),
}

# event name -> the engine state it reports (the form every user of the map wants).
EVENT_STATES: Final[dict[str, str]] = {str(e): m.state for e, m in MEANINGS.items()}
WORKFLOW_EVENT_STATES: Final[dict[str, str]] = {
    k: v for k, v in EVENT_STATES.items() if k.startswith(WORKFLOW_PREFIX)}
TASK_EVENT_STATES: Final[dict[str, str]] = {
    k: v for k, v in EVENT_STATES.items() if k.startswith(TASK_PREFIX)}

# The other way round: the event a change of state publishes (when no other is named:
# a launch, a resume and a re-run are named by the engine where they happen).
WORKFLOW_EVENT_OF_STATE: Final[dict[str, str]] = {
    states.SUCCESS: Event.WORKFLOW_SUCCEEDED.value,
    states.ERROR: Event.WORKFLOW_FAILED.value,
    states.CANCELLED: Event.WORKFLOW_CANCELLED.value,
    states.PAUSED: Event.WORKFLOW_PAUSED.value,
}
TASK_EVENT_OF_STATE: Final[dict[str, str]] = {
    states.RUNNING: Event.TASK_LAUNCHED.value,
    states.SUCCESS: Event.TASK_SUCCEEDED.value,
    states.ERROR: Event.TASK_FAILED.value,
    states.CANCELLED: Event.TASK_CANCELLED.value,
    states.PAUSED: Event.TASK_PAUSED.value,
    states.SKIPPED: Event.TASK_SKIPPED.value,
}

# Events for the platform that may wait `[notifier] task_event_linger` for company (task
# events and the launch: the platform set `running` when it started the workflow).
LINGERING_WORKFLOW_EVENTS: Final = (str(Event.WORKFLOW_LAUNCHED),)


def is_known(name: str) -> bool:
    return name in EVENT_STATES


def is_task_event(name: str) -> bool:
    return name.startswith(TASK_PREFIX)


def state_of(name: str) -> str | None:
    """The engine state an event reports (None: not an event of the contract)."""
    return EVENT_STATES.get(name)


def word_of(name: str) -> str:
    """What a trace calls a workflow event ("change" for a name it does not know)."""
    try:
        return MEANINGS[Event(name)].word
    except ValueError:
        return "change"


def carries_tasks(name: str) -> bool:
    """Whether the body of a workflow event carries the output and the tasks (every
    workflow event but the launch)."""
    return name.startswith(WORKFLOW_PREFIX) and name != Event.WORKFLOW_LAUNCHED


def lingers(name: str) -> bool:
    """Whether an event for the platform may wait for company: task events, and the
    launch. Ends, pauses and resumes are sent at once, with everything before them."""
    return name.startswith(TASK_PREFIX) or name in LINGERING_WORKFLOW_EVENTS
