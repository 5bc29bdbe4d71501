"""Timer slots held in the database, on SQLite and PostgreSQL: any number of timer
services fire each slot once; after a downtime the latest missed slot fires once (or is
skipped with ``on_missed: skip``), never a burst; the service sleeps until the next slot
and picks up new rules by itself."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from levante.db.connect import writing
from levante.identity.keys import new_id
from levante.platform.rules.tables import rules
from levante.platform.timers import schedule, store
from levante.platform.timers.service import TimerService
from levante.platform.timers.tables import timer_slots
from levante.platform.triggers.store import ensure_trigger
from levante.platform.triggers.tables import trigger_instances, triggers
from tests.integration.platform.service.conftest import Background, Db


def timer_rule(db: Engine, type_ref: str, params: dict[str, Any],
               created: datetime | None = None) -> str:
    """A timer trigger used by an enabled rule (created at ``created``); its ref."""
    with writing(db) as conn:
        ref = ensure_trigger(conn, type_ref, params)
        if created is not None:
            conn.execute(update(triggers).where(triggers.c.ref == ref)
                         .values(created_at=created))
        stamp = created or datetime.now(UTC)
        name = f"r{new_id()}"
        conn.execute(insert(rules), {
            "id": new_id(), "ref": f"testpack.{name}", "pack": "testpack", "name": name,
            "description": "", "enabled": True,
            "trigger": {"type": type_ref, "parameters": params, "ref": ref},
            "trigger_ref": ref, "criteria": {}, "action": {"ref": "core.noop"},
            "context": {}, "tags": [], "metadata_file": "", "created_at": stamp,
            "updated_at": stamp})
    return ref


def fired(db: Engine, ref: str) -> list[Any]:
    with db.connect() as conn:
        return [r.payload for r in conn.execute(
            select(trigger_instances.c.payload).where(trigger_instances.c.trigger == ref))]


def loaded(db: Engine) -> TimerService:
    service = TimerService(db)
    service.load(store.active_timers(db, schedule.TIMER_TYPES))
    return service


def test_two_services_fire_each_slot_once(platform_db: Db) -> None:
    db = platform_db.engine
    start = datetime.now(UTC) - timedelta(seconds=30)
    ref = timer_rule(db, schedule.INTERVAL, {"unit": "seconds", "delta": 1}, start)
    first, second = loaded(db), loaded(db)
    barrier = threading.Barrier(2)

    def walk(service: TimerService) -> None:
        barrier.wait()
        for step in range(1, 11):
            service.fire_due(start + timedelta(seconds=30 + step))

    threads = [threading.Thread(target=walk, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    slots = store.slots(db, ref)
    # The 30 slots missed before the first pass fire as one (the latest), then one a second.
    assert len(slots) == 10 == len({s["slot_at"] for s in slots})
    assert all(s["instance_id"] for s in slots)
    assert len(fired(db, ref)) == 10
    payload = fired(db, ref)[0]
    assert set(payload) == {"executed_at", "schedule"} and payload["schedule"] is None


def test_missed_slot_after_downtime_fires_once_or_is_skipped(platform_db: Db) -> None:
    db = platform_db.engine
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    once = timer_rule(db, schedule.CRON, {"minute": "*"}, long_ago)
    skipping = timer_rule(db, schedule.CRON, {"minute": "*", "on_missed": "skip"}, long_ago)
    never = timer_rule(db, schedule.DATE, {"date": "2000-01-01 00:00:00"}, long_ago)
    service = loaded(db)
    now = datetime.now(UTC)
    service.fire_due(now)
    service.fire_due(now)
    assert len(fired(db, once)) == 1  # 180 slots missed: one fires
    (slot,) = store.slots(db, once)
    assert now - timedelta(minutes=1) < slot["slot_at"].replace(tzinfo=UTC) <= now
    assert fired(db, skipping) == []
    (skipped,) = store.slots(db, skipping)
    assert skipped["instance_id"] is None
    assert fired(db, never) == [] and store.slots(db, never) == []  # before its trigger
    # A restarted service resumes after the slots recorded: nothing more is due now.
    again = loaded(db)
    again.fire_due(now)
    assert len(fired(db, once)) == 1
    assert again.timers[once].due is not None and again.timers[once].due > now


def test_broken_timer_is_logged_and_left_out(platform_db: Db) -> None:
    db = platform_db.engine
    broken = timer_rule(db, schedule.CRON, {"minute": "99"})
    fine = timer_rule(db, schedule.INTERVAL, {"unit": "hours", "delta": 1})
    service = loaded(db)
    assert broken in service.broken and "'minute'" in service.broken[broken]
    assert set(service.timers) == {fine}


def test_service_sleeps_until_slots_and_picks_up_new_rules(platform_db: Db) -> None:
    db = platform_db.engine
    service = TimerService(db, refresh=0.2)
    background = Background([service])
    background.start()
    try:
        ref = timer_rule(db, schedule.INTERVAL, {"unit": "seconds", "delta": 1})
        soon = (datetime.now(UTC) + timedelta(seconds=1.5)).strftime("%Y-%m-%d %H:%M:%S.%f")
        dated = timer_rule(db, schedule.DATE, {"date": soon})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (len(fired(db, ref)) < 2 or not fired(db, dated)):
            time.sleep(0.05)
        assert len(fired(db, ref)) >= 2 and len(fired(db, dated)) == 1
    finally:
        background.stop()
    assert background.error is None
    with db.connect() as conn:
        fired_at = conn.execute(select(timer_slots.c.fired_at, timer_slots.c.slot_at)
                                .where(timer_slots.c.trigger_ref == dated)).one()
    assert fired_at.fired_at >= fired_at.slot_at  # never early


def test_old_slots_are_purged_but_the_latest_of_each_timer(platform_db: Db) -> None:
    """The garbagecollector's pass over the slots ([retention] trigger_instances_days):
    the latest slot of a timer is where its schedule resumes, so it stays however old."""
    from levante.platform.retention.service import purge_platform
    from levante.retention import Policy

    db = platform_db.engine
    start = (datetime.now(UTC) - timedelta(days=20)).replace(microsecond=0)
    hourly = timer_rule(db, schedule.INTERVAL, {"unit": "hours", "delta": 1}, start)
    quiet = timer_rule(db, schedule.INTERVAL, {"unit": "hours", "delta": 2}, start)
    for hour in range(5):
        store.fire_slot(db, hourly, start + timedelta(hours=hour), {"n": hour})
    store.fire_slot(db, quiet, start, None)  # a slot skipped, long ago: its only one
    with writing(db) as conn:
        conn.execute(update(timer_slots).values(fired_at=start))
    recent = datetime.now(UTC).replace(microsecond=0)
    store.fire_slot(db, hourly, recent, {"n": "recent"})

    counts = purge_platform(db, Policy(trigger_instances_days=7, batch_size=2))
    assert counts["timer slots"] == 5
    assert [s["slot_at"].replace(tzinfo=UTC) for s in store.slots(db, hourly)] == [recent]
    assert [s["slot_at"].replace(tzinfo=UTC) for s in store.slots(db, quiet)] == [start]
    resumes = {t["ref"]: t["last_slot"] for t in store.active_timers(db, schedule.TIMER_TYPES)}
    assert resumes[hourly] == recent and resumes[quiet] == start
    assert purge_platform(db, Policy(trigger_instances_days=7))["timer slots"] == 0
