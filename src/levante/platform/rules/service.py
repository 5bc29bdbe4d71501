"""The rules engine role: claims pending trigger instances and enforces matching rules.

Each batch: claim up to ``[rulesengine] batch_size`` instances (PostgreSQL: SKIP LOCKED
with a lease, so any number of rules engines share the work and a dead one's claims are
taken over when its lease ends), complete the payloads of action and notify triggers,
match the enabled rules of each instance's trigger, render each matched rule's action
parameters, then write in ONE transaction every enforcement with its execution and the
instances' ends. An enforcement is unique per (instance, rule): after a crash, or when two
engines meet on a taken-over instance, the second finds it and starts nothing.

A rule whose parameters cannot be rendered, or whose action is missing or refuses them,
gets a ``failed`` enforcement with the reason and its instance ends ``processing_failed``
(StackStorm's way); nothing stops the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.db.connect import reading, writing
from levante.db.times import now
from levante.identity.keys import new_id
from levante.platform.core import executions
from levante.platform.core import store as core_store
from levante.platform.core.jinja_render import render_value
from levante.platform.datastore import pairs
from levante.platform.datastore import render as kv_render
from levante.platform.rules import criteria, model
from levante.platform.rules import store as rule_store
from levante.platform.triggers import builtin, execution_payloads
from levante.platform.triggers import store as trigger_store
from levante.service import Service

log = logging.getLogger("levante.platform.rules")

Row = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """What the rules engine reads from the configuration, once."""

    system_user: str
    batch_size: int
    poll_interval: float
    lease_seconds: float
    allow_sudo: bool
    default_timeout: int
    max_nesting: int

    @classmethod
    def of(cls, config: Config) -> Settings:
        return cls(
            system_user=config.get_str("rulesengine", "system_user"),
            batch_size=config.get_int("rulesengine", "batch_size"),
            poll_interval=config.get_float("rulesengine", "poll_interval"),
            lease_seconds=config.get_float("rulesengine", "lease_seconds"),
            allow_sudo=config.get_bool("runner", "allow_sudo"),
            default_timeout=config.get_int("runner", "default_timeout"),
            max_nesting=config.get_int("engine", "max_nesting_depth"),
        )


@dataclass
class RuleCache:
    """The enabled rules by trigger ref, reloaded when a rule changed (one cheap query
    per batch tells: how many rules and their latest change), and at least every
    ``max_age`` seconds (a change stamped by a host whose clock is behind)."""

    db: Engine
    max_age: float = 10.0
    version: tuple[int, Any] | None = None
    loaded_at: float = 0.0
    by_trigger: dict[str, list[Row]] = field(default_factory=dict)

    def current(self) -> dict[str, list[Row]]:
        version = rule_store.rules_version(self.db)
        if version != self.version or time.monotonic() - self.loaded_at > self.max_age:
            self.loaded_at = time.monotonic()
            found: dict[str, list[Row]] = {}
            for row in rule_store.enabled_rules(self.db):
                found.setdefault(row["trigger_ref"], []).append(row)
            self.by_trigger = found
            self.version = version
        return self.by_trigger


@dataclass
class Planned:
    """One matched rule of one instance: the execution to store, or why there is none."""

    instance_id: str
    rule: Row
    execution: Row | None
    failure: str | None


def _user_of(rule: Row, settings: Settings) -> str:
    context = rule.get("context") or {}
    user = context.get("user") if isinstance(context, Mapping) else None
    return user if isinstance(user, str) and user else settings.system_user


def plan_rule(db: Engine, settings: Settings, instance: Row, payload: Any,
              rule: Row) -> Planned:
    """The execution ``rule`` asks for on ``instance`` (rendered, checked, not stored),
    or the reason it cannot start."""
    user = _user_of(rule, settings)
    action = rule.get("action") or {}
    ref = action.get("ref") if isinstance(action, Mapping) else None
    names: dict[str, Any] = {"trigger": payload, "rule": model.view(rule),
                             **kv_render.names(db, user)}
    params: dict[str, Any] = {}
    for name, value in dict(action.get("parameters") or {}).items():
        try:
            params[name] = render_value(value, names)
        except Exception as exc:  # the rule's template: recorded on its enforcement
            return Planned(instance["id"], rule, None,
                           f"Rule {rule['ref']}: action parameter '{name}' cannot be "
                           f"rendered: {exc}")
    try:
        context = {"rule": {"id": rule["id"], "ref": rule["ref"]},
                   "trigger_instance": {"id": instance["id"], "name": None},
                   "user": user}
        row = executions.prepare_execution(
            db, str(ref), params, user, context=context, allow_sudo=settings.allow_sudo,
            default_timeout=settings.default_timeout, max_nesting=settings.max_nesting)
    except Exception as exc:  # the rule's fault: recorded on its enforcement
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return Planned(instance["id"], rule, None,
                       f"Cannot start action {ref!r} of rule {rule['ref']}: {reason}")
    return Planned(instance["id"], rule, row, None)


def plan(db: Engine, settings: Settings, rules: dict[str, list[Row]],
         instances: list[Row], payloads: Mapping[str, Any]) -> list[Planned]:
    """What the batch ``instances`` will enforce."""
    planned: list[Planned] = []
    datastores: dict[str, dict[str, Any]] = {}  # by user: what criteria templates see
    for instance in instances:
        candidates = rules.get(instance["trigger"], [])
        if not candidates:
            continue
        payload = payloads.get(instance["id"], instance["payload"])
        for rule in candidates:
            user = _user_of(rule, settings)
            names = datastores.get(user)
            if names is None:
                names = datastores[user] = kv_render.names(db, user)
            if criteria.matches(rule["criteria"], payload, names):
                planned.append(plan_rule(db, settings, instance, payload, rule))
    return planned


def commit(db: Engine, owner: str, instances: list[Row], planned: list[Planned]) -> int:
    """Store the batch's enforcements and executions and end its instances, in one
    transaction; how many executions were stored. The enforcements go first: only the
    executions of those inserted now are stored (a pair enforced before, by this
    engine before a crash or by another after a takeover, starts nothing)."""
    statuses = {row["id"]: trigger_store.PROCESSED for row in instances}
    stamp = now()
    rows = []
    for item in planned:
        rows.append({
            "id": new_id(), "rule_id": item.rule["id"], "rule_ref": item.rule["ref"],
            "trigger_instance_id": item.instance_id,
            "execution_id": item.execution["id"] if item.execution is not None else None,
            "status": "failed" if item.failure else "succeeded",
            "failure_reason": item.failure, "enforced_at": stamp,
        })
        if item.failure:
            statuses[item.instance_id] = trigger_store.PROCESSING_FAILED
    with writing(db) as conn:
        fresh = rule_store.insert_enforcements(conn, rows)
        started = [item.execution for item in planned if item.execution is not None
                   and (item.instance_id, item.rule["id"]) in fresh]
        executions.insert_requested(conn, started)
        trigger_store.finish_instances(conn, owner, statuses)
    for item in planned:
        if item.failure and (item.instance_id, item.rule["id"]) in fresh:
            log.warning("[%s] %s", item.instance_id, item.failure)
    if started:
        log.debug("%d instance(s): %d execution(s) started", len(instances), len(started))
    return len(started)


def process_batch(db: Engine, settings: Settings, cache: RuleCache, owner: str) -> int:
    """Claim, match and enforce one batch; how many instances it held."""
    instances = trigger_store.claim_instances(db, owner, settings.batch_size,
                                              settings.lease_seconds)
    if not instances:
        return 0
    with reading(db) as conn:
        payloads = execution_payloads.complete(conn, instances)
    rules = cache.current()
    try:
        commit(db, owner, instances, plan(db, settings, rules, instances, payloads))
    except Exception as exc:
        if faults.refuses_writes(exc):
            raise
        log.exception("a batch of %d trigger instance(s) failed; processing them one by "
                      "one", len(instances))
        for instance in instances:
            _process_alone(db, settings, rules, owner, instance, payloads)
    return len(instances)


def _process_alone(db: Engine, settings: Settings, rules: dict[str, list[Row]],
                   owner: str, instance: Row, payloads: Mapping[str, Any]) -> None:
    """One instance in a transaction of its own; ``processing_failed`` if it fails."""
    try:
        commit(db, owner, [instance], plan(db, settings, rules, [instance], payloads))
    except Exception:
        log.exception("[%s] trigger instance could not be processed", instance["id"])
        with writing(db) as conn:
            trigger_store.finish_instances(
                conn, owner, {instance["id"]: trigger_store.PROCESSING_FAILED})


class RulesEngine:
    """A service of the rulesengine role: batches until stopped, woken at once by
    instances recorded in this process, by NOTIFY on PostgreSQL, else every
    ``poll_interval``."""

    name = "rulesengine"

    def __init__(self, config: Config, db: Engine) -> None:
        self.config = config
        self.db = db
        self.settings = Settings.of(config)
        self.owner = str(uuid.uuid4())
        self.cache = RuleCache(db)
        self.refusals = faults.RefusalWarnings()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _woken(self) -> None:
        """Instances were committed to this engine's database (any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        kv_render.configure(self.db, pairs.key_path_of(self.config))
        await faults.retry_writes_async(
            lambda: builtin.ensure_builtin(self.db), faults.retry_timeout(self.config),
            "the built-in trigger types", log)
        trigger_store.add_waker(self.db, self._woken)
        listening = (None if self.db.dialect.name == "sqlite"
                     else asyncio.create_task(self._listen(stopping)))
        log.info("rules engine %s ready", self.owner)
        try:
            await self._loop_batches(stopping)
        finally:
            trigger_store.remove_waker(self.db, self._woken)
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    async def _loop_batches(self, stopping: asyncio.Event) -> None:
        assert self._wake is not None
        stop_wait = asyncio.create_task(stopping.wait())
        try:
            while not stopping.is_set():
                self._wake.clear()
                try:
                    held = await asyncio.to_thread(process_batch, self.db, self.settings,
                                                   self.cache, self.owner)
                except Exception as exc:
                    held = 0
                    if faults.refuses_writes(exc):
                        self.refusals.warn(log, "processing trigger instances", exc)
                    else:
                        log.exception("could not process trigger instances; retrying")
                if held >= self.settings.batch_size:
                    continue  # there may be more
                waiter = asyncio.create_task(self._wake.wait())
                await asyncio.wait({waiter, stop_wait}, timeout=self.settings.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        finally:
            stop_wait.cancel()

    async def _listen(self, stopping: asyncio.Event) -> None:
        """PostgreSQL: wake on NOTIFY from the processes that record instances."""

        def heard(_: str) -> None:
            if self._wake is not None:
                self._wake.set()

        await core_store.listen_until(self.db, stopping, heard,
                                      channel=trigger_store.NOTIFY_CHANNEL, logger=log)


def rulesengine_services(config: Config, db: Engine) -> list[Service]:
    """The services of ``levante serve rulesengine``."""
    return [RulesEngine(config, db)]
