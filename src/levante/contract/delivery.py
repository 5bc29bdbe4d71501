"""One way of delivering what one service owes the other, in both directions.

Each service keeps an outbox in its own database (the engine's ``event_deliveries``, fed
by its ``engine_events``; the platform's ``engine_reports``), written in the transaction
of the change that calls for the message, and a loop that claims due rows, sends them,
and records how each attempt went. What differs between the two directions is data, a
:class:`Route`: the HTTP method, how an answer is judged (:class:`Acceptance`), the
backoff between attempts (:class:`Backoff`), how a refusal reads, and the log lines. The
attempt itself (:func:`attempt`) and the wait between rounds (:func:`wait_for_wake`) are
one code path for both.
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


@dataclass(frozen=True)
class Route:
    """One direction of the handshake, as data."""

    name: str
    method: str
    acceptance: Acceptance
    fault: Callable[[httpx.Response], str]
    # Log lines by kind of message, before and after a delivery (events: str.format
    # fields {wf}, {event}, {subject}, {target}; reports: %-style, as retry and give_up).
    before: Mapping[str, str]
    after: Mapping[str, str]
    retry: str
    give_up: str


# Engine -> platform (and any webhook): events, POSTed, tried again until delivered or
# given up after [notifier] max_retry_age (the Backoff comes from the configuration).
EVENTS: Final = Route(
    name="events",
    method="POST",
    acceptance=Acceptance(refuses=False),
    fault=response_text,
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
    retry="[%s] The event %s (id %s) could not be delivered to %s (attempt %d): %s; next "
          "attempt at %s",
    give_up="[%s] Giving up the event %s (id %s) to %s after %d attempt(s): %s",
)

# Answers of the engine that mean "it already knows": the report is done.
ALREADY_DONE: Final = ("already ended", "has already ended", "already been")

# Platform -> engine: reports (a child's end, a command to a workflow), PUT until the
# engine acknowledges them; a definite 4xx is kept as refused (401: the service key is
# replaced, and the report tried again).
REPORTS: Final = Route(
    name="reports",
    method="PUT",
    acceptance=Acceptance(refuses=True, retry_statuses=frozenset({401, 408, 425, 429}),
                          already_done_statuses=frozenset({400, 409}),
                          already_done=ALREADY_DONE),
    fault=fault_text,
    before={},
    after={"report": "%s acknowledged by the engine in %d ms"},
    retry="%s not delivered (attempt %d): %s; next attempt at %s",
    give_up="%s refused by the engine, not sent again: %s",
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
