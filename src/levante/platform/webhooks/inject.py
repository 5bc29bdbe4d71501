"""The ``inject-trigger`` runner of ``core.inject_trigger``: records one instance of a
trigger, in the runner's process (StackStorm's action posted to the generic webhook from
a Python process of its own; the instance and the result are the same, at the cost of an
insert instead of a process)."""

from __future__ import annotations

from levante.platform.runners.action_chain import DATABASE
from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest
from levante.platform.webhooks import store
from levante.platform.webhooks.generic import BadGenericRequest, generic_instance


async def run_inject_trigger(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Record an instance of ``trigger`` with ``payload``; the result is what the generic
    webhook answers (``trigger``, ``payload``, ``trace_tag``)."""
    del on_output
    db = DATABASE.get()
    if db is None:
        return RunOutcome("failed", {"error": "the inject-trigger runner needs the platform's "
                                              "database (it runs in the runner service)"})
    params = request.parameters
    try:
        ref, payload = generic_instance(params.get("trigger"), params.get("payload"))
    except BadGenericRequest as exc:
        return RunOutcome("failed", {"error": str(exc)})
    instance = store.post_generic(db, ref, payload)
    if instance is None:
        return RunOutcome("failed", {"error": f"Trigger {ref} not found."})
    return RunOutcome("succeeded", {"trigger": ref, "payload": payload,
                                    "trace_tag": params.get("trace_tag"),
                                    "trigger_instance_id": instance})
