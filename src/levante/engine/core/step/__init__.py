"""One step of the engine, inside one transaction with the root execution locked.

A `Step` loads the executions it needs, applies what happened (a start, an action result, a
timer, a command), then advances: processes finished tasks' transitions, starts the next
tasks, runs cheap inline actions on the spot, and finishes workflows. Everything it decides
is written by `flush()` (rows, follow-up jobs, outbox events) in the caller's transaction;
only after commit does anything act on it. Decisions themselves live in `machine`.

`Step` is assembled from parts, one concern each, over `StepBase` (state, bookkeeping,
flush, in `base`): `launch` (starting tasks, with-items), `actions` (running actions and
sub-workflows), `results` (retry and the other policies, publish, timers),
`transitions` (on-* clauses, joins, finishing workflows), `commands` (pause,
resume, cancel, re-run...).
"""

from __future__ import annotations

from levante.engine.core.step.actions import ActionRunning
from levante.engine.core.step.base import (
    INTERRUPTED,
    TASK_EVENTS,
    WORKFLOW_EVENTS,
    DefinitionCache,
    SpecCache,
    StaleDefinition,
    StampCheck,
    StepShared,
    WfEx,
)
from levante.engine.core.step.commands import Commands
from levante.engine.core.step.launch import Launching
from levante.engine.core.step.results import Completion
from levante.engine.core.step.transitions import Transitions

__all__ = [
    "INTERRUPTED",
    "TASK_EVENTS",
    "WORKFLOW_EVENTS",
    "DefinitionCache",
    "SpecCache",
    "StaleDefinition",
    "StampCheck",
    "Step",
    "StepShared",
    "WfEx",
]


class Step(Commands, Transitions, Completion, ActionRunning, Launching):
    """The unit of work of the engine; see the module docstring."""
