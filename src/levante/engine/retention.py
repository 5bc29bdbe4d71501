"""The engine's purges of finished workflows and delivered events (``[retention]``)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from levante.db.connect import writing
from levante.db.times import now
from levante.engine.store import retention as store
from levante.retention import Policy, Purge, PurgeLoop, run_purges


def purge_engine(engine: Engine, policy: Policy,
                 progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Every engine purge the policy asks for, to the end; counts by kind."""
    stamp = now()
    passes: list[tuple[str, Purge]] = []
    cutoffs = policy.execution_cutoffs(stamp, frozenset(store.FINAL_STATES))
    if cutoffs:
        def workflows() -> int:
            with writing(engine) as conn:
                return store.purge_workflows(conn, cutoffs, policy.batch_size)

        passes.append(("workflow executions", workflows))
    events_cutoff = policy.cutoff(stamp, policy.events_days)
    if events_cutoff is not None:
        def events() -> int:
            assert events_cutoff is not None
            with writing(engine) as conn:
                return store.purge_events(conn, events_cutoff, policy.batch_size)

        passes.append(("engine events", events))
    return run_purges(passes, progress)


def retention_service(engine: Engine, policy: Policy) -> PurgeLoop:
    return PurgeLoop("engine-retention", policy, lambda: purge_engine(engine, policy))
