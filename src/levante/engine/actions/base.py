"""The contract between the engine and a standard (``std.*``) action.

The engine looks an action up by name (``levante.engine.actions.get_action``), checks the
task's input with ``validate_input`` (so bad input fails early, naming the parameter), then
either calls ``run_inline`` inside its own transaction (only when ``can_run_inline`` says the
call is cheap and free of side effects) or awaits ``run`` outside any transaction.

An action that succeeds returns its result (any JSON-able value). One that fails raises
``ActionError`` whose ``result`` is the error data Mistral would store for the action
execution. For an asynchronous action (``is_async``) the value returned by ``run`` is
ignored: the result arrives later by ``PUT /v2/action_executions/<id>``; an ``ActionError``
raised by ``run`` still fails the action at once.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Final

if TYPE_CHECKING:
    from levante.config import Config

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MASKED: Final = "******"

# Inputs masked whatever the action (an ad-hoc or platform action may pass them on).
ALWAYS_SECRET: Final = frozenset({"auth"})
# `scheme://user:password@host`: the password runs to the last '@' before the path.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/?#\s@:]*):[^/?#\s]*@")


class _Required:
    """Marker for an input parameter without a default."""

    _instance: ClassVar[_Required | None] = None

    def __new__(cls) -> _Required:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


class ActionError(Exception):
    """The action failed; ``result`` is the error data stored for the action execution."""

    def __init__(self, result: Any) -> None:
        super().__init__(result if isinstance(result, str) else _short(result))
        self.result = result


class ActionInputError(ActionError):
    """Bad, missing or unknown input; ``parameter`` names the parameter (None: the whole)."""

    def __init__(self, action: str, message: str, parameter: str | None = None) -> None:
        super().__init__(f"Invalid input for action {action}: {message}")
        self.action = action
        self.parameter = parameter


class UnknownAction(LookupError):
    """No standard action has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Action not found: {name!r}")
        self.name = name


def _short(value: Any, limit: int = 2000) -> str:
    try:
        text = json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_networks(values: Sequence[str], where: str = "http_denied_networks") -> list[IPNetwork]:
    """CIDR strings to networks; a bad entry raises ValueError naming it and ``where``."""
    networks: list[IPNetwork] = []
    for raw in values:
        try:
            networks.append(ipaddress.ip_network(raw.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{where}: {raw!r} is not a network in CIDR form") from None
    return networks


@dataclass
class ActionContext:
    """What an action may know about the execution it runs for.

    ``callback_url`` is the engine URL where an asynchronous result is PUT, for example
    ``http://host:8989/v2/action_executions/<id>``. ``denied_networks``, when empty, is read
    from ``config`` (``[engine] http_denied_networks``).
    """

    workflow_execution_id: str | None = None
    task_execution_id: str | None = None
    action_execution_id: str | None = None
    task_name: str | None = None
    callback_url: str | None = None
    config: Config | None = None
    denied_networks: Sequence[IPNetwork] = field(default_factory=tuple)
    workflow_name: str | None = None
    db: Any = None  # the engine's database (sqlalchemy Engine), for its service key

    def effective_denied_networks(self) -> Sequence[IPNetwork]:
        if self.denied_networks:
            return self.denied_networks
        if self.config is None:
            return ()
        return _networks_cached(tuple(self.config.get_list("engine", "http_denied_networks")))


@cache
def _networks_cached(values: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The networks `values` name, parsed once per text (a function of the text alone)."""
    return tuple(parse_networks(values, "[engine] http_denied_networks"))


class StdAction:
    """A standard action. Subclasses set the class attributes and implement ``run``.

    ``input_spec`` lists ``(name, default)`` in Mistral's order, ``REQUIRED`` for no default.
    ``secret_inputs`` names inputs whose values must never be shown (see ``mask_input``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    input_spec: ClassVar[list[tuple[str, Any]]] = []
    is_async: ClassVar[bool] = False
    inline_ok: ClassVar[bool] = False
    secret_inputs: ClassVar[frozenset[str]] = frozenset()

    @property
    def input_string(self) -> str:
        """The ``input`` field of ``/v2/actions``, as Mistral writes it: ``url, method="GET"``."""
        parts = []
        for pname, default in self.input_spec:
            if default is REQUIRED:
                parts.append(pname)
            else:
                parts.append(f"{pname}={json.dumps(default)}")
        return ", ".join(parts)

    def validate_input(self, input: Mapping[str, Any] | None) -> dict[str, Any]:
        """Fill defaults; refuse unknown or missing parameters and bad values, naming them."""
        if input is not None and not isinstance(input, Mapping):
            raise ActionInputError(
                self.name, f"input must be a mapping of parameter names to values, "
                f"got {type(input).__name__}"
            )
        given = dict(input or {})
        values: dict[str, Any] = {}
        missing = []
        for pname, default in self.input_spec:
            if pname in given:
                values[pname] = given.pop(pname)
            elif default is REQUIRED:
                missing.append(pname)
            else:
                values[pname] = _copy_default(default)
        if given:
            unknown = ", ".join(sorted(map(str, given)))
            expected = ", ".join(p for p, _ in self.input_spec) or "no parameters"
            raise ActionInputError(
                self.name,
                f"unexpected parameter(s) {unknown} (expected: {expected})",
                parameter=sorted(map(str, given))[0],
            )
        if missing:
            raise ActionInputError(
                self.name, f"missing required parameter(s) {', '.join(missing)}", missing[0]
            )
        return self.check_input(values)

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise types of complete input; raise ``ActionInputError``."""
        return values

    def input_error(self, parameter: str, message: str) -> ActionInputError:
        return ActionInputError(self.name, f"parameter '{parameter}' {message}", parameter)

    def mask_input(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``input`` for storage, logs and the API: secret inputs (and ``auth``)
        replaced, and the password of any ``scheme://user:password@host`` URL in it."""
        return {
            k: (MASKED if (k in self.secret_inputs or k in ALWAYS_SECRET)
                and v not in (None, "") else mask_url_passwords(v))
            for k, v in input.items()
        }

    def waits_for(self, input: Mapping[str, Any]) -> float:
        """Seconds this action does nothing but wait before answering `run_inline`.

        The engine holds such a wait as a timer in the database (a step job due when the
        wait ends), not in a worker: it costs no thread, no slot and no CPU, survives a
        restart, and thousands of them end on time."""
        return 0.0

    def can_run_inline(self, input: Mapping[str, Any]) -> bool:
        """True when this call (validated input) may run inside an engine transaction."""
        return self.inline_ok

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        """Synchronous fast path for ``inline_ok`` actions; others raise NotImplementedError."""
        raise NotImplementedError(f"{self.name} cannot run inline")

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        """Run with validated input; return the result or raise ``ActionError``."""
        return self.run_inline(input)

    async def call(self, input: Mapping[str, Any] | None, ctx: ActionContext) -> Any:
        """Validate then run: a convenience for callers that hold raw input."""
        return await self.run(self.validate_input(input), ctx)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _copy_default(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value))
    return value


def mask_url_passwords(value: Any) -> Any:
    """``value`` (a string, or dicts and lists of them) with URL passwords masked."""
    if isinstance(value, str):
        if "://" not in value or "@" not in value:
            return value
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASKED}@", value)
    if isinstance(value, Mapping):
        return {k: mask_url_passwords(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_url_passwords(v) for v in value]
    return value


def redact(text: str, secrets: Sequence[Any]) -> str:
    """``text`` with every non-empty secret string replaced by a mask."""
    for secret in secrets:
        if isinstance(secret, str) and secret:
            text = text.replace(secret, MASKED)
    return text
