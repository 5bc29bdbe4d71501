"""The states of both sides and how the engine's map to the platform's.

Engine states are Mistral's (``DELAYED`` is Mistral's ``RUNNING_DELAYED``, whose wire value
may be either); platform statuses are StackStorm's. The receiver and the results tracker
turn an engine state into a platform status with :data:`STATUS_OF`; the reports the other
way use :data:`ACTION_STATE_OF` and :data:`COMMAND_STATE_OF`.
"""

from __future__ import annotations

from typing import Final

# --- the engine (Mistral) ------------------------------------------------------------------

IDLE: Final = "IDLE"
WAITING: Final = "WAITING"
RUNNING: Final = "RUNNING"
DELAYED: Final = "DELAYED"
# Mistral's wire name of DELAYED: a body may say it (the receiver reads it as RUNNING).
MISTRAL_RUNNING_DELAYED: Final = "RUNNING_DELAYED"
PAUSED: Final = "PAUSED"
SUCCESS: Final = "SUCCESS"
ERROR: Final = "ERROR"
CANCELLED: Final = "CANCELLED"
SKIPPED: Final = "SKIPPED"

ENGINE_STATES: Final = frozenset(
    {IDLE, WAITING, RUNNING, DELAYED, PAUSED, SUCCESS, ERROR, CANCELLED, SKIPPED}
)
ENGINE_COMPLETED: Final = frozenset({SUCCESS, ERROR, CANCELLED, SKIPPED})
ENGINE_ACTIVE: Final = frozenset({IDLE, WAITING, RUNNING, DELAYED, PAUSED})
# What a body may say (the engine's states and Mistral's spelling of DELAYED).
WIRE_STATES: Final = ENGINE_STATES | {MISTRAL_RUNNING_DELAYED}
# A workflow in these has ended for good (SKIPPED is for tasks).
WORKFLOW_TERMINAL: Final = frozenset({SUCCESS, ERROR, CANCELLED})

# --- the platform (StackStorm) -----------------------------------------------------------

PLATFORM_STATUSES: Final = (
    "requested", "scheduled", "delayed", "running", "succeeded", "failed", "timeout",
    "abandoned", "canceling", "canceled", "pausing", "paused", "resuming", "pending",
)
DONE: Final = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
# Not yet taken by a runner: a cancel ends them at once.
PLATFORM_WAITING: Final = frozenset({"requested", "scheduled", "delayed", "pending", "paused"})
# Taken by a runner: a cancel asks it to stop the process.
PLATFORM_ACTIVE: Final = frozenset({"running", "canceling", "pausing", "resuming"})

# --- between them ----------------------------------------------------------------------------

# Engine state of a workflow execution -> the status of its platform execution.
STATUS_OF: Final[dict[str, str]] = {
    RUNNING: "running",
    SUCCESS: "succeeded",
    ERROR: "failed",
    CANCELLED: "canceled",
    PAUSED: "paused",
}
# Platform status of a finished child -> the engine state of its action execution.
ACTION_STATE_OF: Final[dict[str, str]] = {
    "succeeded": SUCCESS,
    "failed": ERROR,
    "timeout": ERROR,
    "abandoned": ERROR,
    "canceled": CANCELLED,
}
# Platform status asked of a workflow execution -> the engine state to ask for.
COMMAND_STATE_OF: Final[dict[str, str]] = {
    "canceling": CANCELLED, "pausing": PAUSED, "resuming": RUNNING,
}

