"""The workflow runner (``mistral-v2``, alias ``levante-workflow``).

The action's entry point is a Mistral v2 workflow YAML in its pack; running it starts the
workflow on the engine. The platform's runner service does that with its launcher (see
:class:`levante.platform.workflows.launch.Launcher`), which holds where the engine is; the
outcome is ``running``: the execution stays running, released by the runner, and the
engine's events (or the results tracker) end it. Run without a runner service (no
launcher), a workflow action fails saying so.
"""

from __future__ import annotations

from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest


async def run_workflow(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """A workflow action outside the runner service: ``failed``, with the reason."""
    del request, on_output
    return RunOutcome("failed", {"error": "The workflow could not be started: the workflow "
                                          "runner needs the platform's runner service, "
                                          "which knows where the engine is", "tasks": []})
