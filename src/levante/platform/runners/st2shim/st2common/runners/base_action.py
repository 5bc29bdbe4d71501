"""The base class of a pack's Python action, importable as StackStorm's
``st2common.runners.base_action.Action`` in action processes.

Standalone (standard library only): it runs in the pack's own virtual environment, where
Levante itself is not installed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["Action", "ActionService", "DatastoreNotSupported"]


class DatastoreNotSupported(RuntimeError):
    """The datastore is not there yet for actions."""


class ActionService:
    """StackStorm's ``self.action_service``: its datastore methods are not supported yet."""

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise DatastoreNotSupported(
            "the datastore is not supported yet (action_service.get_value, set_value, "
            "delete_value and list_values need it)")

    get_value = set_value = delete_value = list_values = _unsupported


def _action_logger(cls: type) -> logging.Logger:
    """A logger to stderr, named as StackStorm names an action's logger."""
    logger = logging.getLogger(f"actions.python.{cls.__name__}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [-] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.getLogger().level or logging.DEBUG)
    return logger


class Action:
    """What an action's code can use: ``self.config`` (its pack's config), ``self.logger``
    (to stderr) and ``self.action_service`` (the datastore, not supported yet).

    A subclass defines ``run(self, **params)``; what it returns is the execution's result,
    and a ``(False, value)`` tuple fails the execution with ``value``.
    """

    _levante_action_base = True

    def __init__(self, config: dict[str, Any] | None = None,
                 action_service: Any = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.logger = _action_logger(type(self))
        self.action_service = action_service if action_service is not None \
            else ActionService()

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the action's work; subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__}.run is not written")
