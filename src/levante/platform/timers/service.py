"""The timer service (rules engine role): fires the slots of the timers enabled rules use.

It sleeps until the next slot of any timer (not a coarse poll), then takes the slot in the
database (:func:`levante.platform.timers.store.fire_slot`): whichever process inserts the
slot's row records its trigger instance in that transaction, so each slot fires once
however many rules engines run. Every ``refresh`` seconds it re-reads which timers run
(rules created, enabled, disabled) and where each resumes (slots other processes fired).
After downtime, only the latest missed slot of a timer is due: fired once, or skipped
with ``on_missed: skip``; never a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.platform.timers import schedule, store
from levante.service import Service

log = logging.getLogger("levante.platform.timers")

REFRESH_SECONDS = 1.0
# A slot fired later than this after its time counts as missed (``on_missed: skip``).
GRACE = timedelta(seconds=5)


@dataclass
class Timer:
    ref: str
    type: str
    parameters: dict[str, Any]
    schedule: schedule.Schedule
    on_missed: str
    after: datetime  # slots up to here are fired, skipped or not due
    due: datetime | None  # the next slot, None: none


def payload_of(fired_at: datetime) -> dict[str, Any]:
    """StackStorm's timer payload (``executed_at`` as ``str`` of the UTC time)."""
    return {"executed_at": str(fired_at), "schedule": None}


class TimerService:
    """Fires timer slots; one per rules engine process."""

    name = "timers"

    def __init__(self, db: Engine, refresh: float = REFRESH_SECONDS) -> None:
        self.db = db
        self.refresh = refresh
        self.timers: dict[str, Timer] = {}
        self.broken: dict[str, str] = {}  # ref -> why its parameters are no schedule

    def load(self, rows: list[dict[str, Any]]) -> None:
        """Take the timers read from the database; keep what this process knows better
        (a later resume point)."""
        found: dict[str, Timer] = {}
        for row in rows:
            ref = str(row["ref"])
            params = dict(row["parameters"] or {})
            known = self.timers.get(ref)
            try:
                if known is not None and known.parameters == params:
                    plan, missed = known.schedule, known.on_missed
                else:
                    plan = schedule.schedule_of(row["type"], params, row["created_at"])
                    missed = schedule.on_missed(params)
            except schedule.ScheduleError as exc:
                if self.broken.get(ref) != str(exc):
                    log.error("timer %s (%s) cannot run: %s", ref, row["type"], exc)
                self.broken[ref] = str(exc)
                continue
            self.broken.pop(ref, None)
            after = max(t for t in (row["created_at"], row["enabled_at"], row["last_slot"],
                                    known.after if known else None) if t is not None)
            timer = Timer(ref, str(row["type"]), params, plan, missed, after, None)
            timer.due = plan.next_after(after)
            found[ref] = timer
        self.timers = found

    def _fire(self, timer: Timer, now: datetime) -> None:
        slot = schedule.latest_due(timer.schedule, timer.after, now)
        if slot is None:
            timer.due = timer.schedule.next_after(timer.after)
            return
        missed = slot != timer.due or now - slot > GRACE
        skip = missed and timer.on_missed == schedule.SKIP
        instance = store.fire_slot(self.db, timer.ref, slot,
                                   None if skip else payload_of(datetime.now(UTC)))
        if missed:
            log.info("timer %s: slot %s was missed (%s)", timer.ref, slot.isoformat(),
                     "skipped" if skip else "fired once")
        elif instance is not None:
            log.debug("timer %s fired slot %s (instance %s)", timer.ref, slot, instance)
        timer.after = slot
        timer.due = timer.schedule.next_after(slot)

    def fire_due(self, now: datetime) -> None:
        for timer in list(self.timers.values()):
            if timer.due is not None and timer.due <= now:
                self._fire(timer, now)

    def next_due(self) -> datetime | None:
        dues = [t.due for t in self.timers.values() if t.due is not None]
        return min(dues) if dues else None

    async def run(self, stopping: asyncio.Event) -> None:
        next_refresh = 0.0
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            try:
                if loop.time() >= next_refresh:
                    rows = await asyncio.to_thread(store.active_timers, self.db,
                                                   schedule.TIMER_TYPES)
                    self.load(rows)
                    next_refresh = loop.time() + self.refresh
                now = datetime.now(UTC)
                if (due := self.next_due()) is not None and due <= now:
                    await asyncio.to_thread(self.fire_due, now)
                    continue
            except Exception as exc:
                if not faults.refuses_writes(exc):
                    log.exception("timers: a pass failed; trying again")
                next_refresh = loop.time() + self.refresh
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.refresh)
                continue
            wait = next_refresh - loop.time()
            if (due := self.next_due()) is not None:
                wait = min(wait, (due - datetime.now(UTC)).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), max(0.0, wait))


def timer_services(config: Config, db: Engine) -> list[Service]:
    """The timer service, joined to the ``rulesengine`` role (levante.roles)."""
    del config
    return [TimerService(db)]
