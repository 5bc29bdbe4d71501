"""Pause and resume of the workflow an inquiry belongs to, as StackStorm's inquirer: the
root of the ask's tree is paused when the ask waits and resumed when it ends (answered or
timed out). As ``st2 execution pause|resume`` do (the engine, the action-chain runner and
the tree of statuses do the rest).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from levante.platform.core import executions, store

log = logging.getLogger("levante.platform.inquiries")

MAX_DEPTH = 200  # parents followed at most (the engine's nesting limit is lower)
ATTEMPTS = 5  # a status that changed meanwhile is read again this often


def root_of(db: Engine, execution_id: str) -> str | None:
    """The top-most ancestor of an execution; None when it has no parent."""
    row = store.get_execution(db, execution_id)
    root: str | None = None
    for _ in range(MAX_DEPTH):
        parent = row.get("parent") if row else None
        if not parent:
            break
        root = str(parent)
        row = store.get_execution(db, root)
    return root


def _change(db: Engine, root: str, wanted: str, when: frozenset[str]) -> None:
    for _ in range(ATTEMPTS):
        status = store.statuses_of(db, [root]).get(root)
        if status not in when:
            return
        try:
            executions.set_status(db, root, wanted)
            return
        except executions.NotFound:
            return
        except executions.Refused as exc:  # changed meanwhile: look again
            log.debug("[%s] %s: %s", root, wanted, exc)
    log.warning("[%s] could not be set %s for an inquiry: its status kept changing",
                root, wanted)


def pause(db: Engine, root: str) -> None:
    """Ask the root workflow to pause, when it runs: what ``set_status`` does for a
    running workflow, as one compare-and-set (an action chain may pause by itself at the
    same moment, seeing its node wait)."""
    if store.transition(db, root, ["running"], "pausing") is None:
        log.debug("[%s] not running: not paused for an inquiry", root)


def resume(db: Engine, root: str) -> None:
    """Resume the root workflow (when it is paused or pausing)."""
    _change(db, root, "resuming", frozenset({"paused", "pausing"}))
