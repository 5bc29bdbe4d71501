"""The base class of a pack's Python action (``python-script`` runner).

A pack's module defines one subclass with ``run(self, **params)``; what ``run`` returns is
the execution's result, and a ``(False, value)`` tuple fails the execution with ``value``.
StackStorm packs import the same class as ``st2common.runners.base_action.Action`` (from
the ``st2shim`` folder, put on the action process's path).
"""

from __future__ import annotations

from levante.platform.runners.st2shim.st2common.runners.base_action import (
    Action,
    ActionService,
    DatastoreError,
)

__all__ = ["Action", "ActionService", "DatastoreError"]
