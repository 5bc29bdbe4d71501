"""The engine's settings: read once from the configuration, then passed as a value.

The engine service builds one `EngineSettings` (`EngineSettings.from_config`) and hands it
to what needs it (the runtime, its steps, the workers, the API app, the actions); nothing
reads the configuration again or keeps settings in module state. Tests build the settings
they want (`EngineSettings(max_attempts=2)`, `dataclasses.replace(...)`).
"""

from __future__ import annotations

from dataclasses import dataclass

from levante.config import Config
from levante.engine.languages.registry import BUILTIN_LANGUAGES, Languages

DEFAULT_MAX_NESTING_DEPTH = 100
DEFAULT_EXPRESSION_TIMEOUT = 5.0


@dataclass(frozen=True)
class EngineSettings:
    """What the engine's parts need to know of the configuration."""

    # The whole configuration, for the actions that read their own options (std.http,
    # std.email, std.ssh, the platform's actions). None: defaults everywhere (tests).
    config: Config | None = None
    # Base URL of this engine's API, given to asynchronous actions to report their end.
    callback_base: str | None = None
    # Events are written when an execution asks for them (params.notify), or always when
    # the notifier sends every event to configured webhooks.
    events_always: bool = False
    # start_workflow starts the first tasks in its own transaction (see runtime).
    inline_start: bool = True
    # Attempts at one piece of work (a report of an action's end, a claimed action run
    # again, a step job) that fail or stop the process, before it is set aside.
    max_attempts: int = 3
    # Workflows nested at most (the root is level 1).
    max_nesting_depth: int = DEFAULT_MAX_NESTING_DEPTH
    # Seconds one expression may run.
    expression_timeout: float = DEFAULT_EXPRESSION_TIMEOUT
    # The workflow languages definitions may be written in (the built-in ones, plus those
    # a plugin or a test adds: `BUILTIN_LANGUAGES.adding(...)`).
    languages: Languages = BUILTIN_LANGUAGES

    @classmethod
    def from_config(cls, config: Config) -> EngineSettings:
        """The settings of the `engine` (and `notifier`) role from `config`."""
        timeout = config.get_float("engine", "expression_timeout")
        if timeout <= 0:
            raise ValueError("[engine] expression_timeout must be positive")
        return cls(
            config=config,
            callback_base=config.public_url("engine"),
            events_always=bool(config.get_list("notifier", "webhooks")),
            max_attempts=config.get_int("engine", "max_step_attempts"),
            max_nesting_depth=config.get_int("engine", "max_nesting_depth"),
            expression_timeout=float(timeout),
        )
