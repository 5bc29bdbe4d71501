"""The runners: how an action's process (or request) is actually carried out.

The platform service calls :func:`run_action` with a :class:`RunRequest` whose parameters
were already checked by :func:`levante.platform.core.parameters.validate_parameters` against
``get_runner(action.runner_type).runner_parameters`` merged with the action's own. Output
is handed to ``on_output`` as it arrives; the outcome carries StackStorm's result shape.

Cancelling the task that awaits :func:`run_action` kills the action's whole process group
and re-raises :class:`asyncio.CancelledError`; a timeout kills it and ends ``timeout``.
"""

from __future__ import annotations

import importlib

from levante.platform.runners.base import (
    OutputCallback,
    RunFunction,
    RunnerType,
    RunOutcome,
    RunRequest,
    timeout_of,
)
from levante.platform.runners.catalog import RUNNER_TYPES

__all__ = [
    "RUNNER_TYPES",
    "OutputCallback",
    "RunOutcome",
    "RunRequest",
    "RunnerType",
    "UnknownRunner",
    "get_runner",
    "run_action",
    "runner_names",
    "runner_types",
    "sudo_refusal",
    "timeout_of",
]

# Runner name -> "module:function" of its run coroutine, imported on first use.
_RUN_FUNCTIONS: dict[str, str] = {
    "local-shell-cmd": "levante.platform.runners.local:run_shell_cmd",
    "local-shell-script": "levante.platform.runners.local:run_shell_script",
    "python-script": "levante.platform.runners.python_runner:run_python_script",
    "http-request": "levante.platform.runners.http:run_http_request",
    "noop": "levante.platform.runners.noop:run_noop",
    "remote-shell-cmd": "levante.platform.runners.remote:run_remote_cmd",
    "remote-shell-script": "levante.platform.runners.remote:run_remote_script",
    "mistral-v2": "levante.platform.runners.workflow:run_workflow",
    "action-chain": "levante.platform.runners.action_chain:run_chain",
    "inquirer": "levante.platform.inquiries.runner:run_inquirer",
    "inject-trigger": "levante.platform.webhooks.inject:run_inject_trigger",
}

_BY_NAME: dict[str, RunnerType] = {}
for _rt in RUNNER_TYPES:
    _BY_NAME[_rt.name] = _rt
    for _alias in _rt.aliases:
        _BY_NAME[_alias] = _rt


class UnknownRunner(KeyError):
    """No runner of that name (or alias)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"Runner type '{self.name}' cannot be found"


def runner_types() -> list[RunnerType]:
    """Every runner type, for ``/v1/runnertypes``."""
    return list(RUNNER_TYPES)


def runner_names() -> set[str]:
    """Names and aliases an action's ``runner_type`` may use."""
    return set(_BY_NAME)


def get_runner(name: str) -> RunnerType:
    """The runner type by name or alias; :class:`UnknownRunner` otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownRunner(name) from None


def sudo_refusal(runner_type: str, parameters: dict[str, object], allow_sudo: bool) -> str | None:
    """Why this call must be refused because it asks for sudo, or None when it may run.

    The service may call this before accepting an execution (to answer 400); run_action
    checks it again and fails the execution with the same message.
    """
    if allow_sudo or parameters.get("sudo") is not True:
        return None
    del runner_type
    return ("sudo is not allowed on this platform: set [runner] allow_sudo = true "
            "to run actions with sudo")


def _run_function(name: str) -> RunFunction:
    target = _RUN_FUNCTIONS[get_runner(name).name]
    module_name, _, func_name = target.partition(":")
    func: RunFunction = getattr(importlib.import_module(module_name), func_name)
    return func


async def run_action(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Run one action to its end and return how it ended (never raises for action failures).

    An unknown runner or a refused sudo give a ``failed`` outcome whose
    result says why.
    """
    try:
        func = _run_function(request.action.runner_type)
    except UnknownRunner as exc:
        return RunOutcome("failed", {"error": str(exc)})
    refusal = sudo_refusal(request.action.runner_type, request.parameters, request.allow_sudo)
    if refusal:
        return RunOutcome("failed", {"error": refusal, "stdout": "", "stderr": refusal,
                                     "return_code": 1, "succeeded": False, "failed": True})
    return await func(request, on_output)
