"""What history to keep (``[retention]``, read once) and the loop that purges it.

Both services use them with purges of their own tables: the platform in the
``garbagecollector`` role, the engine in its ``engine`` role; `levante-db-manage purge`
runs the same purges by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from levante.config import Config
from levante.db import faults

log = logging.getLogger("levante.retention")

DAY = 86400.0


class PolicyError(ValueError):
    """A retention setting that cannot be understood (names the option and the value)."""


def parse_status_days(items: list[str], where: str) -> dict[str, float]:
    """``["failed:90", "canceled:7"]`` -> ``{"failed": 90.0, "canceled": 7.0}``."""
    found: dict[str, float] = {}
    for item in items:
        status, sep, days = item.partition(":")
        try:
            value = float(days) if sep else -1.0
        except ValueError:
            value = -1.0
        if not status.strip() or value < 0:
            raise PolicyError(f"{where}: {item!r} is not <status>:<days> (e.g. failed:90)")
        found[status.strip()] = value
    return found


@dataclass(frozen=True)
class Policy:
    """Ages in days; 0 keeps that kind of history for ever."""

    executions_days: float = 0.0
    status_days: dict[str, float] = field(default_factory=dict)
    output_days: float = 0.0
    events_days: float = 0.0
    trigger_instances_days: float = 0.0
    batch_size: int = 500
    interval: float = 3600.0

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        return cls(
            executions_days=config.get_float("retention", "executions_days"),
            status_days=parse_status_days(config.get_list("retention", "status_days"),
                                          "[retention] status_days"),
            output_days=config.get_float("retention", "output_days"),
            events_days=config.get_float("retention", "events_days"),
            trigger_instances_days=config.get_float("retention", "trigger_instances_days"),
            batch_size=config.get_int("retention", "batch_size"),
            interval=config.get_float("retention", "interval"),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.executions_days or self.status_days or self.output_days
                    or self.events_days or self.trigger_instances_days)

    def execution_cutoffs(self, now: datetime, statuses: frozenset[str]) -> dict[str, datetime]:
        """For each final status kept for a limited time, the end before which it goes."""
        cutoffs: dict[str, datetime] = {}
        for status in sorted(statuses):
            days = self.status_days.get(status, self.executions_days)
            if days > 0:
                cutoffs[status] = now - timedelta(days=days)
        return cutoffs

    @staticmethod
    def cutoff(now: datetime, days: float) -> datetime | None:
        return now - timedelta(days=days) if days > 0 else None


Purge = Callable[[], int]  # one batch; returns how many rows went (0: nothing left)


def run_purges(passes: list[tuple[str, Purge]],
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Run each purge batch after batch until it finds nothing; counts by kind."""
    counts = {kind: 0 for kind, _ in passes}
    for kind, purge in passes:
        while True:
            deleted = purge()
            if not deleted:
                break
            counts[kind] += deleted
            if progress is not None:
                progress(kind, counts[kind])
    return counts


class PurgeLoop:
    """Runs one service's purges every ``[retention] interval`` seconds (when any is on)."""

    def __init__(self, name: str, policy: Policy,
                 purge_all: Callable[[], dict[str, int]]) -> None:
        self.name = name
        self.policy = policy
        self.purge_all = purge_all

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.policy.enabled:
            await stopping.wait()
            return
        while not stopping.is_set():
            try:
                counts = await asyncio.to_thread(self.purge_all)
            except Exception as exc:  # a pass that fails is tried again at the next interval
                if faults.refuses_writes(exc):
                    log.warning("%s: the database refused a purge; tried again later",
                                self.name)
                else:
                    log.exception("%s: a purge pass failed", self.name)
            else:
                if any(counts.values()):
                    log.info("%s: deleted %s", self.name, ", ".join(
                        f"{n} {kind}" for kind, n in counts.items() if n))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.policy.interval)
