"""The base class of a pack's Python action (``python-script`` runner).

A pack's module defines one subclass with ``run(self, **params)``; what ``run`` returns is
the execution's result, and a ``(False, value)`` tuple fails the execution with ``value``.
StackStorm packs that import ``st2common.runners.base_action.Action`` get this class too.
"""

from __future__ import annotations

import logging
from typing import Any


class Action:
    """What an action's code can use: its pack's ``config`` and a ``logger`` (to stderr)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.logger = logging.getLogger(f"levante.action.{type(self).__name__}")

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the action's work; subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__}.run is not written")
