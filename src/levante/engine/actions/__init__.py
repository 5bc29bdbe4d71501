"""The engine's standard actions (``std.*``), looked up by name.

``get_action(name)`` returns the single shared instance of an action (actions keep no state
between calls) or raises ``UnknownAction``; ``list_actions()`` lists them all for
``/v2/actions``. The contract an action keeps is in ``levante.engine.actions.base``.
"""

from __future__ import annotations

from levante.engine.actions.base import (
    MASKED,
    REQUIRED,
    ActionContext,
    ActionError,
    ActionInputError,
    StdAction,
    UnknownAction,
)
from levante.engine.actions.basic import (
    JS,
    AsyncNoOp,
    Echo,
    Fail,
    JavaScript,
    NoOp,
    Sleep,
    TestDict,
)
from levante.engine.actions.http import Http, MistralHttp
from levante.engine.actions.mail import Email
from levante.engine.actions.ssh import Ssh, SshProxied

__all__ = [
    "MASKED",
    "REQUIRED",
    "ActionContext",
    "ActionError",
    "ActionInputError",
    "StdAction",
    "UnknownAction",
    "get_action",
    "is_std_action",
    "list_actions",
]

_ACTIONS: dict[str, StdAction] = {
    action.name: action
    for action in (
        NoOp(),
        AsyncNoOp(),
        Echo(),
        Fail(),
        Sleep(),
        TestDict(),
        Http(),
        MistralHttp(),
        Ssh(),
        SshProxied(),
        Email(),
        JavaScript(),
        JS(),
    )
}


def get_action(name: str) -> StdAction:
    """The standard action called ``name``; raises UnknownAction."""
    try:
        return _ACTIONS[name]
    except (KeyError, TypeError):
        raise UnknownAction(str(name)) from None


def is_std_action(name: str) -> bool:
    return name in _ACTIONS


def list_actions() -> list[StdAction]:
    """Every standard action, sorted by name."""
    return [_ACTIONS[name] for name in sorted(_ACTIONS)]
