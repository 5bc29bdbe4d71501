"""Mistral's execution states (named in :mod:`levante.contract.states`) and the
transitions between them that are allowed.

`DELAYED` is Mistral's `RUNNING_DELAYED` (its value is the string "DELAYED"): a task
waiting for `wait-before`, `wait-after` or a retry delay.
"""

from __future__ import annotations

from typing import Final

from levante.contract.states import (
    CANCELLED,
    DELAYED,
    ERROR,
    IDLE,
    PAUSED,
    RUNNING,
    SKIPPED,
    SUCCESS,
    WAITING,
)
from levante.contract.states import ENGINE_ACTIVE as ACTIVE
from levante.contract.states import ENGINE_COMPLETED as COMPLETED
from levante.contract.states import ENGINE_STATES as ALL

__all__ = ["ACTIVE", "ALL", "CANCELLED", "COMPLETED", "DELAYED", "ERROR", "IDLE", "PAUSED",
           "RUNNING", "RUNNING_DELAYED", "SKIPPED", "SUCCESS", "WAITING", "is_active",
           "is_completed", "is_success_like", "is_valid", "is_valid_transition"]

RUNNING_DELAYED: Final = DELAYED  # (Mistral's name; its value is "DELAYED" here)

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
