"""Answering an inquiry, and the sweep that times out those nobody answered.

:func:`respond` checks, in StackStorm's order, that the inquiry exists and still waits,
that the user may answer, and that the answer fits the schema; then the ask execution ends
``succeeded`` with ``response`` added to its result (the report to the engine, for a
workflow task, is written with that change) and the root workflow is resumed.

:class:`InquirySweeper` (runner role) ends ``timeout`` every inquiry pending for longer
than its ``ttl`` (minutes; ``[inquiry] ttl_unit`` seconds each) and resumes its root
workflow, where the timed-out task fails as any failed task does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.platform.core import executions, store
from levante.platform.inquiries import answers, workflows
from levante.platform.inquiries import store as inquiry_store

log = logging.getLogger("levante.platform.inquiries")

INQUIRER = "inquirer"


class Unknown(LookupError):
    """No inquiry of that id (404)."""


class Closed(ValueError):
    """An inquiry that cannot be answered any more (400)."""


def view(row: dict[str, Any]) -> dict[str, Any]:
    """An inquiry as StackStorm's API shows it."""
    return {"id": row["id"], "route": row["route"], "ttl": row["ttl"],
            "users": list(row["users"] or []), "roles": list(row["roles"] or []),
            "schema": row["response_schema"]}


def _closed(row: dict[str, Any]) -> Closed:
    status = row["status"]
    if status == "timeout":
        return Closed(f'Inquiry "{row["id"]}" timed out and cannot be responded to.')
    if status in ("succeeded",):
        return Closed(f'Inquiry "{row["id"]}" has already been responded to.')
    return Closed(f'Inquiry "{row["id"]}" is {status} and cannot be responded to.')


def waiting(db: Engine, inquiry_id: str) -> dict[str, Any]:
    """The inquiry, if it still waits for an answer (Unknown, Closed otherwise)."""
    row = inquiry_store.get_inquiry(db, inquiry_id)
    if row is None:
        raise Unknown(f'Inquiry "{inquiry_id}" cannot be found.')
    if row["status"] != "pending":
        raise _closed(row)
    return row


def respond(db: Engine, inquiry_id: str, response: Any, user: str, *,
            service: bool = False, checked: bool = True) -> dict[str, Any]:
    """Answer an inquiry: ``{"id", "response"}`` (the answer with the schema's defaults).
    ``service``: the request came with a service key; ``checked``: False when the API
    authenticates nobody (anyone may answer)."""
    row = waiting(db, inquiry_id)
    if checked:
        answers.check_permission(inquiry_id, user, row["users"] or [], row["roles"] or [],
                                 service=service)
    answer = answers.validated_answer(inquiry_id, row["response_schema"], response)
    result = {**(row["result"] if isinstance(row["result"], dict) else view(row)),
              "response": answer}
    result.pop("id", None)
    stamp = store.now()
    if store.transition(db, inquiry_id, ["pending"], "succeeded",
                        {"result": result, "end_timestamp": stamp, "lease_until": None},
                        known=(row["status"], row["log"] or [])) is None:
        raise _closed(inquiry_store.get_inquiry(db, inquiry_id) or row)
    inquiry_store.record_response(db, inquiry_id, answer, user, stamp)
    log.info("[%s] inquiry answered by %s", inquiry_id, user)
    # The ask ends first, then its workflow resumes: resumed first, an action chain could
    # look at its node before the answer is recorded and pause again.
    if row["root"]:
        workflows.resume(db, row["root"])
    return {"id": inquiry_id, "response": answer}


def expired(created: datetime, ttl: int, ttl_unit: float, now: datetime) -> bool:
    """Whether an inquiry asked at ``created`` waited longer than ``ttl`` units (of
    ``ttl_unit`` seconds) by ``now``; a ttl of 0 (or less) never expires, as StackStorm's."""
    return ttl > 0 and now - created > timedelta(seconds=ttl * ttl_unit)


ENDED = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})


def sweep(db: Engine, ttl_unit: float, now: datetime | None = None) -> list[str]:
    """Time out the inquiries pending for longer than their ttl; their ids. An inquiry
    whose root workflow ended meanwhile (an action chain canceled while it waited) is
    canceled: nobody could use its answer."""
    stamp = now or store.now()
    ended: list[str] = []
    for row in inquiry_store.pending(db):
        if row["root_status"] in ENDED:
            executions.request_cancel(db, row["id"])
            log.info("[%s] inquiry canceled: its workflow %s ended %s", row["id"],
                     row["root"], row["root_status"])
            continue
        created = store.aware(row["created_at"])
        if created is None or not expired(created, int(row["ttl"]), ttl_unit, stamp):
            continue
        if store.transition(db, row["id"], ["pending"], "timeout",
                            {"end_timestamp": stamp, "lease_until": None}) is None:
            continue  # answered or canceled meanwhile
        log.info("[%s] inquiry timed out after %s minute(s) without an answer",
                 row["id"], row["ttl"])
        ended.append(row["id"])
        if row["root"]:
            workflows.resume(db, row["root"])
    return ended


@dataclass
class InquirySweeper:
    """A service of the runner role: :func:`sweep` every ``[inquiry] sweep_interval``."""

    config: Config
    db: Engine
    name: str = "inquiry-sweeper"
    refusals: faults.RefusalWarnings = field(default_factory=faults.RefusalWarnings,
                                             init=False, repr=False)

    async def run(self, stopping: asyncio.Event) -> None:
        interval = self.config.get_float("inquiry", "sweep_interval")
        unit = self.config.get_float("inquiry", "ttl_unit")
        while not stopping.is_set():
            try:
                await asyncio.to_thread(sweep, self.db, unit)
            except Exception as exc:
                if faults.refuses_writes(exc):
                    self.refusals.warn(log, "inquiry sweep", exc)
                else:
                    log.exception("inquiry sweep failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)


def sweeper_services(config: Config, db: Engine) -> list[InquirySweeper]:
    return [InquirySweeper(config, db)]
