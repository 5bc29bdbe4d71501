"""Rules engine benchmark: sustained trigger instances per second with 50 rules loaded.

50 rules listen to one webhook trigger, each with a criterion on ``trigger.body.n`` that
one value in 50 matches: every instance is matched against 50 rules and starts one
``core.noop`` execution. N instances are recorded first (one transaction), then the
rules engine's batches are timed until every instance is processed (the enforcements
and executions stored; no runner runs them). Prints instances per second.

    .venv/bin/python -m bench.rules_bench [--instances 5000] [--database URL]
        [--engines 1] [--batch 100]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from levante.db import manage
from levante.db.connect import make_engine, writing
from levante.platform.core.pack_registry import register_packs
from levante.platform.rules import model
from levante.platform.rules import store as rule_store
from levante.platform.rules.service import RuleCache, Settings, process_batch
from levante.platform.rules.tables import rule_enforcements
from levante.platform.triggers import builtin
from levante.platform.triggers import store as trigger_store

RULES = 50


def prepare(db: Engine) -> str:
    """The core pack, the built-in types and 50 rules; the ref of their trigger."""
    register_packs(db, [], ["core"])
    builtin.ensure_builtin(db)
    ref = ""
    for n in range(RULES):
        rule = model.checked(
            {"name": f"r{n}", "pack": "bench", "enabled": True,
             "trigger": {"type": "core.st2.webhook", "parameters": {"url": "bench"}},
             "criteria": {"trigger.body.n": {"type": "equals", "pattern": n}},
             "action": {"ref": "core.noop"}},
            trigger_type=lambda r: trigger_store.get_trigger_type(db, r), user="bench")
        ref = rule_store.save_rule(db, rule)["trigger_ref"]
    return ref


def run(db: Engine, instances: int, engines: int, batch: int) -> float:
    """Record ``instances``, then the seconds until ``engines`` have processed them."""
    trigger = prepare(db)
    with writing(db) as conn:
        for n in range(instances):
            trigger_store.record_instance(conn, trigger, {"body": {"n": n % RULES},
                                                          "headers": {}})
    settings = Settings(system_user="stanley", batch_size=batch, poll_interval=0.1,
                        lease_seconds=60.0, allow_sudo=False, default_timeout=600,
                        max_nesting=100)

    def engine(owner: str) -> None:
        cache = RuleCache(db)
        while process_batch(db, settings, cache, owner):
            pass

    threads = [threading.Thread(target=engine, args=(f"bench-{n}",))
               for n in range(engines)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with db.connect() as conn:
        done = conn.execute(select(func.count()).select_from(rule_enforcements)).scalar_one()
    assert done == instances, f"{done} enforcements for {instances} instances"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--database", default="", help="a database URL (default: a new "
                        "SQLite file); it must be empty")
    parser.add_argument("--engines", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        manage.upgrade(url, "head")
        db = make_engine(url)
        try:
            elapsed = run(db, args.instances, args.engines, args.batch)
        finally:
            db.dispose()
    print(f"rules engine, {RULES} rules, {args.engines} engine(s), batches of "
          f"{args.batch}: {args.instances} instances in {elapsed:.2f} s = "
          f"{args.instances / elapsed:,.0f} instances/s")


if __name__ == "__main__":
    main()
