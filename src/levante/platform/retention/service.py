"""The ``garbagecollector`` role: the platform's purges, every ``[retention] interval``."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from levante.db.times import now
from levante.platform.core.executions import DONE
from levante.platform.retention import store
from levante.platform.rules import store as rule_store
from levante.platform.timers import store as timer_store
from levante.retention import Policy, Purge, PurgeLoop, run_purges


def purge_platform(engine: Engine, policy: Policy,
                   progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Every platform purge the policy asks for, to the end; counts by kind."""
    stamp = now()
    passes: list[tuple[str, Purge]] = []
    cutoffs = policy.execution_cutoffs(stamp, DONE)
    if cutoffs:
        passes.append(("executions",
                       lambda: store.purge_executions(engine, cutoffs, policy.batch_size)))
    output_cutoff = policy.cutoff(stamp, policy.output_days)
    if output_cutoff is not None:
        passes.append(("output lines",
                       lambda: store.purge_output(engine, output_cutoff, policy.batch_size)))
    events_cutoff = policy.cutoff(stamp, policy.events_days)
    if events_cutoff is not None:
        passes.append(("reports to the engine",
                       lambda: store.purge_reports(engine, events_cutoff, policy.batch_size)))
    instances_cutoff = policy.cutoff(stamp, policy.trigger_instances_days)
    if instances_cutoff is not None:
        passes.append(("trigger instances", lambda: rule_store.purge_instances(
            engine, instances_cutoff, policy.batch_size)))
        # A timer's slots record which fired; only its latest says where it resumes.
        passes.append(("timer slots", lambda: timer_store.purge_slots(
            engine, instances_cutoff, policy.batch_size)))
    return run_purges(passes, progress)


def retention_service(engine: Engine, policy: Policy) -> PurgeLoop:
    return PurgeLoop("garbagecollector", policy, lambda: purge_platform(engine, policy))
