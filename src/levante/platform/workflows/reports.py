"""Reports from the platform to the engine, from the durable outbox (route ``reports``).

Two things the engine must hear about, whatever happens to either service:

- a child execution that a workflow task started (its ``context.mistral`` holds the
  engine's ``action_execution_id``) ended: ``PUT /v2/action_executions/<id>`` with the
  engine state and the result, so the task goes on;
- a workflow execution launched on the engine was asked to cancel, pause or resume on the
  platform: ``PUT /v2/executions/<id>`` with the state.

:func:`on_status` is called by the platform's store inside the transaction that changes
an execution's status, so the report is committed with the change or not at all. The
:class:`EngineReporter` service (in the runner role: the contract's delivery loop on
this route) sends pending reports, at once when this process committed one, else every
poll; a report is retried with exponential backoff
until the engine acknowledges it. An engine that already had the result (the action or the
workflow already ended) counts as an acknowledgement; a report the engine refuses for good
(unknown id, a 4xx) is kept as ``rejected`` with the reason, never retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, event

from levante import jsontext
from levante.config import Config
from levante.contract import states, wire
from levante.contract.delivery import (
    REPORT_BACKOFF,
    REPORTS,
    Answer,
    Backoff,
    Verdict,
    attempt,
)
from levante.contract.outbox import Claimed, DeliveryLoop, LoopSettings
from levante.contract.wire import runner_of as _runner_type
from levante.db.connect import after_commit
from levante.db.local import local_of
from levante.db.times import aware as aware
from levante.db.times import now as now
from levante.platform.workflows import store, tree_status
from levante.platform.workflows.engine_auth import engine_headers, waited_engine_headers
from levante.platform.workflows.store import Outcome as Outcome

log = logging.getLogger("levante.platform.engine_reports")

PENDING = store.REPORT_PENDING
ACKNOWLEDGED = REPORTS.delivered
REJECTED = REPORTS.given_up

ACTION_STATES = states.ACTION_STATE_OF
WORKFLOW_COMMANDS = states.COMMAND_STATE_OF
# (the workflows the engine runs: only those take commands and cancel their children here)
WORKFLOW_RUNNERS = wire.ENGINE_RUNNERS
REPORTED_STATUSES = frozenset(ACTION_STATES) | frozenset(WORKFLOW_COMMANDS)
# A workflow execution in these statuses cancels its children on the platform.
CANCEL_CHILDREN = frozenset({"canceling", "canceled"})
CHILD_WAITING = states.PLATFORM_WAITING
CHILD_ACTIVE = states.PLATFORM_ACTIVE - {"canceling"}

LEASE_SECONDS = 30.0
INITIAL_BACKOFF = REPORT_BACKOFF.initial
MAX_BACKOFF = REPORT_BACKOFF.maximum
REQUEST_TIMEOUT = 10.0
RECHECK_SECONDS = 0.02  # a wake-up may come just before its commit: look again soon
BATCH = 50

Row = dict[str, Any]


# --- the reporters of this process, on the engine's Local -----------------------------------

BELL = "engine-reports"


class Running:
    """The reporter of this process that runs on one database (a part of its engine's
    Local): the end of a task's action is handed over to it (see `_hand_over`)."""

    def __init__(self) -> None:
        self.reporter: EngineReporter | None = None


def reporter_of(db: Engine) -> EngineReporter | None:
    """The reporter of this process that takes ``db``'s reports handed over, if any."""
    return local_of(db).part(Running).reporter


def wake(conn: Connection) -> None:
    """Wake the reporters of this process on ``conn``'s database (thread-safe): called
    when a transaction that wrote reports commits."""
    local_of(conn.engine).bell(BELL).ring()


# --- what to report -------------------------------------------------------------------------


def mistral_of(context: Any) -> dict[str, Any]:
    """The execution's ``context.mistral`` (empty when it has none)."""
    if not isinstance(context, Mapping):
        return {}
    found = context.get("mistral")
    return dict(found) if isinstance(found, Mapping) else {}


def _action_body(state: str, result: Any) -> dict[str, Any]:
    """The report of a child's end. A result the engine would refuse (nested deeper than
    its limit) fails the action with the reason instead of never reaching the engine."""
    output = result if result is not None else {}
    try:
        jsontext.check(output, "output", text=False)
    except jsontext.BadJson as exc:
        return {"state": states.ERROR, "output": {"error": f"The action's result cannot be "
                                                      f"passed to the workflow: {exc}"}}
    return {"state": state, "output": output}


def reports_for(
    execution_id: str, status: str, result: Any, context: Any, action: Any
) -> list[Row]:
    """The report rows (without timestamps) a status change calls for; often none."""
    mistral = mistral_of(context)
    found: list[Row] = []
    action_execution_id = mistral.get("action_execution_id")
    owner = mistral.get("workflow_execution_id")
    if (status == "canceled" and isinstance(action_execution_id, str) and action_execution_id
            and isinstance(owner, str) and owner):
        # A canceled task action cancels its workflow, as in Mistral (first, so that the
        # engine does not see a failed task instead).
        found.append({
            "execution_id": execution_id, "kind": "workflow", "target_id": owner,
            "url": wire.workflow_command_path(owner), "body": {"state": states.CANCELLED},
        })
    if status in ACTION_STATES and isinstance(action_execution_id, str) and action_execution_id:
        found.append({
            "execution_id": execution_id, "kind": "action", "target_id": action_execution_id,
            "url": wire.action_report_path(action_execution_id),
            "body": _action_body(ACTION_STATES[status], result),
        })
    workflow_id = mistral.get("execution_id")
    if (status in WORKFLOW_COMMANDS and isinstance(workflow_id, str) and workflow_id
            and _runner_type(action) in WORKFLOW_RUNNERS):
        found.append({
            "execution_id": execution_id, "kind": "workflow", "target_id": workflow_id,
            "url": wire.workflow_command_path(workflow_id),
            "body": {"state": WORKFLOW_COMMANDS[status]},
        })
    return found


def may_report(context: Any) -> bool:
    """Whether an execution with this ``context`` may need a report when it ends: when it
    came from the engine or runs there (``context.mistral``), or when unknown (None)."""
    return context is None or bool(mistral_of(context))


def on_status(
    conn: Connection, execution_id: str, status: str, result: Any = None, *,
    context: Any = None, action: Any = None, children: bool = True,
) -> int:
    """Write the reports that a change of ``execution_id`` to ``status`` calls for, in the
    caller's transaction (``conn``); returns how many. Cheap for statuses that never report;
    ``context`` and ``action`` are read from the row when not given. ``children``: also
    cancel what a canceled workflow execution started (cancel_children does it itself)."""
    if tree_status.concerns_tree(status, context):
        tree_status.after_change(conn, execution_id, status, action, context, on_status)
    if status not in REPORTED_STATUSES:
        return 0
    if context is None or action is None:
        row = store.context_and_action(conn, execution_id)
        if row is None:
            return 0
        context = row["context"] if context is None else context
        action = row["action"] if action is None else action
    if children and status in CANCEL_CHILDREN and _runner_type(action) in WORKFLOW_RUNNERS:
        cancel_children(conn, execution_id)
    rows = reports_for(execution_id, status, result, context, action)
    if not rows:
        return 0
    stamp = now()
    if _hand_over(conn, rows, stamp):
        return len(rows)
    store.insert_reports(conn, [
        {**r, "state": PENDING, "attempts": 0, "created_at": stamp, "next_attempt_at": stamp}
        for r in rows
    ])
    event.listen(conn, "commit", wake, once=True)
    return len(rows)


def _hand_over(conn: Connection, rows: list[Row], stamp: datetime) -> bool:
    """The end of a task's action, when a reporter of this process is running: write the
    report already leased to it and hand it over once the transaction commits, so that
    no claim transaction (nor wake-up) stands between a child's end and the engine.
    False (nothing written) when that does not apply; the report is then claimed."""
    reporter = reporter_of(conn.engine)
    if reporter is None or len(rows) != 1 or rows[0]["kind"] != "action":
        return False
    if store.has_pending_report(conn, rows[0]["target_id"]):
        return False  # it waits behind its line
    row = {**rows[0], "state": PENDING, "attempts": 0, "created_at": stamp,
           "next_attempt_at": stamp + timedelta(seconds=LEASE_SECONDS)}
    handed = {**store.as_message(row), "first_attempt_at": None, "last_attempt_at": None}

    def hand() -> None:
        reporter.take([[handed]])

    if not after_commit(conn, hand):
        return False
    handed["id"] = store.insert_report(conn, row)
    return True


def cancel_children(conn: Connection, parent_id: str) -> int:
    """Cancel what a canceled workflow execution started on the platform (in ``conn``):
    children not yet running end ``canceled`` at once, running ones go ``canceling`` (their
    runner kills the process), and so on down the tree (a loop: a tree of any depth).
    Returns how many changed."""
    stamp = now()
    changed = 0
    parents = [parent_id]
    while parents:
        for child in store.children_in(conn, parents.pop(), CHILD_WAITING | CHILD_ACTIVE):
            target = "canceled" if child.status in CHILD_WAITING else "canceling"
            values: Row = {"status": target, "log": [*(child.log or []),
                                                     {"timestamp": _iso(stamp),
                                                      "status": target}]}
            if target == "canceled":
                values.update(end_timestamp=stamp, lease_until=None,
                              result={"error": "Canceled with its parent workflow."})
            if store.update_execution(conn, child.id, child.status, values):
                changed += 1
                on_status(conn, child.id, target, values.get("result"), context=child.context,
                          action=child.action, children=False)
                if target in CANCEL_CHILDREN and _runner_type(child.action) in WORKFLOW_RUNNERS:
                    parents.append(child.id)
    return changed


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the outbox (its SQL in levante.platform.workflows.store) ---------------------------------

reports_of = store.reports_of


def claim(
    db: Engine, limit: int, lease: float = LEASE_SECONDS, outcomes: Sequence[Outcome] = ()
) -> tuple[list[Row], datetime | None]:
    """Record ``outcomes`` and take up to ``limit`` due pending reports that head their
    line, leased (one transaction); with when the earliest pending report is due."""
    return store.claim_reports(db, limit, lease, outcomes)


# --- sending ------------------------------------------------------------------------------------


def backoff(attempts: int, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
    return Backoff(initial, maximum).delay(max(attempts, 1))


# The verdicts of the contract's delivery -> the states of a report.
STATE_OF = {Verdict.DELIVERED: ACKNOWLEDGED, Verdict.RETRY: PENDING, Verdict.REFUSED: REJECTED}


def classify(report: Mapping[str, Any], status: int | None, error: str | None) -> str:
    """The state a report is in after an answer (``status`` None: no answer at all; a
    401 is tried again: the service key is replaced, see EngineReporter.request)."""
    del report
    return STATE_OF[REPORTS.acceptance.judge(status, error)]


class EngineReporter(DeliveryLoop):
    """A service (runner role) that sends the pending reports to the engine: the
    contract's delivery loop on the ``reports`` route."""

    def __init__(
        self, config: Config, db: Engine, *, initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF, poll_interval: float | None = None,
    ) -> None:
        self.name = "engine-reporter"
        self.config = config
        self.engine_url = config.public_url("engine")
        poll = (poll_interval if poll_interval is not None
                else config.get_float("runner", "poll_interval"))
        super().__init__(REPORTS, db, LoopSettings(
            poll=poll, concurrency=BATCH, backoff=Backoff(initial_backoff, max_backoff),
            timeout=REQUEST_TIMEOUT, recheck=RECHECK_SECONDS, rounds=True))

    async def run(self, stopping: asyncio.Event) -> None:
        bell = local_of(self.db).bell(BELL)
        bell.add(self.wake)
        running = local_of(self.db).part(Running)
        try:
            await super().run(stopping)
        finally:
            if running.reporter is self:
                running.reporter = None
            bell.remove(self.wake)

    async def open_client(self) -> httpx.AsyncClient:
        headers = await waited_engine_headers(self.config, self.db, log)
        client = httpx.AsyncClient(base_url=self.engine_url, headers=headers,
                                   timeout=REQUEST_TIMEOUT)
        # ends of tasks' actions are handed over from now
        local_of(self.db).part(Running).reporter = self
        return client

    def claim(self, outcomes: Sequence[Outcome], limit: int, direct: bool = False) -> Claimed:
        del direct
        reports, due = claim(self.db, limit, LEASE_SECONDS, outcomes)
        return Claimed([[r] for r in reports], None, due)

    async def request(self, client: httpx.AsyncClient, line: list[Row],
                      material: Any) -> Answer:
        del material
        report = line[0]
        answer = await attempt(REPORTS, client, report["url"], json=report["body"])
        if answer.status == 401:  # the service key was deleted: make another, retry later
            client.headers.update(await asyncio.to_thread(engine_headers, self.config, self.db))
        return answer


def reporter_services(config: Config, db: Engine) -> list[EngineReporter]:
    return [EngineReporter(config, db)]
