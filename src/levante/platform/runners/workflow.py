"""The workflow runner (``mistral-v2``, alias ``levante-workflow``).

The action's entry point is a Mistral v2 workflow YAML in its pack; running it starts the
workflow on the engine (see :mod:`levante.platform.workflow_launch`). The outcome is
``running``: the execution stays running, released by the runner, and the engine's events
(or the results tracker) end it.
"""

from __future__ import annotations

from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest
from levante.platform.workflow_launch import launch


async def run_workflow(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Launch the workflow on the engine; ``failed`` with the reason when it cannot start."""
    del on_output
    return await launch(request)
