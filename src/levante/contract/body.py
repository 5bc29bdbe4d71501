"""The shape of an event body: what the engine's notifier sends and the receiver reads.

A body is one event, or a batch ``{"events": [...]}`` of events of one execution tree in
order. Task events carry the task; workflow events the workflow execution and (all but the
launch) its ``output`` and ``tasks``. ``event_id`` is the engine's sequence of the event
in its tree (the receiver applies an event once); ``platform_execution_id`` the platform
execution that launched the tree. A Mistral server's ``webhook`` publisher sends the same
fields without ``event``/``event_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NotRequired, TypedDict


class TaskBody(TypedDict, total=False):
    """A task as events (and the platform's ``result.tasks``) carry it."""

    id: str
    name: str
    workflow_execution_id: str
    workflow_name: str
    workflow_namespace: str
    workflow_id: str | None
    root_execution_id: str | None
    type: str | None
    state: str
    state_info: str | None
    published: dict[str, Any]
    result: Any
    input: Any
    project_id: str | None
    created_at: str | None
    updated_at: str | None


class EventFields(TypedDict, total=False):
    """The fields every Levante event adds to the workflow or task it is about."""

    event: str
    event_id: int
    timestamp: str | None
    platform_execution_id: NotRequired[str]


class TaskEventBody(TaskBody, EventFields, total=False):
    """A ``TASK_*`` event."""


class WorkflowEventBody(EventFields, total=False):
    """A ``WORKFLOW_*`` event (``output`` and ``tasks`` on all but the launch)."""

    id: str
    name: str | None
    workflow_name: str | None
    workflow_namespace: str
    workflow_id: str | None
    root_execution_id: str
    task_execution_id: str | None
    state: str
    state_info: str | None
    project_id: str | None
    created_at: str | None
    updated_at: str | None
    output: Any
    tasks: list[TaskBody]


EventBody = TaskEventBody | WorkflowEventBody


class EventBatch(TypedDict):
    """Several events of one tree, in order, in one request."""

    events: list[EventBody]


# The fields of a task the platform keeps in ``result.tasks`` (StackStorm's shape).
TASK_FIELDS: Final = ("id", "name", "workflow_execution_id", "workflow_name", "created_at",
                      "updated_at", "state", "state_info", "input", "result", "published")
# Never sent: subscriptions carry headers (credentials), params carry the environment.
PRIVATE_KEYS: Final = frozenset({"params", "env", "notify"})


def batch(bodies: list[EventBody]) -> EventBody | EventBatch:
    """One body as itself, several as a batch."""
    return bodies[0] if len(bodies) == 1 else {"events": bodies}


def is_batch(body: Any) -> bool:
    """Whether a parsed body is a batch (a batch has ``events`` and no ``id``)."""
    return isinstance(body, Mapping) and "events" in body and "id" not in body
