"""Mistral's execution states and the transitions between them that are allowed.

`DELAYED` is Mistral's `RUNNING_DELAYED` (its value is the string "DELAYED"): a task
waiting for `wait-before`, `wait-after` or a retry delay.
"""

from __future__ import annotations

from typing import Final

IDLE: Final = "IDLE"
WAITING: Final = "WAITING"
RUNNING: Final = "RUNNING"
DELAYED: Final = "DELAYED"
RUNNING_DELAYED: Final = DELAYED
PAUSED: Final = "PAUSED"
SUCCESS: Final = "SUCCESS"
ERROR: Final = "ERROR"
CANCELLED: Final = "CANCELLED"
SKIPPED: Final = "SKIPPED"

ALL: Final = frozenset(
    {IDLE, WAITING, RUNNING, DELAYED, PAUSED, SUCCESS, ERROR, CANCELLED, SKIPPED}
)
COMPLETED: Final = frozenset({SUCCESS, ERROR, CANCELLED, SKIPPED})
ACTIVE: Final = frozenset({IDLE, WAITING, RUNNING, DELAYED, PAUSED})

# state -> states it may move to (Mistral's table, SKIPPED added for skipped tasks).
_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    IDLE: frozenset({RUNNING, ERROR, CANCELLED, PAUSED, SKIPPED}),
    RUNNING: frozenset({IDLE, DELAYED, PAUSED, SUCCESS, ERROR, CANCELLED}),
    DELAYED: frozenset({RUNNING, ERROR, CANCELLED, PAUSED}),
    WAITING: frozenset({RUNNING, ERROR, CANCELLED}),
    PAUSED: frozenset({RUNNING, ERROR, CANCELLED, IDLE, DELAYED}),
    SUCCESS: frozenset(),
    ERROR: frozenset({RUNNING, SKIPPED}),
    CANCELLED: frozenset({RUNNING}),
    SKIPPED: frozenset(),
}


def is_valid(state: str) -> bool:
    return state in ALL


def is_completed(state: str) -> bool:
    return state in COMPLETED


def is_active(state: str) -> bool:
    return state in ACTIVE


def is_valid_transition(from_state: str, to_state: str) -> bool:
    """True when `from_state` may become `to_state` (staying put is always allowed)."""
    if from_state == to_state:
        return True
    return to_state in _TRANSITIONS.get(from_state, frozenset())


def is_success_like(state: str) -> bool:
    """SUCCESS and SKIPPED let the workflow go on as a success would."""
    return state in (SUCCESS, SKIPPED)
