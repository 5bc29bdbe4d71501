"""Errors of the engine's runtime that the REST layer maps to status codes.

They subclass the definition store's errors so that one mapping covers both:
NotFound -> 404, InvalidRequest (InvalidStateTransition, InputError) -> 400, and an
error with an `http_status` attribute (NotAllowed) -> that status.
"""

from __future__ import annotations

from levante.engine.store.definitions import InvalidRequest, NotFound

__all__ = ["InputError", "InvalidRequest", "InvalidStateTransition", "NotAllowed", "NotFound"]


class InvalidStateTransition(InvalidRequest):
    """The execution cannot move to the state asked for (Mistral answers 400)."""


class InputError(InvalidRequest):
    """Input or params that do not fit the workflow or action (400, naming the field)."""


class NotAllowed(InvalidStateTransition):
    """An operation Mistral refuses as not allowed (its NotAllowedException: 403), e.g.
    deleting an execution that has not ended without `force`."""

    http_status = 403
