"""The sensor container role: runs each enabled pack sensor in a process of its own.

Every ``renew_interval`` seconds a container renews the leases of the sensors it runs
(``claimed_by`` = its process id, ``lease_until`` = now + ``lease_seconds``), stops those
that were disabled (and gives their lease back), changed (re-registered: restarted with
the new version) or taken by another container, claims enabled sensors nobody holds, and
starts them, at most its share: the enabled sensors divided by the containers alive (their
heartbeat in the registry of processes is younger than a lease), so that containers started
together split the sensors (a running sensor is not moved when another container joins).
On PostgreSQL any number of containers share the sensors this way, each sensor run by one
container at a time; a dead container's sensors are taken over once
its leases pass. A container that cannot renew stops its sensors before its leases pass,
and each sensor process stops itself if its container neither renews nor answers (the
``hold`` it is sent), so that a sensor never runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.db.times import now
from levante.platform.core import store as core_store
from levante.platform.datastore.pairs import Datastore, key_path_of
from levante.platform.sensors import store
from levante.platform.sensors.calls import SensorCalls
from levante.platform.sensors.process import SensorProcess, Settings
from levante.service import Service

log = logging.getLogger("levante.platform.sensors")

# Share of the lease a sensor process is told it may run without hearing from its
# container again: it stops itself before another container can take the sensor.
HOLD_SHARE = 0.8


def settings_from_config(config: Config) -> Settings:
    """The container's settings; a ``renew_interval`` too long for its lease (a sensor
    would stop itself between two renewals) is shortened to a third of the lease."""
    section = "sensorcontainer"
    lease = config.get_float(section, "lease_seconds")
    renew = config.get_float(section, "renew_interval")
    if renew > lease / 3:
        log.warning("[sensorcontainer] renew_interval %g is too long for lease_seconds %g; "
                    "using %g", renew, lease, lease / 3)
        renew = lease / 3
    return Settings(
        lease_seconds=lease,
        renew_interval=renew,
        initial_backoff=config.get_float(section, "initial_backoff"),
        max_backoff=config.get_float(section, "max_backoff"),
        backoff_reset=config.get_float(section, "backoff_reset"),
        stop_timeout=config.get_float(section, "stop_timeout"),
        max_sensors=config.get_int(section, "max_sensors"),
        validate_trigger_payload=config.get_bool(section, "validate_trigger_payload"),
        log_level=config.get_str("log", "level"),
        virtualenvs_dir=config.virtualenvs_dir,
        common_libs=config.get_bool("packs", "enable_common_libs"),
    )


@dataclass
class _Running:
    process: SensorProcess
    task: asyncio.Task[None]
    version: Any  # the row's updated_at when started


@dataclass
class SensorContainer:
    """A service of the sensorcontainer role (see the module's docstring)."""

    db: Engine
    datastore: Datastore
    settings: Settings
    name: str = "sensorcontainer"
    owner: str = field(default_factory=lambda: str(uuid.uuid4()))
    running: dict[str, _Running] = field(default_factory=dict)
    renewed_at: float = 0.0  # monotonic time of the last successful renewal
    registered: bool = False  # in the registry of processes (the containers alive)
    refusals: faults.RefusalWarnings = field(default_factory=faults.RefusalWarnings,
                                             init=False, repr=False)

    def hold(self) -> float:
        """Seconds a sensor may still run on the last renewal (see HOLD_SHARE)."""
        left = self.settings.lease_seconds * HOLD_SHARE - (time.monotonic() - self.renewed_at)
        return max(left, 0.0)

    async def run(self, stopping: asyncio.Event) -> None:
        log.info("sensor container %s started (lease %g s)", self.owner,
                 self.settings.lease_seconds)
        try:
            while not stopping.is_set():
                try:
                    await self.tick()
                except Exception as exc:
                    await self._renewal_failed(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.settings.renew_interval)
        finally:
            await self.shutdown()

    async def _renewal_failed(self, exc: Exception) -> None:
        if faults.refuses_writes(exc):
            self.refusals.warn(log, "sensor lease renewal", exc)
        else:
            log.exception("sensor container: lease renewal failed; trying again")
        if self.running and self.hold() <= self.settings.renew_interval:
            log.warning("sensor container: leases about to pass; stopping %d sensor(s)",
                        len(self.running))
            await self._stop(list(self.running))

    async def tick(self) -> None:
        """Renew, stop what must stop, claim and start; tell the sensors of their
        triggers and of the lease."""
        if not self.registered:  # (here: a database refusing writes at start is retried)
            await asyncio.to_thread(core_store.register_process, self.db, self.owner,
                                    store.ROLE)
            self.registered = True
        until = now() + timedelta(seconds=self.settings.lease_seconds)
        held = await asyncio.to_thread(store.renew, self.db, self.owner, until)
        self.renewed_at = time.monotonic()
        rows = {r["ref"]: r for r in held}
        for ref, item in list(self.running.items()):
            if item.task.done() and not item.process.finished:  # a bug, not the sensor's
                failure = None if item.task.cancelled() else item.task.exception()
                log.error("[%s] the sensor's supervision ended (%r); starting it again",
                          ref, failure)
                del self.running[ref]
        gone = [ref for ref, r in self.running.items()
                if ref not in rows or not rows[ref]["enabled"]
                or rows[ref]["updated_at"] != r.version]
        for ref in gone:
            reason = ("taken over by another container" if ref not in rows else
                      "disabled" if not rows[ref]["enabled"] else "changed; restarting")
            log.info("[%s] stopping the sensor: %s", ref, reason)
        await self._stop(gone)
        disabled = [ref for ref, r in rows.items() if not r["enabled"]]
        if disabled:
            await asyncio.to_thread(store.release, self.db, self.owner, disabled)
        mine = {ref: r for ref, r in rows.items() if r["enabled"]}
        alive_since = now() - timedelta(seconds=self.settings.lease_seconds)
        live, enabled = await asyncio.to_thread(store.shares, self.db, alive_since)
        room = max(math.ceil(enabled / max(live, 1)) - len(mine), 0)
        if self.settings.max_sensors > 0:
            room = min(room, max(self.settings.max_sensors - len(mine), 0))
        if room > 0:
            won = await asyncio.to_thread(store.claim, self.db, self.owner, until, now(),
                                          room)
            for row in won:
                log.info("[%s] sensor claimed by this container", row["ref"])
                mine[row["ref"]] = row
        for ref, row in mine.items():
            if ref not in self.running:
                self._start(row)
        await self._sync()

    def _start(self, row: dict[str, Any]) -> None:
        calls = SensorCalls(self.db, self.datastore, str(row["pack"]), str(row["class_name"]),
                            self.settings.validate_trigger_payload)
        process = SensorProcess(row, self.db, calls, self.settings, self.hold)
        task = asyncio.create_task(process.run(), name=f"sensor {row['ref']}")
        self.running[row["ref"]] = _Running(process, task, row["updated_at"])

    async def _sync(self) -> None:
        """Triggers and the lease's hold, to every live sensor process."""
        live = [r for r in self.running.values() if r.process.proc is not None]
        if not live:
            return
        types = sorted({t for r in live for t in (r.process.row["trigger_types"] or [])})
        found = await asyncio.to_thread(store.triggers_of_types, self.db, types)
        for item in live:
            own = set(item.process.row["trigger_types"] or [])
            await item.process.sync_triggers([t for t in found if t["type"] in own])
            await item.process.send({"op": "hold", "seconds": self.hold()})

    async def _stop(self, refs: list[str]) -> None:
        stopping = [self.running.pop(ref) for ref in refs if ref in self.running]
        if not stopping:
            return
        await asyncio.gather(*(r.process.stop() for r in stopping), return_exceptions=True)
        for item in stopping:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(item.task, self.settings.stop_timeout + 5)

    async def shutdown(self) -> None:
        """Stop every sensor (their cleanup runs) and give the leases back."""
        if self.running:
            log.info("sensor container %s: stopping %d sensor(s)", self.owner,
                     len(self.running))
        await self._stop(list(self.running))
        try:
            await asyncio.to_thread(store.release, self.db, self.owner)
            await asyncio.to_thread(core_store.deregister_process, self.db, self.owner)
        except Exception as exc:
            log.warning("sensor container: leases not released (%s); they pass in %g s",
                        exc, self.settings.lease_seconds)
        log.info("sensor container %s stopped", self.owner)


def sensorcontainer_services(config: Config, db: Engine) -> list[Service]:
    """The services of ``levante serve sensorcontainer``: one sensor container."""
    return [SensorContainer(db, Datastore(db, key_path_of(config)),
                            settings_from_config(config))]
