"""The rules engine's batches over a real database (SQLite and PostgreSQL): instances
recorded with ``record_instance`` enforced exactly once, failures recorded on the
enforcement, claims taken over after a lease, and two engines sharing a burst."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from levante.db.connect import make_engine, writing
from levante.platform.core.models import executions
from levante.platform.core.pack_registry import register_packs
from levante.platform.rules import model
from levante.platform.rules import store as rule_store
from levante.platform.rules.service import RuleCache, Settings, commit, plan, process_batch
from levante.platform.rules.tables import rule_enforcements
from levante.platform.triggers import builtin
from levante.platform.triggers import store as trigger_store
from levante.platform.triggers.tables import trigger_instances, trigger_types

SETTINGS = Settings(system_user="stanley", batch_size=25, poll_interval=0.1,
                    lease_seconds=30.0, allow_sudo=False, default_timeout=60,
                    max_nesting=10)


@pytest.fixture
def db(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    register_packs(engine, [], ["core"])
    builtin.ensure_builtin(engine)
    yield engine
    engine.dispose()


def add_rule(db: Engine, name: str, body: dict[str, Any]) -> dict[str, Any]:
    rule = model.checked({"name": name, "pack": "tests", "enabled": True, **body},
                         trigger_type=lambda ref: trigger_store.get_trigger_type(db, ref),
                         user="ops")
    return rule_store.save_rule(db, rule)


def record(db: Engine, trigger: str, payloads: list[Any]) -> list[str]:
    with writing(db) as conn:
        return [trigger_store.record_instance(conn, trigger, p) for p in payloads]


def drain(db: Engine, owner: str = "engine-a", cache: RuleCache | None = None) -> None:
    cache = cache or RuleCache(db)
    while process_batch(db, SETTINGS, cache, owner):
        pass


def enforcements(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(rule_enforcements))]


def statuses(db: Engine, ids: list[str]) -> dict[str, str]:
    with db.connect() as conn:
        return {r.id: r.status for r in conn.execute(
            select(trigger_instances.c.id, trigger_instances.c.status)
            .where(trigger_instances.c.id.in_(ids)))}


def rule_executions(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(executions))]
    return [r for r in rows if "rule" in (r["context"] or {})]


ALERT_RULE = {
    "trigger": {"type": "core.st2.webhook", "parameters": {"url": "alerts"}},
    "criteria": {"trigger.body.severity": {"type": "equals", "pattern": "high"}},
    "action": {"ref": "core.noop", "parameters": {}},
}


def test_matching_instances_are_enforced_once_with_context(db: Engine) -> None:
    rule = add_rule(db, "alerts", ALERT_RULE)
    echo = add_rule(db, "echo", {
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "alerts"}},
        "action": {"ref": "core.local",
                   "parameters": {"cmd": "echo {{ trigger.body.host }} {{ rule.ref }}"}},
        "context": {"user": "alice"},
    })
    assert rule["trigger_ref"] == echo["trigger_ref"]  # same type and parameters: shared
    assert rule["trigger_ref"].startswith("core.")
    ids = record(db, rule["trigger_ref"], [{"body": {"severity": "high", "host": "h1"}},
                                           {"body": {"severity": "low", "host": "h2"}}])
    drain(db)
    assert statuses(db, ids) == {ids[0]: "processed", ids[1]: "processed"}
    found = enforcements(db)
    assert Counter((e["trigger_instance_id"], e["rule_ref"]) for e in found) == {
        (ids[0], "tests.alerts"): 1, (ids[0], "tests.echo"): 1, (ids[1], "tests.echo"): 1}
    assert {e["status"] for e in found} == {"succeeded"}
    started = {e["execution_id"]: e for e in found}
    runs = rule_executions(db)
    assert {r["id"] for r in runs} == set(started)
    by_rule = {r["context"]["rule"]["ref"]: r for r in runs
               if r["context"]["trigger_instance"]["id"] == ids[0]}
    assert by_rule["tests.alerts"]["user"] == "ops"
    assert by_rule["tests.echo"]["user"] == "alice"
    assert by_rule["tests.echo"]["parameters"]["cmd"] == "echo h1 tests.echo"
    assert by_rule["tests.echo"]["context"]["rule"] == {"id": echo["id"],
                                                        "ref": "tests.echo"}
    assert by_rule["tests.echo"]["status"] == "requested"
    # processed instances are never taken again
    drain(db)
    assert len(enforcements(db)) == 3


def test_a_bad_rule_is_recorded_failed_and_the_instance_processing_failed(
        db: Engine) -> None:
    add_rule(db, "missing", {"trigger": {"type": "core.st2.generic.actiontrigger"},
                             "action": {"ref": "nowhere.nothing"}})
    add_rule(db, "badparam", {"trigger": {"type": "core.st2.generic.actiontrigger"},
                              "action": {"ref": "core.local",
                                         "parameters": {"cmd": "{{ trigger.nope.x }}"}}})
    add_rule(db, "good", {"trigger": {"type": "core.st2.generic.actiontrigger"},
                          "action": {"ref": "core.noop"}})
    ids = record(db, "core.st2.generic.actiontrigger", [{"status": "succeeded"}])
    drain(db)
    assert statuses(db, ids) == {ids[0]: "processing_failed"}
    found = {e["rule_ref"]: e for e in enforcements(db)}
    assert found["tests.good"]["status"] == "succeeded"
    assert found["tests.missing"]["status"] == "failed"
    assert "nowhere.nothing" in found["tests.missing"]["failure_reason"]
    assert found["tests.missing"]["execution_id"] is None
    assert found["tests.badparam"]["status"] == "failed"
    assert "cmd" in found["tests.badparam"]["failure_reason"]
    assert len(rule_executions(db)) == 1


def test_a_replayed_batch_and_a_taken_over_claim_start_nothing_twice(db: Engine) -> None:
    rule = add_rule(db, "alerts", ALERT_RULE)
    ids = record(db, rule["trigger_ref"], [{"body": {"severity": "high"}}] * 3)
    # engine A claims, plans and commits, then "crashes" before anything else; a retry of
    # the same plan (its transaction replayed) finds the enforcements
    claimed = trigger_store.claim_instances(db, "engine-a", 10, 30.0)
    assert {r["id"] for r in claimed} == set(ids)
    planned = plan(db, SETTINGS, RuleCache(db).current(), claimed, {})
    assert commit(db, "engine-a", claimed, planned) == 3
    assert commit(db, "engine-a", claimed, plan(db, SETTINGS, RuleCache(db).current(),
                                                 claimed, {})) == 0
    # engine A claims more and dies: its lease runs out, engine B takes them over
    more = record(db, rule["trigger_ref"], [{"body": {"severity": "high"}}] * 2)
    assert len(trigger_store.claim_instances(db, "engine-a", 10, 30.0)) == 2
    drain(db, "engine-b")
    assert statuses(db, more) == {i: "processing" for i in more}  # lease still held
    with writing(db) as conn:
        conn.execute(update(trigger_instances).where(trigger_instances.c.id.in_(more))
                     .values(lease_until=trigger_store.now()))
    drain(db, "engine-b")
    assert statuses(db, ids + more) == {i: "processed" for i in ids + more}
    per_instance = Counter(e["trigger_instance_id"] for e in enforcements(db))
    assert per_instance == {i: 1 for i in ids + more}
    assert len(rule_executions(db)) == 5


def test_an_instance_waits_for_a_rules_engine_only_when_an_enabled_rule_names_it(
    db: Engine,
) -> None:
    """With no enabled rule of its trigger an instance is processed as it is written (the
    action trigger of every execution's end costs no rules engine any work); once a rule
    names the trigger, its instances wait for a rules engine, and are enforced."""
    woken: list[int] = []
    trigger_store.add_waker(db, lambda: woken.append(1))
    trigger = "core.st2.generic.actiontrigger"
    [unheard] = record(db, trigger, [{"status": "succeeded"}])
    assert statuses(db, [unheard]) == {unheard: "processed"} and woken == []
    rule = add_rule(db, "on_end", {"trigger": {"type": trigger},
                                   "action": {"ref": "core.noop", "parameters": {}}})
    heard = record(db, trigger, [{"status": "succeeded"}, {"status": "failed"}])
    assert statuses(db, heard) == dict.fromkeys(heard, "pending")
    assert woken == [1]  # one wake-up for the transaction, however many instances
    drain(db)
    assert statuses(db, heard) == dict.fromkeys(heard, "processed")
    assert sorted(e["trigger_instance_id"] for e in enforcements(db)) == sorted(heard)
    rule_store.set_enabled(db, rule["id"], False)
    [disabled] = record(db, trigger, [{"status": "succeeded"}])
    assert statuses(db, [disabled]) == {disabled: "processed"}


def test_built_in_types_stored_as_they_are_are_not_written_again(db: Engine) -> None:
    """Every start of the API and of a rules engine ensures the built-in types: an
    unchanged one keeps its row (no UPDATE, its updated_at as it was)."""
    def stamps() -> dict[str, Any]:
        with db.connect() as conn:
            return {r.ref: r.updated_at for r in conn.execute(select(trigger_types))}

    before = stamps()
    builtin.ensure_builtin(db)
    assert stamps() == before and len(before) >= 12
    with writing(db) as conn:
        trigger_store.upsert_trigger_type(conn, "core.st2.webhook", description="changed")
    assert stamps()["core.st2.webhook"] != before["core.st2.webhook"]


def test_the_rule_cache_follows_rule_changes(db: Engine) -> None:
    cache = RuleCache(db)
    rule = add_rule(db, "alerts", ALERT_RULE)
    assert [r["ref"] for r in cache.current()[rule["trigger_ref"]]] == ["tests.alerts"]
    rule_store.set_enabled(db, rule["id"], False)
    assert cache.current() == {}
    ids = record(db, rule["trigger_ref"], [{"body": {"severity": "high"}}])
    drain(db, cache=cache)
    assert statuses(db, ids) == {ids[0]: "processed"}
    assert enforcements(db) == []


@pytest.mark.postgres
def test_two_engines_share_a_burst_without_duplicates(postgres_url: str) -> None:
    from levante.db import manage

    manage.upgrade(postgres_url, "head")
    db = make_engine(postgres_url)
    try:
        register_packs(db, [], ["core"])
        builtin.ensure_builtin(db)
        rule = add_rule(db, "alerts", ALERT_RULE)
        add_rule(db, "all", {"trigger": ALERT_RULE["trigger"],
                             "action": {"ref": "core.noop"}})
        ids = record(db, rule["trigger_ref"], [{"body": {"severity": "high", "n": n}}
                                               for n in range(300)])
        errors: list[BaseException] = []

        def engine(owner: str) -> None:
            try:
                drain(db, owner)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=engine, args=(f"engine-{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert set(statuses(db, ids).values()) == {"processed"}
        found = enforcements(db)
        assert Counter((e["trigger_instance_id"], e["rule_id"]) for e in found).most_common(
            1)[0][1] == 1
        assert len(found) == 600
        assert len(rule_executions(db)) == 600
    finally:
        db.dispose()


def test_retention_purges_old_processed_instances_with_their_enforcements(
        db: Engine) -> None:
    from datetime import timedelta

    from levante.platform.retention.service import purge_platform
    from levante.retention import Policy

    rule = add_rule(db, "alerts", ALERT_RULE)
    old = record(db, rule["trigger_ref"], [{"body": {"severity": "high"}}] * 3)
    drain(db)
    with writing(db) as conn:
        conn.execute(update(trigger_instances).where(trigger_instances.c.id.in_(old))
                     .values(occurrence_time=trigger_store.now() - timedelta(days=10)))
    waiting = record(db, rule["trigger_ref"], [{"body": {"severity": "high"}}])
    with writing(db) as conn:  # pending and old: never purged
        conn.execute(update(trigger_instances).where(trigger_instances.c.id.in_(waiting))
                     .values(occurrence_time=trigger_store.now() - timedelta(days=10)))
    counts = purge_platform(db, Policy(trigger_instances_days=7, batch_size=2))
    assert counts == {"trigger instances": 3, "timer slots": 0}
    assert statuses(db, old + waiting) == {waiting[0]: "pending"}
    assert enforcements(db) == []


def test_criteria_and_parameters_read_the_datastore(db: Engine) -> None:
    from levante.platform.datastore import pairs
    from levante.platform.datastore import store as kv_store

    kv_store.put(db, pairs.SYSTEM, "", "restartable", '["nginx", "postgresql"]', False,
                 None, trigger_store.now())
    kv_store.put(db, pairs.SYSTEM, "", "team", "web-ops", False, None,
                 trigger_store.now())
    add_rule(db, "restart", {
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "alerts"}},
        "criteria": {
            "trigger.body.alert.service": {
                "type": "inside",
                "pattern": "{{ st2kv.system.restartable | from_json_string }}"},
            "trigger.body.alert.host": {"type": "matchwildcard", "pattern": "prod-*"}},
        "action": {"ref": "core.local", "parameters": {
            "cmd": "echo {{ st2kv.system.team }} {{ trigger.body.alert.service }}"}},
    })
    trigger = rule_store.get_rule(db, "tests.restart")["trigger_ref"]  # type: ignore[index]
    ids = record(db, trigger, [
        {"body": {"alert": {"service": "nginx", "host": "prod-web-3"}}},
        {"body": {"alert": {"service": "sshd", "host": "prod-web-3"}}},
        {"body": {"alert": {"service": "nginx", "host": "staging-1"}}},
    ])
    drain(db)
    found = enforcements(db)
    assert [e["trigger_instance_id"] for e in found] == [ids[0]]
    (run,) = rule_executions(db)
    assert run["parameters"]["cmd"] == "echo web-ops nginx"
