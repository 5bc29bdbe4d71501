"""The notifier's delivery worker: outbox events -> signed HTTP POSTs, at least once, in order.

Each event is fanned out to the subscribers of its execution (`params.notify`: Mistral's
`webhook` entries and the platform's `levante` entry, whose URL and credential come from
`params.env.levante`) and to `[notifier] webhooks`. A delivery is retried with exponential
backoff (`initial_backoff` doubling up to `max_backoff`) until a 2xx answer, or given up
after `max_retry_age`. Bodies are Mistral's notification data (plus `event`, `event_id`
and, for workflow events, `output` and `tasks`), signed with Standard Webhooks headers.
The loop is the contract's (`levante.contract.outbox`, route `events` of the one
`outbox` table); this module adds the fan-out before each claim, the bodies and the
signing. It wakes at once when the runtime commits events (`levante.engine.wakeup`, and
LISTEN on PostgreSQL), else looks every `[notifier] poll_interval`. When nothing is in
flight, the in-process wake-up fans out and claims the fresh events in the thread that
committed them, in one transaction, and hands the claimed lines to the event loop to POST:
the hot path from the engine's commit to the platform's then holds one claim transaction,
one request and the receiver's transaction, and no sleep or poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from levante.config import Config
from levante.contract import events
from levante.contract.body import PRIVATE_KEYS, EventBody, TaskBody, batch
from levante.contract.delivery import EVENTS, Answer, Backoff, attempt
from levante.contract.outbox import Claimed, DeliveryLoop, LoopSettings
from levante.contract.signing import signed_headers, signing_secret
from levante.engine import platform_actions, wakeup
from levante.engine.api.encode import fmt_time
from levante.engine.store import outbox
from levante.engine.store.outbox import Outcome

log = logging.getLogger("levante.engine.notifier")

LEASE_MARGIN = 5.0  # beyond request_timeout: a dead process's claims are taken over then
PURGE_EVERY = 600.0  # s between purges of old finished deliveries
BATCH = 50  # events of one line sent together to a `levante` subscriber


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1, 2, ...)."""
    return Backoff(initial, maximum).delay(attempts)


def retry_time(
    attempts: int, created_at: datetime, now: datetime, initial: float, maximum: float,
    max_age: float,
) -> datetime | None:
    """When to try again after `attempts` failures, or None when it is time to give up."""
    return Backoff(initial, maximum, max_age).retry_at(attempts, created_at, now)


def _fmt(value: Any) -> str | None:
    """Mistral's timestamp of a datetime column (None for anything else)."""
    return fmt_time(value) if isinstance(value, datetime) else None


def task_view(row: Mapping[str, Any]) -> TaskBody:
    """A task as events (and the platform's `result.tasks`) carry it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "workflow_execution_id": row["workflow_execution_id"],
        "workflow_name": row["workflow_name"],
        "workflow_namespace": row.get("workflow_namespace") or "",
        "workflow_id": row.get("workflow_id"),
        "root_execution_id": row.get("root_execution_id"),
        "type": row.get("type"),
        "state": row["state"],
        "state_info": row.get("state_info"),
        "published": row.get("published") or {},
        "result": row.get("result"),
        "project_id": row.get("project_id"),
        "created_at": _fmt(row.get("created_at")),
        "updated_at": _fmt(row.get("updated_at")),
    }


def event_body(delivery: Mapping[str, Any], material: Mapping[str, Any]) -> EventBody:
    """The JSON body of one delivery (identical for every subscriber of the event)."""
    name = delivery["event"]
    event = material["events"].get(delivery["event_id"]) or {}
    raw = event.get("payload")
    payload: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    workflows = material["workflows"]
    wf = workflows.get(delivery["execution_id"]) or {}
    root = workflows.get(delivery["root_execution_id"]) or wf
    body: dict[str, Any]
    if events.is_task_event(name):
        task = material["tasks"].get(delivery["task_execution_id"])
        body = dict(task_view(task)) if task else {
            "id": delivery["task_execution_id"],
            "workflow_execution_id": delivery["execution_id"],
            "root_execution_id": delivery["root_execution_id"],
        }
        body.update({k: v for k, v in payload.items() if k not in PRIVATE_KEYS})
        body["state"] = events.TASK_EVENT_STATES.get(name, body.get("state"))
    else:
        body = {
            "id": delivery["execution_id"],
            "name": wf.get("name"),
            "workflow_name": wf.get("workflow_name"),
            "workflow_namespace": wf.get("workflow_namespace") or "",
            "workflow_id": wf.get("workflow_id"),
            "root_execution_id": delivery["root_execution_id"],
            "task_execution_id": wf.get("task_execution_id"),
            "state_info": wf.get("state_info"),
            "project_id": wf.get("project_id"),
            "created_at": _fmt(wf.get("created_at")),
            "updated_at": _fmt(wf.get("updated_at")),
        }
        body.update({k: v for k, v in payload.items() if k not in PRIVATE_KEYS})
        body["state"] = events.WORKFLOW_EVENT_STATES.get(
            name, body.get("state") or wf.get("state"))
        if events.carries_tasks(name):
            # (an output without `output:` is the whole context, inputs included)
            body["output"] = platform_actions.mask_input(wf.get("output") or {},
                                                         wf.get("params"))
            body["tasks"] = [task_view(t) for t in material["tasks_of"].get(wf.get("id"), [])]
    body["event"] = name
    body["event_id"] = delivery["event_id"]
    body["timestamp"] = _fmt(event.get("created_at")) or _fmt(delivery["created_at"])
    platform_id = outbox.levante_env(root.get("params")).get("execution_id")
    if platform_id:
        body["platform_execution_id"] = platform_id
    # Secret inputs, wherever the workflow put them (published, output, results).
    secrets = platform_actions.secret_values(wf.get("params"), wf.get("input"))
    if secrets:
        body = platform_actions.scrub(body, secrets)
    return body  # type: ignore[return-value]  # (built as a dict, shaped as EventBody)


def message_id(line: Sequence[Mapping[str, Any]]) -> str:
    """The same id for every attempt of the same events to one subscriber."""
    first, last = line[0]["event_id"], line[-1]["event_id"]
    return f"msg_levante_{first}" if first == last else f"msg_levante_{first}-{last}"


class DeliveryService(DeliveryLoop):
    """The `notifier` role: the contract's delivery loop on the `events` route, with the
    fan-out of outbox events before each claim, and signed POSTs."""

    name = "notifier"

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.enabled = config.get_bool("notifier", "enabled")
        self.webhooks = config.get_list("notifier", "webhooks")
        timeout = config.get_float("notifier", "request_timeout")
        self.linger = config.get_float("notifier", "task_event_linger")
        self.lease = timeout + LEASE_MARGIN
        self.keep = timedelta(days=config.get_float("notifier", "keep_days"))
        self.secret = signing_secret(config)
        super().__init__(EVENTS, engine, LoopSettings(
            poll=config.get_float("notifier", "poll_interval"),
            concurrency=config.get_int("notifier", "concurrency"),
            backoff=Backoff(config.get_float("notifier", "initial_backoff"),
                            config.get_float("notifier", "max_backoff"),
                            config.get_float("notifier", "max_retry_age")),
            timeout=timeout, linger=self.linger, direct=True, watch_sqlite=True,
            listen=wakeup.CHANNEL, purge_every=PURGE_EVERY))

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.enabled:
            log.info("notifier disabled ([notifier] enabled = false)")
            await stopping.wait()
            return
        wakeup.add_listener(self.engine, self.wake, later=self.wake_later)
        try:
            await super().run(stopping)
        finally:
            wakeup.remove_listener(self.engine, self.wake, later=self.wake_later)

    async def open_client(self) -> httpx.AsyncClient:
        concurrency = self.settings.concurrency
        limits = httpx.Limits(max_connections=concurrency * 2,
                              max_keepalive_connections=concurrency)
        return httpx.AsyncClient(timeout=self.settings.timeout, limits=limits)

    def has_work(self) -> bool:
        return outbox.has_work(self.engine, self.linger)

    def purge(self) -> None:
        with outbox.writing(self.engine) as conn:
            gone = outbox.purge(conn, outbox.now() - self.keep)
        if gone:
            log.info("notifier: forgot %d finished deliveries older than %s", gone, self.keep)

    def claim(self, outcomes: Sequence[Outcome], limit: int, direct: bool = False) -> Claimed:
        """One write transaction: record `outcomes`, fan out, claim the heads of lines,
        read the bodies' material and (unless `direct` found lines: the outcome's round
        does it) the next due time."""
        with outbox.writing(self.engine) as conn:
            if outcomes:
                outbox.record(conn, outcomes)
            if limit <= 0:
                return Claimed(due=outbox.pending_due(conn))
            seen: dict[str, dict[Any, dict[str, Any]]] = {}
            outbox.fanout(conn, self.webhooks, seen=seen, linger=self.linger)
            lines = outbox.claim(conn, self.lease, limit, BATCH)
            flat = [d for line in lines for d in line]
            material = outbox.event_material(conn, flat, seen) if flat else {}
            due = None if direct and lines else outbox.pending_due(conn)
        return Claimed(lines, material, due, busy="busy" in seen)

    async def request(self, client: httpx.AsyncClient, line: list[dict[str, Any]],
                      material: Any) -> Answer:
        """POST one line of deliveries (one event, or a batch for `levante`)."""
        head = line[0]
        bodies = [event_body(d, material) for d in line]
        body = json.dumps(batch(bodies), default=str).encode("utf-8")
        headers = {"content-type": "application/json", **dict(head["headers"] or {})}
        headers.update(signed_headers(self.secret, message_id(line), body))
        return await attempt(EVENTS, client, head["url"], content=body, headers=headers)


def delivery_services(config: Config, engine: Engine) -> list[DeliveryService]:
    """The `notifier` role's services (see levante.engine.service:notifier_services)."""
    return [DeliveryService(config, engine)]
