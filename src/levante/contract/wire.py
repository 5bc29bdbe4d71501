"""What the two services call each other by: paths, runner names, subscription names.

The platform launches a workflow with ``params.env.levante`` (:data:`ENV_KEY`: the
platform execution id, the receiver's URL, a credential, the secret inputs) and
``params.notify`` holding ``{"type": "levante"}`` (:data:`SUBSCRIBER`). The engine's
notifier POSTs events to :data:`RECEIVER_PATH`; the platform reports to the engine on
:func:`action_report_path` and :func:`workflow_command_path`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# --- platform side -----------------------------------------------------------------------

RECEIVER_PATH: Final = "/v1/webhooks/levante"  # events of Levante's notifier (signed)
MISTRAL_RECEIVER_PATH: Final = "/v1/webhooks/mistral"  # the same from a Mistral publisher

CHILDREN_PATH: Final = "/v1/executions"  # the engine starts a task's platform action here
# How the platform shows a secret parameter (the engine masks its copy of those inputs).
PLATFORM_SECRET_MASK: Final = "********"

# --- engine side ---------------------------------------------------------------------------


def action_report_path(action_execution_id: str) -> str:
    """Where the end of a child execution that a task started is reported."""
    return f"/v2/action_executions/{action_execution_id}"


def workflow_command_path(workflow_execution_id: str) -> str:
    """Where a cancel, pause or resume asked on the platform goes."""
    return f"/v2/executions/{workflow_execution_id}"


# --- names inside a launched workflow's params ---------------------------------------------

ENV_KEY: Final = "levante"  # params.env.levante: what the platform tells the engine
SUBSCRIBER: Final = "levante"  # params.notify type (and delivery subscriber) of the platform
WEBHOOK_SUBSCRIBER: Final = "webhook"  # Mistral's publisher: any receiver
CREDENTIAL_HEADER: Final = "St2-Api-Key"  # how the engine presents env.levante.credential

# --- runners ----------------------------------------------------------------------------

# Workflows run by the engine: launched there, ended by its events (or the tracker), and
# cancel/pause/resume asked on the platform are commands to the engine. (Orquesta joins
# when the engine speaks that language.)
ENGINE_RUNNERS: Final = frozenset({"mistral-v2", "levante-workflow"})
# Runners whose executions start others (a tree): the engine's, and those the platform
# runs itself (action-chain; orquesta's name, reserved by StackStorm).
WORKFLOW_RUNNERS: Final = ENGINE_RUNNERS | frozenset({"orquesta", "action-chain"})


def runner_of(action: Any) -> str:
    """The runner type of an action snapshot ("" when it has none)."""
    return str(action.get("runner_type") or "") if isinstance(action, Mapping) else ""
