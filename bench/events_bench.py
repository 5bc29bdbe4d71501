"""Events benchmark: a webhook to a rule's execution, and a timer's firing delay.

Levante runs as `levante up` (every role in one process: API, runner, rules engine with
its timer service) in a child process started by the test harness, on SQLite unless
--database.

1. Webhook. A rule on ``core.st2.webhook`` (url ``bench``) runs ``core.noop``. For each
   of --samples POSTs to ``/v1/webhooks/bench`` (one at a time), the figure is the time
   from sending the POST to its execution's ``end_timestamp`` (``succeeded``), found by
   reading the database from this process: median and p90 (target: median <= 5 ms on
   SQLite).
2. Timer. A rule on ``core.st2.IntervalTimer`` (every second) runs ``core.noop``; after
   --seconds, the figure is each slot's delay from its time to the commit of its trigger
   instance (``timer_slots.fired_at - slot_at``): median and max (target <= 50 ms).

    .venv/bin/python -m bench.events_bench [--database URL] [--samples 200] [--seconds 10]

Run it from the root (it imports tests/harness.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, select
from tests.harness import System, start_system

from levante.db.times import aware
from levante.platform.core.models import executions
from levante.platform.timers.tables import timer_slots


def _line(what: str, values: list[float], unit: str = "ms") -> str:
    ordered = sorted(values)
    return (f"{what}: median {statistics.median(values) * 1000:.3f} {unit} "
            f"(p90 {ordered[int(len(ordered) * 0.9)] * 1000:.3f} {unit}, max "
            f"{ordered[-1] * 1000:.3f} {unit}, {len(values)} samples)")


def _rule(client: httpx.Client, name: str, trigger: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/rules", json={
        "name": name, "pack": "default", "enabled": True, "trigger": trigger,
        "criteria": {}, "action": {"ref": "core.noop", "parameters": {}}})
    if answer.status_code not in (200, 201):
        raise SystemExit(f"cannot create rule {name}: {answer.status_code} {answer.text}")
    return dict(answer.json())


def _newest(db: Engine) -> Any:
    """The newest core.noop execution (read from the database: no load on the API)."""
    with db.connect() as conn:
        return conn.execute(
            select(executions.c.id, executions.c.status, executions.c.end_timestamp)
            .where(executions.c.action_ref == "core.noop")
            .order_by(executions.c.start_timestamp.desc()).limit(1)).first()


def webhook_latency(system: System, samples: int) -> list[float]:
    """From sending each POST to its execution's ``end_timestamp`` (``succeeded``), read
    from the database by this process so that polling does not load the API's."""
    out: list[float] = []
    db = create_engine(system.platform_db)
    try:
        with system.client() as client:
            _rule(client, "bench_webhook", {"type": "core.st2.webhook",
                                            "parameters": {"url": "bench"}})
            time.sleep(0.5)
            for i in range(samples + 5):
                before = _newest(db)
                seen = before.id if before else None
                start = time.time()
                answer = client.post("/webhooks/bench", json={"i": i})
                if answer.status_code != 202:
                    raise SystemExit(f"webhook answered {answer.status_code}: {answer.text}")
                deadline = time.monotonic() + 30
                while True:
                    found = _newest(db)
                    if found is not None and found.id != seen and found.status == "succeeded":
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"no execution succeeded for webhook post {i}")
                    time.sleep(0.005)  # the figure is end_timestamp: a slow poll spares the CPU
                if i >= 5:  # the first few warm the caches
                    ended = aware(found.end_timestamp)
                    assert ended is not None
                    out.append(ended.timestamp() - start)
    finally:
        db.dispose()
    return out


def timer_delays(system: System, seconds: float) -> list[float]:
    with system.client() as client:
        rule = _rule(client, "bench_timer", {"type": "core.st2.IntervalTimer",
                                             "parameters": {"unit": "seconds", "delta": 1}})
    ref = (rule.get("trigger") or {}).get("ref")
    time.sleep(seconds)
    engine = create_engine(system.platform_db)
    try:
        with engine.connect() as conn:
            query = select(timer_slots.c.slot_at, timer_slots.c.fired_at)
            if ref:
                query = query.where(timer_slots.c.trigger_ref == ref)
            rows = conn.execute(query).all()
    finally:
        engine.dispose()
    return [max(0.0, (r.fired_at - r.slot_at).total_seconds()) for r in rows]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default="sqlite", help="sqlite or postgres")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="levante-events-bench-") as tmp:
        system = start_system(Path(tmp), args.database, ("up",))
        try:
            print(_line("webhook POST -> core.noop succeeded",
                        webhook_latency(system, args.samples)))
            delays = timer_delays(system, args.seconds)
            if not delays:
                raise SystemExit("the interval timer fired no slot")
            print(_line("timer slot -> trigger instance committed", delays))
        finally:
            system.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
