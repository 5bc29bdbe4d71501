"""What every runner shares: the runner type description, the request and the outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from levante.platform.core.pack_types import ActionMeta

OutputCallback = Callable[[str, str], None]
"""``on_output(stream, text)``: ``stream`` is ``'stdout'`` or ``'stderr'``, ``text`` a line
(with its newline) or a chunk of a long line, in the order the action wrote it."""

# "running": handed over (a workflow on the engine); the engine's events end it.
Status = Literal["succeeded", "failed", "timeout", "canceled", "running"]


@dataclass(frozen=True)
class RunRequest:
    """One execution to run: the action, its validated parameters and the limits."""

    execution_id: str
    action: ActionMeta
    parameters: dict[str, Any]
    timeout: float | None = None
    pack_path: Path | str | None = None
    allow_sudo: bool = False
    env_extra: dict[str, str] = field(default_factory=dict)
    # The pack's registered config (python actions' ``self.config``); None: not looked up.
    pack_config: dict[str, Any] | None = None
    # Pack environments ([packs]): where virtualenvs live, and whether a pack's top-level
    # lib/ goes on its Python actions' path.
    virtualenvs_dir: Path | None = None
    common_libs: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """How the run ended and its result, in StackStorm's shape for the runner."""

    status: Status
    result: Any


RunFunction = Callable[[RunRequest, OutputCallback], Awaitable[RunOutcome]]


@dataclass(frozen=True)
class RunnerType:
    """A runner as ``/v1/runnertypes`` lists it."""

    name: str
    description: str
    enabled: bool
    runner_parameters: dict[str, dict[str, Any]]
    output_key: str | None = None
    output_schema: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    runner_module: str = ""

    @property
    def uid(self) -> str:
        return f"runner_type:{self.name}"

    def to_api(self) -> dict[str, Any]:
        """StackStorm's JSON shape for a runner type (the caller adds ``id``)."""
        body: dict[str, Any] = {
            "name": self.name,
            "uid": self.uid,
            "description": self.description,
            "enabled": self.enabled,
            "runner_package": self.runner_module or self.name,
            "runner_module": self.runner_module or self.name,
            "runner_parameters": self.runner_parameters,
            "output_schema": self.output_schema,
        }
        if self.output_key:
            body["output_key"] = self.output_key
        return body


def timeout_of(parameters: dict[str, Any], default: float | None) -> float | None:
    """The timeout an execution runs with: its ``timeout`` parameter, else ``default``."""
    value = parameters.get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default
