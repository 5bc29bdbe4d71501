"""The noop runner: succeeds at once, for tests, benchmarks and placeholders."""

from __future__ import annotations

from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest


async def run_noop(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Succeed with StackStorm's empty shell result."""
    del request, on_output
    return RunOutcome("succeeded", {"failed": False, "succeeded": True, "return_code": 0,
                                    "stdout": "", "stderr": ""})


