"""What every part of a step shares: the loaded executions, bookkeeping, and `flush`.

`StepBase` holds the state of one step (see `levante.engine.core.step`) and the operations every
part uses: loading executions, recording state changes, events and jobs, creating rows,
and writing them all in `flush()`. The parts (`launch`, `actions`, `results`, `transitions`,
`commands`, modules of this package) are mixins over it; `Step` combines them. Also here:
`StepShared`, what every step of one engine runtime shares (its settings, the caches of
parsed specs and definitions, the wake-up of its workers), and `WfEx`.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from levante.contract import events
from levante.engine import handoff, platform_actions, states, wakeup
from levante.engine.actions.base import StdAction
from levante.engine.core.claims import ClaimedAction
from levante.engine.core.context import (
    ExpressionFailure,
    TaskContext,
    data_view,
)
from levante.engine.core.exceptions import NotFound
from levante.engine.datastore_client import Datastore
from levante.engine.languages.graph import TaskNode, WorkflowGraph
from levante.engine.settings import EngineSettings
from levante.engine.store import definitions
from levante.engine.store import executions as store

log = logging.getLogger("levante.engine.step")

# state -> the event its change publishes (the contract's map).
WORKFLOW_EVENTS = events.WORKFLOW_EVENT_OF_STATE
TASK_EVENTS = events.TASK_EVENT_OF_STATE
INTERRUPTED = (
    "The action was started by an engine process that stopped before it finished; it is "
    "not run again because the task is not marked safe-rerun."
)


def nesting_of(row: Mapping[str, Any]) -> int:
    """The level of a workflow execution in its tree of workflows (the root is 1)."""
    runtime = row.get("runtime_context")
    level = runtime.get("nesting") if isinstance(runtime, Mapping) else None
    return level if isinstance(level, int) and level > 0 else 1


class SpecCache:
    """Graphs of executions (immutable once started), by execution id.

    An execution stores its graph in the engine's own JSON (`languages.graph`), whatever
    language the definition was written in, so it is rebuilt without asking a language.
    """

    def __init__(self, size: int = 2000) -> None:
        self._data: OrderedDict[str, WorkflowGraph] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, ex_id: str, raw: Mapping[str, Any]) -> WorkflowGraph:
        with self._lock:
            found = self._data.get(ex_id)
            if found is not None:
                self._data.move_to_end(ex_id)
                return found
        spec = WorkflowGraph.from_dict(dict(raw))
        with self._lock:
            self._data[ex_id] = spec
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return spec

    def put(self, ex_id: str, spec: WorkflowGraph) -> None:
        with self._lock:
            self._data[ex_id] = spec


_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass
class StampCheck:
    """A cached definition used before checking it is current: `Step.flush` reads its
    stamp beside the step's writes and raises StaleDefinition if it changed."""

    key: tuple[str, str]
    stamp: tuple[Any, ...]
    reads: list[store.Read]


class StaleDefinition(Exception):
    """A definition changed under a step that used its cached copy: run the step again."""


class DefinitionCache:
    """Parsed workflow definitions by (identifier, namespace), each with the stamp (id,
    checksum, update time) it was read at."""

    def __init__(self, parsed: definitions.ParsedSpecs, size: int = 1000) -> None:
        self.parsed = parsed  # the specs parsed from definition rows, per change
        self._data: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, Any],
                                                WorkflowGraph]] = {}
        self._lock = threading.Lock()
        self._size = size

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._data.pop(key, None)

    def workflow_definition(
        self, conn: Connection, identifier: str, namespace: str,
        deferred: list[StampCheck] | None = None,
    ) -> tuple[dict[str, Any], WorkflowGraph]:
        """(definition row, parsed spec) of a workflow by id or name; NotFound.

        Kept in this cache checked against the definition's id, checksum and update time
        on every call (one indexed read), so a start does not re-read and re-parse it.
        With `deferred` (PostgreSQL), a cached definition is used at once and the check is
        added there, to run in the same round trip as the step's writes (see `Step.flush`).
        """
        key = (identifier, namespace or "")
        by_id = bool(_UUID.match(identifier))
        if deferred is not None and store.is_postgres(conn):
            with self._lock:
                cached = self._data.get(key)
            if cached is not None:
                reads = store.stamp_reads("postgresql", identifier, namespace, by_id)
                deferred.append(StampCheck(key, cached[0], reads))
                return cached[1], cached[2]
        stamp = store.definition_stamp(conn, identifier, namespace, by_id)
        with self._lock:
            cached = self._data.get(key)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        definition, spec = definitions.get_workflow_spec(conn, identifier, namespace,
                                                         self.parsed)
        if stamp is not None:
            with self._lock:
                if len(self._data) > self._size:
                    self._data.clear()
                self._data[key] = (stamp, definition, spec)
        return definition, spec


def _nothing() -> None:
    pass


class StepShared:
    """What the steps of one engine runtime share: its settings, the caches of parsed
    specs and definitions, the client of the platform's datastore, and the wake-up of its
    workers (called after a commit that made work due at once)."""

    def __init__(self, settings: EngineSettings | None = None,
                 wake: Callable[[], None] = _nothing) -> None:
        self.settings = settings or EngineSettings()
        self.specs = SpecCache()
        self.parsed = definitions.ParsedSpecs(self.settings.languages)
        self.definitions = DefinitionCache(self.parsed)
        self.datastore = Datastore()  # st2kv() reads, over one HTTP client
        self.wake = wake


@dataclass
class WfEx:
    """A loaded workflow execution with its tasks."""

    row: dict[str, Any]
    spec: WorkflowGraph
    tasks: list[dict[str, Any]] = field(default_factory=list)
    by_name: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def state(self) -> str:
        return str(self.row["state"])

    def add(self, task: dict[str, Any]) -> None:
        self.tasks.append(task)
        self.by_name.setdefault(task["name"], []).append(task)


def _number(value: Any, what: str) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise ExpressionFailure(f"{what} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ExpressionFailure(f"{what} must be a number, got {value!r}") from None
    if math.isnan(result):
        raise ExpressionFailure(f"{what} must be a number, got {value!r}")
    return result


def _strip_hidden(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not str(k).startswith("__")}


def _short(value: Any, limit: int = 4000) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StepBase:
    """The state of one step and the bookkeeping all its parts share."""

    def __init__(self, conn: Connection, shared: StepShared) -> None:
        self.conn = conn
        self.shared = shared
        self.settings = shared.settings
        self.now = store.utcnow()
        self._seq = 0
        self.wfs: dict[str, WfEx] = {}
        self.task_wf: dict[str, WfEx] = {}
        self.new_wfs: dict[str, dict[str, Any]] = {}
        self.dirty_wfs: set[str] = set()
        self.new_tasks: dict[str, dict[str, Any]] = {}
        self.dirty_tasks: dict[str, dict[str, Any]] = {}
        self.new_actions: dict[str, dict[str, Any]] = {}
        self.action_updates: dict[str, dict[str, Any]] = {}
        self.jobs: list[dict[str, Any]] = []
        # action jobs leased at write to this process's worker, handed over after commit
        self.handed: list[dict[str, Any]] = []
        self._claimer: handoff.Claimer | None = None
        self.events: list[dict[str, Any]] = []
        self.todo: deque[tuple[WfEx, dict[str, Any]]] = deque()
        self.touched: dict[str, WfEx] = {}
        self.children: dict[str, list[str]] = {}
        self.item_results: dict[str, dict[int, tuple[str, Any]]] = {}
        self._actions: dict[str, tuple[StdAction, Any]] = {}
        # log lines (format, args...) written once the transaction committed
        self.logs: list[tuple[Any, ...]] = []
        # cached definitions used unchecked (see workflow_definition); checked in flush
        self.stamp_checks: list[StampCheck] = []
        # Work queued by `cascade` while a cascade runs (None: none runs).
        self._cascade: deque[tuple[Callable[..., None], tuple[Any, ...]]] | None = None

    def load(self, wf_id: str) -> WfEx | None:
        found = self.wfs.get(wf_id)
        if found is not None:
            return found
        row = store.get_workflow(self.conn, wf_id)
        if row is None:
            return None
        wf = WfEx(row, self.shared.specs.get(wf_id, row["spec"]))
        for t in store.tasks_of(self.conn, wf_id):
            wf.add(t)
            self.task_wf[t["id"]] = wf
        self.wfs[wf_id] = wf
        return wf

    def task(self, task_id: str) -> tuple[WfEx, dict[str, Any]]:
        wf = self.task_wf.get(task_id)
        if wf is None:
            row = store.get_task(self.conn, task_id)
            if row is None:
                raise NotFound(f"Task execution not found [id={task_id}]")
            loaded = self.load(row["workflow_execution_id"])
            if loaded is None:
                raise NotFound(f"Task execution not found [id={task_id}]")
            wf = loaded
        for t in wf.tasks:
            if t["id"] == task_id:
                return wf, t
        raise NotFound(f"Task execution not found [id={task_id}]")

    def children_of(self, task: Mapping[str, Any]) -> list[WfEx]:
        ids = self.children.get(task["id"])
        if ids is None:
            ids = []
            if task["id"] not in self.new_tasks:
                ids = [r["id"] for r in store.child_workflows(self.conn, [task["id"]])]
            self.children[task["id"]] = ids
        out = []
        for cid in ids:
            wf = self.load(cid)
            if wf is not None:
                out.append(wf)
        return out

    def parent_of(self, wf: WfEx) -> tuple[WfEx, dict[str, Any]] | None:
        task_id = wf.row.get("task_execution_id")
        if not task_id:
            return None
        try:
            return self.task(task_id)
        except NotFound:
            return None

    def _stamp(self) -> datetime:
        self._seq += 1
        return self.now + timedelta(microseconds=self._seq)

    def _touch_wf(self, wf: WfEx) -> None:
        wf.row["updated_at"] = self.now
        if wf.id not in self.new_wfs:
            self.dirty_wfs.add(wf.id)
        self.touched[wf.id] = wf

    def _touch_task(self, task: dict[str, Any]) -> None:
        task["updated_at"] = self.now
        if task["id"] not in self.new_tasks:
            self.dirty_tasks[task["id"]] = task

    def _notify_on(self, wf: WfEx) -> bool:
        return self.settings.events_always or bool((wf.row.get("params") or {}).get("notify"))

    def emit(self, wf: WfEx, event: str, task: Mapping[str, Any] | None = None) -> None:
        """Write an outbox event in this transaction (if anyone listens)."""
        if not self._notify_on(wf):
            return
        row = wf.row
        if task is None:
            payload: dict[str, Any] = {
                "id": row["id"], "name": row["name"], "workflow_name": row["workflow_name"],
                "state": row["state"], "state_info": row.get("state_info"),
                "root_execution_id": row["root_execution_id"],
                "parent_execution_id": row.get("parent_execution_id"),
                "task_execution_id": row.get("task_execution_id"),
            }
            if row["state"] in (states.SUCCESS, states.ERROR):
                payload["output"] = row.get("output")
        else:
            payload = {
                "id": task["id"], "name": task["name"], "state": task["state"],
                "state_info": task.get("state_info"), "type": task["type"],
                "workflow_execution_id": row["id"], "workflow_name": row["workflow_name"],
                "root_execution_id": row["root_execution_id"],
                "published": task.get("published") or {},
            }
        # At rest in the outbox as on the wire: the inputs the platform declared secret
        # masked (by name in the output, by value anywhere else).
        if "output" in payload:
            payload["output"] = platform_actions.mask_input(payload["output"],
                                                            row.get("params"))
        secrets = platform_actions.secret_values(row.get("params"), row.get("input"))
        if secrets:
            payload = platform_actions.scrub(payload, secrets)
        payload["event"] = event
        payload["notify"] = (row.get("params") or {}).get("notify") or []
        self.events.append({
            "execution_id": row["id"], "root_execution_id": row["root_execution_id"],
            "task_execution_id": task["id"] if task is not None else None,
            "event": event, "payload": payload, "created_at": self._stamp(),
            "delivered_at": None, "attempts": 0, "next_attempt_at": self.now,
            "last_error": None,
        })

    def set_wf_state(
        self, wf: WfEx, state: str, info: str | None = None, event: str | None = None
    ) -> None:
        old = wf.state
        wf.row["state"] = state
        wf.row["state_info"] = info
        self._touch_wf(wf)
        name = event or WORKFLOW_EVENTS.get(state)
        if state == states.RUNNING and old == states.PAUSED and event is None:
            name = "WORKFLOW_RESUMED"
        if name and (old != state or event):
            self.emit(wf, name)
        if old != state:
            detail = f": {' '.join(_short(info, 300).split())}" if info else ""
            self.logs.append((
                "[%s] workflow %s (execution %s) %s -> %s%s", wf.row["root_execution_id"],
                wf.row["workflow_name"], wf.id, old, state, detail,
            ))

    def set_task_state(
        self, wf: WfEx, task: dict[str, Any], state: str, info: str | None = None,
        event: str | None = None,
    ) -> None:
        old = task["state"]
        if not states.is_valid_transition(old, state):
            log.debug("task %s: unusual transition %s -> %s", task["id"], old, state)
        task["state"] = state
        task["state_info"] = info
        if state == states.RUNNING and task.get("started_at") is None:
            task["started_at"] = self.now
        if states.is_completed(state):
            task["finished_at"] = self.now
        self._touch_task(task)
        name = event or TASK_EVENTS.get(state)
        if state == states.RUNNING and old in (states.PAUSED,) and event is None:
            name = "TASK_RESUMED"
        rc = task["runtime_context"]
        if state == states.RUNNING and event is None and old != states.PAUSED:
            # launched once; a retry or the end of a wait is no new launch
            name = None if rc.get("launched") else name
            rc["launched"] = True
        if name and (old != state or event):
            self.emit(wf, name, task)

    def add_job(
        self, wf: WfEx, kind: str, payload: dict[str, Any], delay: float = 0.0
    ) -> None:
        run_at = self.now + timedelta(seconds=max(delay, 0.0))
        self.jobs.append({
            "kind": kind, "root_execution_id": wf.row["root_execution_id"],
            "execution_id": wf.id, "payload": payload, "run_at": run_at,
        })

    def timer(self, wf: WfEx, task: dict[str, Any], what: str, delay: float) -> None:
        rc = task["runtime_context"]
        token = f"{what}:{rc.get('attempt', 0)}:{self._seq}:{self.now.timestamp()}"
        self._seq += 1
        rc.setdefault("timers", {})[what] = token
        self._touch_task(task)
        self.add_job(wf, "step", {"event": "timer", "task_id": task["id"], "what": what,
                                  "token": token}, delay)

    def flush(self) -> None:
        """Write everything decided in this step (the caller commits)."""
        conn = self.conn
        if self.jobs and self.new_actions:
            self._claimer = handoff.claimer_for(conn.engine)
            if self._claimer is not None:
                self.handed = handoff.claim_new(self._claimer, self.jobs, self.new_actions,
                                                self.now)
        # rows and the deferred definition checks in one round trip (PostgreSQL)
        reads = [r for check in self.stamp_checks for r in check.reads]
        found = store.write_executions(
            conn, list(self.new_wfs.values()), list(self.new_tasks.values()),
            list(self.new_actions.values()), reads,
            workflow_updates={wf_id: {
                k: self.wfs[wf_id].row[k]
                for k in ("state", "state_info", "output", "context", "runtime_context",
                          "params", "accepted", "updated_at")
            } for wf_id in self.dirty_wfs},
            task_updates={task_id: {
                k: t[k] for k in ("state", "state_info", "in_context", "published", "result",
                                  "runtime_context", "processed", "has_next_tasks",
                                  "error_handled", "started_at", "finished_at", "updated_at")
            } for task_id, t in self.dirty_tasks.items()},
            action_updates=self.action_updates,
        )
        pos = 0
        for check in self.stamp_checks:
            stamp = store.first_stamp(found[pos:pos + len(check.reads)])
            pos += len(check.reads)
            if stamp != check.stamp:
                self.shared.definitions.forget(check.key)
                raise StaleDefinition(f"workflow definition {check.key[0]!r} changed")
        store.enqueue(conn, self.jobs)
        if self.events:
            # Stamped at the write, just before the commit, not at the step's start: the
            # stamp says when the state change became an event (and times the hand-over).
            written = store.utcnow()
            for offset, event in enumerate(self.events):
                event["created_at"] = written + timedelta(microseconds=offset)
            store.insert_events(conn, self.events)
            wakeup.notify_in_transaction(conn)

    def after_commit(self) -> None:
        """Call once the step's transaction committed: logs what happened, wakes this
        process's workers when a job is due at once, then its notifiers. Workers first:
        the next action is on a workflow's critical path, the events are not."""
        for line in self.logs:
            log.info(*line)
        if self.handed and self._claimer is not None:
            self._claimer.take([
                ClaimedAction.from_job(
                    job["id"], dict(self.new_actions[job["payload"]["action_id"]]),
                    job["payload"])
                for job in self.handed
            ])
        if any(j["run_at"] <= self.now and not j.get("claimed_by") for j in self.jobs):
            self.shared.wake()
        if self.events:
            wakeup.events_committed(
                self.conn.engine, urgent=not all(events.lingers(e["event"]) for e in self.events))

    def cascade(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)``, or, when called from within a cascade that runs already, queue
        it to run next in that cascade's loop. Starting, cancelling, failing or pausing a
        tree of workflows one level after another is then a loop, not a recursion: a tree
        of any depth is handled without exhausting the interpreter's stack."""
        if self._cascade is not None:
            self._cascade.append((fn, args))
            return
        queue: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque([(fn, args)])
        self._cascade = queue
        try:
            while queue:
                func, call_args = queue.popleft()
                func(*call_args)
        finally:
            self._cascade = None

    def create_workflow(
        self, spec: WorkflowGraph, definition: Mapping[str, Any], input: dict[str, Any],
        params: dict[str, Any], description: str = "", ex_id: str | None = None,
        parent: tuple[WfEx, dict[str, Any]] | None = None, runtime: dict[str, Any] | None = None,
    ) -> WfEx:
        """A new RUNNING workflow execution; its tasks start at `start()`."""
        ex_id = ex_id or store.new_id()
        root = ex_id
        if parent is not None:
            root = parent[0].row["root_execution_id"]
            started_by = (parent[0].row.get("runtime_context") or {}).get("user")
            if started_by:  # a sub-workflow runs as the user who started its parent
                runtime = {**(runtime or {}), "user": started_by}
        row = {
            "id": ex_id, "name": spec.name, "description": description or "",
            "workflow_name": definition.get("name", spec.name),
            "workflow_namespace": definition.get("namespace") or "",
            "workflow_id": definition.get("id"),
            "spec": spec.to_dict(), "state": states.RUNNING, "state_info": None,
            "tags": list(spec.tags), "params": params, "input": input, "output": {},
            "context": {}, "runtime_context": runtime or {}, "accepted": True,
            "task_execution_id": parent[1]["id"] if parent else None,
            "parent_execution_id": parent[0].id if parent else None,
            "root_execution_id": root, "project_id": store.DEFAULT_PROJECT,
            "created_at": self._stamp(), "updated_at": None,
        }
        wf = WfEx(row, spec)
        self.shared.specs.put(ex_id, spec)
        self.wfs[ex_id] = wf
        self.new_wfs[ex_id] = row
        if parent is not None:
            self.children.setdefault(parent[1]["id"], []).append(ex_id)
        self.emit(wf, "WORKFLOW_LAUNCHED")
        self.logs.append(("[%s] workflow %s (execution %s) started", root, row["workflow_name"],
                          ex_id))
        return wf

    def _new_task(
        self, wf: WfEx, name: str, in_context: dict[str, Any], triggered_by: list[Any],
        state: str = states.IDLE,
    ) -> dict[str, Any]:
        spec = wf.spec.tasks[name]
        row = wf.row
        task: dict[str, Any] = {
            "id": store.new_id(), "name": name, "workflow_execution_id": wf.id,
            "root_execution_id": row["root_execution_id"],
            "workflow_name": row["workflow_name"],
            "workflow_namespace": row["workflow_namespace"], "workflow_id": row["workflow_id"],
            "type": "WORKFLOW" if spec.workflow else "ACTION", "state": state,
            "state_info": None, "tags": [], "in_context": in_context, "published": {},
            "result": None,
            "runtime_context": {"triggered_by": triggered_by, "attempt": 0},
            "processed": False, "has_next_tasks": False, "error_handled": False,
            "unique_key": None, "started_at": None, "finished_at": None,
            "project_id": store.DEFAULT_PROJECT, "created_at": self._stamp(),
            "updated_at": None,
        }
        wf.add(task)
        self.task_wf[task["id"]] = wf
        self.new_tasks[task["id"]] = task
        self.touched[wf.id] = wf
        return task

    def ctx(
        self, wf: WfEx, task: Mapping[str, Any] | None = None, result: Any = ...
    ) -> TaskContext:
        getter = None if result is ... else (lambda: result)
        return TaskContext(self, wf, task, getter)

    def data(self, wf: WfEx, task: Mapping[str, Any] | None) -> dict[str, Any]:
        return data_view(wf, task.get("in_context") if task else None)

    # --- provided by the parts (declared here so that each part type-checks alone) --------

    @staticmethod
    def expression_defaults(spec: WorkflowGraph, given: Mapping[str, Any] | None) -> list[str]:
        raise NotImplementedError

    def start(self, wf: WfEx) -> None:
        raise NotImplementedError

    def run_task(self, wf: WfEx, task: dict[str, Any]) -> None:
        raise NotImplementedError

    def fail_task(self, wf: WfEx, task: dict[str, Any], info: str) -> None:
        raise NotImplementedError

    def launch(self, wf: WfEx, task: dict[str, Any]) -> None:
        raise NotImplementedError

    def pump(self, wf: WfEx, task: dict[str, Any]) -> None:
        raise NotImplementedError

    def _launch_action(
        self, wf: WfEx, task: dict[str, Any], spec: TaskNode, index: int,
        data: dict[str, Any], ctx: TaskContext,
    ) -> None:
        raise NotImplementedError

    def _launch_subworkflow(
        self, wf: WfEx, task: dict[str, Any], spec: TaskNode, index: int,
        data: dict[str, Any], ctx: TaskContext,
    ) -> None:
        raise NotImplementedError

    def item_done(
        self, wf: WfEx, task: dict[str, Any], index: int, state: str, value: Any,
        info: str | None, pump: bool = False,
    ) -> None:
        raise NotImplementedError

    def _results(self, wf: WfEx, task: dict[str, Any]) -> dict[int, tuple[str, Any]]:
        raise NotImplementedError

    def actions_done(self, wf: WfEx, task: dict[str, Any]) -> None:
        raise NotImplementedError

    def advance(self) -> None:
        raise NotImplementedError

    def _outbound(self, task: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _arrive(
        self, wf: WfEx, name: str, source: dict[str, Any], kind: str,
        outbound: dict[str, Any],
    ) -> None:
        raise NotImplementedError

    def finish(self, wf: WfEx, state: str, info: str | None = None) -> None:
        raise NotImplementedError

    def _stop_task_work(self, wf: WfEx, task: dict[str, Any], state: str, info: str) -> None:
        raise NotImplementedError

    def pause(self, wf: WfEx, cascade_up: bool = False, info: str | None = None) -> None:
        raise NotImplementedError

    def _cancel_tasks(self, wf: WfEx, info: str | None) -> None:
        raise NotImplementedError

    def cancel(self, wf: WfEx, info: str | None = None, cascade_up: bool = True) -> None:
        raise NotImplementedError

    def fail(self, wf: WfEx, info: str | None, cascade_up: bool = True) -> None:
        raise NotImplementedError
