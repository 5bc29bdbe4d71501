"""Actions that only wait (``core.pause``) hold no worker and no process.

A runner that claims one hands it to the wait timers (:func:`defer`): the execution stays
``running``, ``claimed_by`` says ``timer`` and ``lease_until`` when the wait ends, all in
the database. :class:`WaitTimers` (a service of the runner role, one per process) ends each
wait when it is due, as the shell would have: ``succeeded`` with an empty output, or
``timeout`` when the action's timeout is shorter than the pause. Any runner process ends
any wait (the end is a compare-and-set), so waits survive restarts and need no owner; a
cancel ends the wait at once (:mod:`levante.platform.core.executions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from levante.db import faults
from levante.platform.core import store

log = logging.getLogger("levante.platform.waits")

# The bundled action that only waits: its parameter holds the seconds.
WAITING_ACTIONS = {"core.pause": "max_pause"}
# The longest a timer service sleeps without looking (other processes' new waits).
LOOK_EVERY = 1.0


def _seconds(action_ref: str, parameters: dict[str, Any] | None) -> int | None:
    """The pause a waiting action asks for, or None (not one, or not a whole number of
    seconds: the shell script then says why)."""
    param = WAITING_ACTIONS.get(action_ref)
    value = (parameters or {}).get(param, 5) if param is not None else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def seconds_to_wait(row: dict[str, Any]) -> int | None:
    """The seconds an execution would only wait, or None when it does more."""
    action = row.get("action") or {}
    if action.get("runner_type") != "local-shell-script":
        return None
    return _seconds(str(row.get("action_ref") or action.get("ref") or ""),
                    row.get("parameters"))


def defer(db: Engine, row: dict[str, Any], process_id: str) -> bool:
    """Hand a claimed execution that only waits to the timers; False if it was not the
    caller's any more."""
    seconds = seconds_to_wait(row)
    assert seconds is not None
    waited = min(float(seconds), float(row["timeout"]))
    return store.hold_for_timer(db, row["id"], process_id,
                                store.now() + timedelta(seconds=waited))


def outcome(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """How a due wait ends: as the shell's ``sleep`` would have."""
    if (_seconds(str(row["action_ref"]), row["parameters"]) or 0) > int(row["timeout"]):
        return "timeout", {"error": f"Action failed to complete in {row['timeout']} seconds",
                           "stdout": "", "stderr": "", "return_code": -9,
                           "succeeded": False, "failed": True}
    return "succeeded", {"stdout": "", "stderr": "", "return_code": 0, "succeeded": True,
                         "failed": False}


def end_due(db: Engine, now: datetime | None = None) -> list[str]:
    """End every wait due by ``now``; the ids this call ended."""
    ended: list[str] = []
    for row in store.timers_due(db, now or store.now()):
        status, result = outcome(row)
        if store.finish(db, row["id"], status, result, list(row["log"] or []),
                        context=row["context"]):
            log.info("[%s] the wait ended: %s", row["id"], status)
            ended.append(row["id"])
    return ended


@dataclass
class WaitTimers:
    """A service of the runner role: ends waits when they are due. The runner of the same
    process calls :meth:`wake` after each :func:`defer`, so a short wait ends on time; waits
    deferred by other processes are seen within :data:`LOOK_EVERY` seconds."""

    db: Engine
    name: str = "wait-timers"
    _wake: asyncio.Event | None = field(default=None, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    refusals: faults.RefusalWarnings = field(default_factory=faults.RefusalWarnings,
                                             init=False, repr=False)

    def wake(self) -> None:
        """Look again now (callable from any thread)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        stop = asyncio.create_task(stopping.wait())
        try:
            while not stopping.is_set():
                self._wake.clear()
                delay = LOOK_EVERY
                try:
                    await asyncio.to_thread(end_due, self.db)
                    due = await asyncio.to_thread(store.next_timer_due, self.db)
                    if due is not None:
                        delay = min(delay, max(0.0, (due - store.now()).total_seconds()))
                except Exception as exc:
                    if faults.refuses_writes(exc):
                        self.refusals.warn(log, "ending waits", exc)
                    else:
                        log.exception("ending waits failed; trying again")
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait({woken, stop}, timeout=delay,
                                   return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
        finally:
            stop.cancel()
