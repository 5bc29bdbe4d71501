"""What a direction of the handshake is, as data, and the one attempt both share.

Both services write what they owe the other into the one `outbox` table
(:mod:`levante.contract.tables`; the engine's events to subscribers on the route
``events``, the platform's reports to the engine on ``reports``), in the transaction of
the change that calls for the message, and run the one claim-and-send loop
(:mod:`levante.contract.outbox`). What differs between the two directions is data, a
:class:`Route`: the HTTP method, how an answer is judged (:class:`Acceptance`), what the
states are called, which lines go first or travel together, and the log lines; the
backoff (:class:`Backoff`) comes from each service's configuration. The attempt itself
(:func:`attempt`) and the wait between rounds (:func:`wait_for_wake`) are one code path
for both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import httpx

from levante.contract import events, wire

ERROR_SNIPPET: Final = 300


class Verdict(StrEnum):
    """What an answer means for a message."""

    DELIVERED = "delivered"  # acknowledged: never sent again
    RETRY = "retry"  # not now: sent again after the backoff
    REFUSED = "refused"  # a definite no: never sent again


@dataclass(frozen=True)
class Backoff:
    """Seconds between attempts: ``initial`` doubling up to ``maximum``; given up once the
    next attempt would come more than ``max_age`` seconds after the message was written
    (None: never given up)."""

    initial: float
    maximum: float
    max_age: float | None = None

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        if attempts < 1:
            return 0.0
        return float(min(self.maximum, self.initial * (2 ** min(attempts - 1, 60))))

    def retry_at(self, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failures, or None when it is time to give
        up."""
        when = now + timedelta(seconds=self.delay(attempts))
        if self.max_age is not None and (when - created_at).total_seconds() > self.max_age:
            return None
        return when


@dataclass(frozen=True)
class Acceptance:
    """How an answer is judged. A 2xx is delivered; so is a refusal (one of
    ``already_done_statuses`` whose text holds one of ``already_done``) that says the
    receiver had the message already. With ``refuses``, any other 4xx but
    ``retry_statuses`` is a definite no; without, every other answer is tried again."""

    refuses: bool = False
    retry_statuses: frozenset[int] = frozenset()
    already_done_statuses: frozenset[int] = frozenset()
    already_done: tuple[str, ...] = ()

    def judge(self, status: int | None, error: str | None) -> Verdict:
        """The verdict on an answer (``status`` None: no answer at all)."""
        if status is None:
            return Verdict.RETRY
        if 200 <= status < 300:
            return Verdict.DELIVERED
        text = (error or "").lower()
        if status in self.already_done_statuses and any(m in text for m in self.already_done):
            return Verdict.DELIVERED
        if not self.refuses or status in self.retry_statuses or status >= 500:
            return Verdict.RETRY
        return Verdict.REFUSED


def response_text(response: httpx.Response) -> str:
    """The start of an answer's body."""
    return response.text[:ERROR_SNIPPET]


def fault_text(response: httpx.Response) -> str:
    """Mistral's ``faultstring`` of an answer, else the start of its body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:ERROR_SNIPPET]
    if isinstance(body, Mapping) and isinstance(body.get("faultstring"), str):
        return str(body["faultstring"])[:ERROR_SNIPPET]
    return response.text[:ERROR_SNIPPET]


def _no_wave(row: Mapping[str, Any]) -> int:
    del row
    return 0


@dataclass(frozen=True)
class Route:
    """One direction of the handshake, as data: how its messages are sent and judged,
    what its states are called, and its log lines (str.format templates, by kind of
    message for ``before``/``after``; the fields come from ``fields(row)`` plus
    ``attempt``, ``error``, ``retry_at`` and ``ms``)."""

    name: str  # the outbox's route column
    logger: str
    method: str
    acceptance: Acceptance
    fault: Callable[[httpx.Response], str]
    delivered: str  # the state of a message the receiver acknowledged
    given_up: str  # the state of a message refused, or no longer tried
    fields: Callable[[Mapping[str, Any]], dict[str, Any]]
    kind_of: Callable[[Mapping[str, Any]], str]  # the key of a row's before/after line
    before: Mapping[str, str]
    after: Mapping[str, str]
    retry: str
    give_up: str
    # Lines of a lower wave, claimed together, are sent first (reports: commands first).
    wave: Callable[[Mapping[str, Any]], int] = _no_wave
    batches: str | None = None  # the kind whose line is sent in one request, batched

    def line_before(self, row: Mapping[str, Any]) -> str | None:
        template = self.before.get(self.kind_of(row))
        return template.format(**self.fields(row)) if template else None

    def line_after(self, row: Mapping[str, Any], answer: Answer) -> str:
        template = self.after[self.kind_of(row)]
        return template.format(**self.fields(row), ms=answer.ms, error=answer.error)

    def line_retry(self, row: Mapping[str, Any], answer: Answer,
                   retry_at: datetime | None) -> str:
        when = retry_at.isoformat(timespec="milliseconds") if retry_at else ""
        return self.retry.format(**self.fields(row), attempt=int(row["attempts"]) + 1,
                                 error=answer.error, retry_at=when)

    def line_give_up(self, row: Mapping[str, Any], answer: Answer) -> str:
        return self.give_up.format(**self.fields(row), attempt=int(row["attempts"]) + 1,
                                   error=answer.error)


def _event_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    wf = row["execution_id"]
    task = events.is_task_event(row["event"])
    return {"wf": wf, "event": row["event"], "event_id": row["event_id"],
            "subject": row["task_execution_id"] if task else wf, "target": row["kind"]}


def _event_kind(row: Mapping[str, Any]) -> str:
    return "task" if events.is_task_event(row["event"]) else "workflow"


# Engine -> platform (and any webhook): events, POSTed, tried again until delivered or
# given up after [notifier] max_retry_age (the Backoff comes from the configuration).
EVENTS: Final = Route(
    name="events",
    logger="levante.engine.notifier",
    method="POST",
    acceptance=Acceptance(refuses=False),
    fault=response_text,
    delivered="delivered",
    given_up="failed",
    fields=_event_fields,
    kind_of=_event_kind,
    before={
        "task": "[{wf}] The task event {event} for {subject} will be processed for {target}.",
        "workflow": "[{wf}] The workflow event {event} for {subject} will be published to "
                    "{target}.",
    },
    after={
        "task": "[{wf}] The task event {event} for {subject} is processed for {target}.",
        "workflow": "[{wf}] The workflow event {event} for {subject} is published to "
                    "{target}.",
    },
    retry="[{wf}] The event {event} (id {event_id}) could not be delivered to {target} "
          "(attempt {attempt}): {error}; next attempt at {retry_at}",
    give_up="[{wf}] Giving up the event {event} (id {event_id}) to {target} after "
            "{attempt} attempt(s): {error}",
    batches=wire.SUBSCRIBER,
)

# Answers of the engine that mean "it already knows": the report is done.
ALREADY_DONE: Final = ("already ended", "has already ended", "already been")


def _report_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    body = row.get("body")
    state = body.get("state") if isinstance(body, Mapping) else None
    return {"tag": f"[{row['execution_id']}] report {row['id']} ({row['kind']} "
                   f"{row['target_id']}: {state})"}


def _report_kind(row: Mapping[str, Any]) -> str:
    del row
    return "report"


def _commands_first(row: Mapping[str, Any]) -> int:
    """Commands to workflows first: a cancel must reach the engine before the ends of the
    children it cancels, or the engine would see a failed task instead."""
    return 0 if row["kind"] == "workflow" else 1


# Platform -> engine: reports (a child's end, a command to a workflow), PUT until the
# engine acknowledges them; a definite 4xx is kept as refused (401: the service key is
# replaced, and the report tried again).
REPORTS: Final = Route(
    name="reports",
    logger="levante.platform.engine_reporting",
    method="PUT",
    acceptance=Acceptance(refuses=True, retry_statuses=frozenset({401, 408, 425, 429}),
                          already_done_statuses=frozenset({400, 409}),
                          already_done=ALREADY_DONE),
    fault=fault_text,
    delivered="acknowledged",
    given_up="rejected",
    fields=_report_fields,
    kind_of=_report_kind,
    before={},
    after={"report": "{tag} acknowledged by the engine in {ms} ms"},
    retry="{tag} not delivered (attempt {attempt}): {error}; next attempt at {retry_at}",
    give_up="{tag} refused by the engine, not sent again: {error}",
    wave=_commands_first,
)
REPORT_BACKOFF: Final = Backoff(0.5, 60.0)


@dataclass(frozen=True)
class Answer:
    """How one attempt went: HTTP status (None: no answer), error, milliseconds."""

    status: int | None
    error: str | None
    ms: int

    def verdict(self, route: Route) -> Verdict:
        return route.acceptance.judge(self.status, self.error)


def error_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def attempt(route: Route, client: httpx.AsyncClient, url: str, **request: Any) -> Answer:
    """One request of ``route`` (``request``: httpx's content/json/headers); never raises
    for HTTP errors."""
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        response = await client.request(route.method, url, **request)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}: {route.fault(response)}"
    except httpx.HTTPError as exc:
        error = error_of(exc)
    return Answer(status, error, int((time.perf_counter() - started) * 1000))


async def wait_for_wake(wake: asyncio.Event, stopping: asyncio.Event, timeout: float) -> bool:
    """Wait for a wake-up, the stop or ``timeout`` seconds; True when woken."""
    waiter = asyncio.create_task(wake.wait())
    stopper = asyncio.create_task(stopping.wait())
    await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    woken = waiter.done()
    waiter.cancel()
    stopper.cancel()
    return woken
