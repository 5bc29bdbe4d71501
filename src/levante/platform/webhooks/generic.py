"""What the generic webhook (``POST /v1/webhooks/st2``) and ``core.inject_trigger`` both
take: a trigger ref and a payload object. One check, so that both refuse the same input
with the same words."""

from __future__ import annotations

from typing import Any


class BadGenericRequest(ValueError):
    """The trigger or the payload is not what a generic instance needs; says which."""


def generic_instance(trigger: Any, payload: Any) -> tuple[str, dict[str, Any]]:
    """(trigger ref, payload) of an instance to record; a missing payload is ``{}``."""
    if not trigger:
        raise BadGenericRequest("Trigger not specified: 'trigger' must name a trigger "
                                "(a trigger ref, e.g. mypack.mytrigger).")
    if not isinstance(trigger, str):
        raise BadGenericRequest("'trigger' must be a trigger ref (a string).")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise BadGenericRequest("'payload' must be an object.")
    return trigger, payload
