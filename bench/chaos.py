"""Chaos run: workflows with platform-action children while processes die, pause and lose
their database, then a count of what went wrong.

Levante runs as real processes (tests/harness.py): on SQLite, `levante up` (one process);
on PostgreSQL, every role its own process (`levante serve api|engine|notifier|runner|
resultstracker`, two engines and two runners) on a database of its own created for the
run on the server given (and dropped after it). A client starts --workflows runs of the
workflow action `chaos.flow` (runner mistral-v2) at a steady rate over the run; each has
three `core.local` tasks, each a child execution on the platform that appends a line to a
marker file of its own (`<tag>.<task>`) and naps; a task that fails leads to `recover`
(which writes its own marker) and then to `fail`. Meanwhile the faults run one after the
other, each after a lead time with workflows in flight:

  kill:NAME       kill -9 a process (up, api, engine, engine-2, notifier, runner, runner-2,
                  resultstracker; on SQLite every name means `levante up`), start it again
                  --restart-after seconds later
  kill-each       kill:NAME for every process in turn
  api-down:S      stop the API (on SQLite: `levante up`) for S seconds
  pause-engine:S  SIGSTOP the engines (on SQLite: `levante up`) for S seconds
  readonly:S      the database refuses writes for S seconds. SQLite: another process holds
                  `BEGIN EXCLUSIVE` on the file (root ignores file modes), and Levante runs
                  with `[database] busy_timeout` = --busy-timeout so a write is refused,
                  not merely delayed. PostgreSQL: `ALTER DATABASE <run's db> SET
                  default_transaction_read_only = on` and its sessions ended, then reset
                  and its sessions ended again.
  full            kill-each, api-down:25, pause-engine:40, readonly:20

Every workflow counts for the fault during whose window (lead time, fault, the calm after
it) it was started; each reason also names the faults the workflow lived through. After
the last fault the run waits up to --settle seconds for every workflow to end, then counts
per fault, by the platform's status: started = succeeded + failed + stuck (not ended
after the wait); failed, each with its reason, and of those `interrupted`: an action
really was interrupted (a child `abandoned`) and the workflow followed its on-error path
(the `recover` marker) to its end. Besides, over all of them: twice (actions whose
marker has more than one line); wrong (the platform's final status is not the engine's
state by GET /v2/executions/<id>, a succeeded workflow one of whose actions never ran, or
an engine workflow for which the platform has no execution or a second one for the same
run).

Exit status 1 when any count of stuck, twice, wrong or failures not `interrupted` is not 0.

    .venv/bin/python -m bench.chaos --database sqlite --workflows 300 --faults full
    .venv/bin/python -m bench.chaos --database postgresql://postgres@127.0.0.1/postgres \\
        --workflows 300 --faults full
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.harness import (
    DONE,
    System,
    create_database,
    drop_database,
    free_port,
    role_of,
    write_conf,
    write_pack,
)

TASKS = ("first", "second", "third")
PACK = {
    "pack.yaml": "ref: chaos\nname: chaos\ndescription: chaos runs\nversion: 1.0.0\n"
                 "author: levante\n",
    "actions/flow.yaml": """---
name: flow
runner_type: mistral-v2
entry_point: workflows/flow.yaml
parameters:
  tag: {type: string, required: true}
  dir: {type: string, required: true}
  nap: {type: number, default: 0.5}
""",
    "actions/workflows/flow.yaml": """---
version: '2.0'
chaos.flow:
  input: [tag, dir, nap]
  tasks:
""" + "".join(f"""    {task}:
      action: core.local
      input:
        cmd: echo $$ >> <% $.dir %>/<% $.tag %>.{task} && sleep <% $.nap %>
      on-error: [recover]
{f"      on-success: [{nxt}]{chr(10)}" if nxt else ""}"""
                  for task, nxt in zip(TASKS, (*TASKS[1:], None), strict=True)) + """    recover:
      action: core.local
      input:
        cmd: echo $$ >> <% $.dir %>/<% $.tag %>.recover
      on-complete: [fail]
""",
}
ENGINE_STATE = {"succeeded": "SUCCESS", "failed": "ERROR", "canceled": "CANCELLED"}
ENGINE_DONE = frozenset({"SUCCESS", "ERROR", "CANCELLED"})
PG_PROCESSES = ("api", "engine", "engine-2", "notifier", "runner", "runner-2",
                "resultstracker")
FULL = "kill-each,api-down:25,pause-engine:40,readonly:20"
_URL = re.compile(r"(https?://)[^\s/]+")
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,}|\b\d+\.\d+\b|\b\d{4,}\b",
                 re.IGNORECASE)


def reason_text(text: object, width: int = 160) -> str:
    """A failure's reason with its ids and numbers blanked out, so that alike ones count
    together."""
    found = " ".join(str(text or "no reason given").split())
    found = _ID.sub("#", _URL.sub(r"\1<host>", found))
    return found if len(found) <= width else found[:width - 1] + "…"


@dataclass
class Counts:
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    interrupted: int = 0
    stuck: int = 0
    twice: int = 0
    wrong: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        for name in ("started", "succeeded", "failed", "interrupted", "stuck", "twice",
                     "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)

    @property
    def bad(self) -> int:
        """What must be 0: stuck, twice, wrong, failures without an interrupted action."""
        return self.stuck + self.twice + self.wrong + self.failed - self.interrupted


@dataclass
class Report:
    database: str
    workflows: int
    faults: list[str]
    seconds: float
    by_fault: dict[str, Counts]

    @property
    def total(self) -> Counts:
        found = Counts()
        for counts in self.by_fault.values():
            found.add(counts)
        return found

    @property
    def ok(self) -> bool:
        return self.total.bad == 0

    def table(self) -> str:
        head = ("fault", "started", "succeeded", "failed", "interrupted", "stuck", "twice",
                "wrong")
        rows = [(name, c.started, c.succeeded, c.failed, c.interrupted, c.stuck, c.twice,
                 c.wrong) for name, c in self.by_fault.items()]
        total = self.total
        rows.append(("all", total.started, total.succeeded, total.failed, total.interrupted,
                     total.stuck, total.twice, total.wrong))
        width = max(len(str(r[0])) for r in [head, *rows])
        lines = [f"chaos run on {self.database}: {self.workflows} workflows, faults "
                 f"{', '.join(self.faults)}, {self.seconds:.0f} s",
                 f"{head[0]:<{width}} " + " ".join(f"{h:>11}" for h in head[1:])]
        for row in rows:
            lines.append(f"{row[0]:<{width}} " + " ".join(f"{v:>11}" for v in row[1:]))
        for name, counts in self.by_fault.items():
            for reason, n in counts.reasons.most_common():
                lines.append(f"  {name}: {n} x {reason}")
        lines.append("expected: 0 stuck, 0 twice, 0 wrong, every failure interrupted: "
                     + ("yes" if self.ok else "NO"))
        return "\n".join(lines)


@dataclass
class Launch:
    tag: str
    fault: str
    at: float
    execution_id: str | None = None
    error: str | None = None


class Chaos:
    """One run: a system, a client that starts workflows, the faults, the count."""

    def __init__(self, database: str, workflows: int, faults: str, *, lead: float = 3.0,
                 calm: float = 6.0, restart_after: float = 1.0, settle: float = 180.0,
                 nap: float = 0.5, busy_timeout: float = 5.0, keep: Path | None = None,
                 out: Callable[[str], None] = print) -> None:
        self.database = database
        self.sqlite = database == "sqlite"
        self.workflows = workflows
        self.faults = self._expand(faults)
        self.lead, self.calm, self.restart_after = lead, calm, restart_after
        self.settle, self.nap, self.busy_timeout = settle, nap, busy_timeout
        self.keep = keep
        self.out = out
        self.fault = "calm (start)"
        self.windows: list[tuple[str, float, float]] = []  # fault, from, to (time.time())
        self._entered: list[threading.Event] = []
        self.launches: list[Launch] = []
        self._lock = threading.Lock()

    # -- plan --
    def _expand(self, spec: str) -> list[str]:
        names = ["up"] if self.sqlite else list(PG_PROCESSES)
        found: list[str] = []
        for item in (FULL if spec == "full" else spec).split(","):
            item = item.strip()
            if item == "kill-each":
                found.extend(f"kill:{name}" for name in names)
            elif item:
                kind, _, arg = item.partition(":")
                if kind not in ("kill", "api-down", "pause-engine", "readonly"):
                    raise ValueError(f"unknown fault {item!r}")
                if kind == "kill" and arg not in (*names, *PG_PROCESSES):
                    raise ValueError(f"unknown process {arg!r} in {item!r}")
                if kind != "kill":
                    float(arg)
                found.append(item)
        return found

    def _planned(self, fault: str) -> float:
        kind, _, arg = fault.partition(":")
        took = self.restart_after + (4.0 if self.sqlite or arg == "api" else 1.0)
        return self.lead + (took if kind == "kill" else float(arg) + 1.0) + self.calm

    # -- run --
    def run(self) -> Report:
        with self._system() as system:
            self.system = system
            began = time.monotonic()
            windows = [("calm (start)", self.calm)] + [(f, self._planned(f))
                                                       for f in self.faults]
            self._entered = [threading.Event() for _ in windows]
            self._entered[0].set()
            launcher = threading.Thread(target=self._launch_all, args=(windows,), daemon=True)
            launcher.start()
            time.sleep(self.calm)
            for index, fault in enumerate(self.faults, start=1):
                self.fault = fault
                self._entered[index].set()
                time.sleep(self.lead)
                self.out(f"[{time.monotonic() - began:6.1f} s] {fault}")
                started = time.time()
                self._apply(fault)
                self.windows.append((fault, started, time.time()))
                time.sleep(self.calm)
            launcher.join()
            self.out(f"[{time.monotonic() - began:6.1f} s] all {len(self.launches)} started; "
                     f"waiting up to {self.settle:.0f} s for them to end")
            self._settle()
            by_fault = self._count()
            return Report(self.database if self.sqlite else "postgresql", self.workflows,
                          self.faults, time.monotonic() - began, by_fault)

    @contextmanager
    def _system(self) -> Iterator[System]:
        tmp = Path(tempfile.mkdtemp(prefix="levante-chaos-")) if self.keep is None else self.keep
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.markers = tmp / "markers"
        self.markers.mkdir(exist_ok=True)
        packs = write_pack(tmp / "packs", "chaos", PACK)
        api_port, engine_port, engine2_port = free_port(), free_port(), free_port()
        secret = uuid.uuid4().hex
        data = tmp / "data"
        url = (f"sqlite:///{data / 'levante.sqlite'}" if self.sqlite
               else create_database(self.database, "levante_chaos_"))
        self.url = url
        options: dict[str, dict[str, Any]] = {"log": {"level": "INFO"}}
        if self.sqlite:
            options["database"] = {"busy_timeout": self.busy_timeout}
        conf = write_conf(tmp / "levante.conf", url, data, engine_port, api_port, secret,
                          packs, options)
        system = System(tmp, {"up": conf, "api": conf, "engine": conf, "notifier": conf,
                              "runner": conf, "resultstracker": conf}, engine_port, api_port,
                        engine_db=url, platform_db=url)
        try:
            if self.sqlite:
                system.start("up")
            else:
                self._prepare_postgres(system, conf)
                system.confs["engine-2"] = write_conf(
                    tmp / "engine-2.conf", url, data, engine2_port, api_port, secret, packs,
                    {**options, "engine": {"port": engine2_port}})
                for name in PG_PROCESSES:
                    system.start(name)
            system.wait_ready(120)
            if self.sqlite:
                system.key = self._read_key(data)
            shown = "levante up" if self.sqlite else ", ".join(PG_PROCESSES)
            self.out(f"Levante is up in {tmp} ({shown})")
            yield system
        finally:
            system.stop_all()
            if not self.sqlite:
                drop_database(self.database, url)

    def _prepare_postgres(self, system: System, conf: Path) -> None:
        from levante.config import load_config
        from levante.db import manage
        from levante.db.connect import make_engine
        from levante.platform.core.pack_registry import register_packs
        from levante.platform.service import ensure_api_key

        manage.upgrade(self.url, "head")
        config = load_config(str(conf), environ={})
        db = make_engine(self.url)
        try:
            report = register_packs(db, config.get_list("content", "packs_paths"))
            if report.errors:
                raise RuntimeError(f"the chaos pack does not load: {report.errors}")
            system.key, _ = ensure_api_key(config, db)
        finally:
            db.dispose()

    @staticmethod
    def _read_key(data: Path) -> str:
        from levante.platform.core.auth import read_key_file

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            key = read_key_file(data)
            if key:
                return key
            time.sleep(0.1)
        raise RuntimeError(f"no API key in {data}")

    # -- the client --
    def _launch_all(self, windows: list[tuple[str, float]]) -> None:
        """Start the workflows at a steady rate: each window (the calm at the start, then
        each fault's lead, fault and calm) gets its share by its planned length. A window
        that lasts longer than planned waits for its end; one that ends sooner hands its
        remaining share to the next window at once."""
        total = sum(seconds for _, seconds in windows)
        shares = [int(self.workflows * seconds / total) for _, seconds in windows]
        for index in sorted(range(len(windows)), key=lambda i: -windows[i][1])[
                :self.workflows - sum(shares)]:
            shares[index] += 1
        n = 0
        with ThreadPoolExecutor(16) as pool:
            for index, ((_, seconds), share) in enumerate(zip(windows, shares, strict=True)):
                self._entered[index].wait()
                began = time.monotonic()
                interval = seconds / max(1, share)
                for k in range(share):
                    if index + 1 < len(windows) and self._entered[index + 1].is_set():
                        time.sleep(0.05)  # (late: the next window began)
                    else:
                        time.sleep(max(0.0, began + k * interval - time.monotonic()))
                    launch = Launch(f"w{n:04d}-{uuid.uuid4().hex[:8]}", self.fault,
                                    time.time())
                    n += 1
                    with self._lock:
                        self.launches.append(launch)
                    pool.submit(self._launch, launch)

    def _launch(self, launch: Launch) -> None:
        """Start one workflow as a careful client would: again while the API cannot be
        reached or answers 503, and after a lost answer only when the run did not start."""
        body = {"action": "chaos.flow",
                "parameters": {"tag": launch.tag, "dir": str(self.markers), "nap": self.nap}}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with self.system.client(timeout=120) as client:
                    answer = client.post("/executions", json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                time.sleep(0.5)
                continue
            except httpx.HTTPError as exc:
                found = self._find(launch.tag, deadline)
                if found:
                    launch.execution_id = found
                    return
                launch.error = f"{type(exc).__name__} (not started; tried again)"
                continue
            if answer.status_code == 201:
                launch.execution_id = str(answer.json()["id"])
                launch.error = None
                return
            if answer.status_code in (502, 503, 504):
                time.sleep(1.0)
                continue
            launch.error = f"launch answered {answer.status_code}: {answer.text[:200]}"
            return
        launch.error = launch.error or "the API could not be reached for 300 s"

    def _find(self, tag: str, deadline: float) -> str | None:
        while time.monotonic() < deadline:
            try:
                for row in self._workflow_rows():
                    if (row.get("parameters") or {}).get("tag") == tag:
                        return str(row["id"])
                return None
            except httpx.HTTPError:
                time.sleep(0.5)
        return None

    def _workflow_rows(self, attributes: str = "id,status,parameters") -> list[dict[str, Any]]:
        with self.system.client(timeout=120) as client:
            answer = client.get("/executions", params={
                "action": "chaos.flow", "limit": -1, "include_attributes": attributes})
        answer.raise_for_status()
        rows: list[dict[str, Any]] = answer.json()
        return rows

    # -- faults --
    def _apply(self, fault: str) -> None:
        kind, _, arg = fault.partition(":")
        names = self._targets(kind, arg)
        if kind == "kill":
            for name in names:
                self.system.kill(name)
            time.sleep(self.restart_after)
            for name in names:
                self.system.start(name)
            if names == ["up"] or names == ["api"]:
                self.system.wait_ready(120)
        elif kind == "api-down":
            for name in names:
                self.system.stop(name)
            time.sleep(float(arg))
            for name in names:
                self.system.start(name)
            self.system.wait_ready(120)
        elif kind == "pause-engine":
            for name in names:
                self.system.pause(name)
            try:
                time.sleep(float(arg))
            finally:
                for name in names:
                    self.system.resume(name)
        elif kind == "readonly":
            if self.sqlite:
                self._sqlite_lock(float(arg))
            else:
                self._postgres_read_only(float(arg))

    def _targets(self, kind: str, arg: str) -> list[str]:
        if self.sqlite:
            return ["up"]
        if kind == "kill":
            return [arg]
        if kind == "api-down":
            return ["api"]
        return [n for n in PG_PROCESSES if role_of(n) == "engine"]

    def _sqlite_lock(self, seconds: float) -> None:
        path = self.url.removeprefix("sqlite:///")
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys, time\n"
             "db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)\n"
             "db.execute('BEGIN EXCLUSIVE')\n"
             "print('locked', flush=True)\n"
             "time.sleep(float(sys.argv[2]))\n"
             "db.execute('ROLLBACK')\n", path, str(seconds)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None
            if holder.stdout.readline().strip() != "locked":
                raise RuntimeError("could not lock the SQLite database")
            holder.wait(seconds + 30)
        finally:
            if holder.poll() is None:
                holder.send_signal(signal.SIGKILL)
                holder.wait(10)

    def _postgres_read_only(self, seconds: float) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from levante.db.connect import normalize_url

        name = make_url(self.url).database
        admin = create_engine(normalize_url(self.database), isolation_level="AUTOCOMMIT")
        end_sessions = text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" SET '
                                  "default_transaction_read_only = on"))
                conn.execute(end_sessions, {"name": name})
            time.sleep(seconds)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" RESET '
                                  "default_transaction_read_only"))
                conn.execute(end_sessions, {"name": name})
            admin.dispose()

    # -- the count --
    def _settle(self) -> None:
        deadline = time.monotonic() + self.settle
        while time.monotonic() < deadline:
            try:
                rows = self._workflow_rows("id,status")
            except httpx.HTTPError:
                time.sleep(1.0)
                continue
            if all(row["status"] in DONE for row in rows):
                return
            time.sleep(1.0)

    def _count(self) -> dict[str, Counts]:
        by_fault: dict[str, Counts] = {}
        for launch in self.launches:
            by_fault.setdefault(launch.fault, Counts())
        rows = {str((r.get("parameters") or {}).get("tag")): r for r in self._workflow_rows(
            "id,status,parameters,context,result,end_timestamp")}
        with self.system.client(timeout=120) as client:
            answer = client.get("/executions", params={
                "action": "core.local", "limit": -1,
                "include_attributes": "id,status,parent,result,context"})
            answer.raise_for_status()
            children: dict[str, list[dict[str, Any]]] = {}
            for child in answer.json():
                children.setdefault(str(child.get("parent")), []).append(child)
        known_engine: set[str] = set()
        with self.system.engine_client(timeout=120) as engine:
            for launch in self.launches:
                counts = Counts(started=1)
                row = rows.get(launch.tag)
                self._count_markers(launch.tag, counts)
                if row is None:
                    counts.failed += 1
                    counts.reasons[reason_text(launch.error or "not started")] += 1
                else:
                    wf_id = ((row.get("context") or {}).get("mistral") or {}).get(
                        "execution_id")
                    if wf_id:
                        known_engine.add(str(wf_id))
                    self._judge(row, wf_id, children.get(str(row["id"]), []), engine, counts)
                # Which faults it lived through (it counts for the one it was started in).
                during = self._during(launch.at, (row or {}).get("end_timestamp"))
                counts.reasons = Counter({f"{reason}{during}": n
                                          for reason, n in counts.reasons.items()})
                by_fault[launch.fault].add(counts)
            self._count_orphans(engine, rows, known_engine, by_fault)
        return by_fault

    def _during(self, started: float, ended: object) -> str:
        end = time.time()
        if isinstance(ended, str):
            with suppress(ValueError):
                stamp = datetime.fromisoformat(ended.replace("Z", "+00:00"))
                end = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
        names = [name for name, begin, until in self.windows
                 if begin <= end and until >= started]
        return f" [lived through {', '.join(names)}]" if names else ""

    def _count_markers(self, tag: str, counts: Counts) -> None:
        for path in self.markers.glob(f"{tag}.*"):
            lines = path.read_text(encoding="utf-8").split()
            if len(lines) > 1:
                counts.twice += 1
                counts.reasons[f"twice: action {path.suffix[1:]} ran {len(lines)} times"] += 1

    def _judge(self, row: dict[str, Any], wf_id: str | None, kids: list[dict[str, Any]],
               engine: httpx.Client, counts: Counts) -> None:
        status = str(row["status"])
        tag = str((row.get("parameters") or {}).get("tag"))
        state: str | None = None
        state_info = None
        if wf_id:
            answer = _get_when_up(engine, f"/executions/{wf_id}")
            if answer.status_code == 200:
                state = answer.json().get("state")
                state_info = answer.json().get("state_info")
            elif answer.status_code != 404 or row["status"] == "succeeded" or kids:
                state = f"HTTP {answer.status_code}"  # (404: it never started, if nothing ran)
        if status not in DONE:
            counts.stuck += 1
            counts.reasons[reason_text(
                f"stuck: {status} on the platform, {state or 'no workflow'} on the engine"
                f"{self._tasks(engine, wf_id, kids, ('RUNNING', 'IDLE', 'WAITING'))}")] += 1
            return
        if state is not None and (state not in ENGINE_DONE
                                  or ENGINE_STATE.get(status) != state):
            counts.wrong += 1
            counts.reasons[f"wrong: {status} on the platform, {state} on the engine"] += 1
        if status == "succeeded":
            counts.succeeded += 1
            missing = [t for t in TASKS if not (self.markers / f"{tag}.{t}").exists()]
            if missing:
                counts.wrong += 1
                counts.reasons[f"wrong: succeeded but {', '.join(missing)} never ran"] += 1
            return
        counts.failed += 1
        abandoned = [k for k in kids if k.get("status") == "abandoned"]
        recovered = (self.markers / f"{tag}.recover").exists()
        if abandoned and recovered and status == "failed" and state in (None, "ERROR"):
            counts.interrupted += 1
            error = (abandoned[0].get("result") or {}).get("error")
            counts.reasons[reason_text(f"interrupted: child abandoned ({error}), on-error "
                                       "path taken")] += 1
            return
        result = row.get("result") or {}
        reason = (result.get("error") or (result.get("extra") or {}).get("state_info")
                  or state_info)
        detail = "" if not abandoned else (" after an abandoned child, recover " +
                                           ("ran" if recovered else "did not run"))
        tasks = self._tasks(engine, wf_id, kids, ("ERROR",)) if state == "ERROR" else ""
        counts.reasons[reason_text(f"{status}{detail}: {reason}{tasks}", 220)] += 1

    @staticmethod
    def _tasks(engine: httpx.Client, wf_id: str | None, kids: list[dict[str, Any]],
               states: tuple[str, ...]) -> str:
        """`; task second RUNNING (child running)`: the workflow's tasks in `states` on
        the engine, with the platform status of each one's child."""
        if not wf_id:
            return ""
        answer = engine.get(f"/executions/{wf_id}/tasks")
        if answer.status_code != 200:
            return ""
        child = {((k.get("context") or {}).get("mistral") or {}).get("task_name"):
                 k.get("status") for k in kids}
        found = []
        for task in answer.json().get("tasks", []):
            if task.get("state") in states and task.get("name") != "recover":
                info = f": {task.get('state_info')}" if task.get("state_info") else ""
                found.append(f"task {task.get('name')} {task.get('state')} (child "
                             f"{child.get(task.get('name'), 'none')}){info}")
        return "; " + "; ".join(found) if found else ""

    def _count_orphans(self, engine: httpx.Client, rows: dict[str, dict[str, Any]],
                       known: set[str], by_fault: dict[str, Counts]) -> None:
        answer = engine.get("/executions", params={"limit": 0})
        if answer.status_code != 200:
            return
        fault_of = {launch.tag: launch.fault for launch in self.launches}
        for wf in answer.json().get("executions", []):
            if wf.get("id") in known:
                continue
            tag = ((wf.get("input") if isinstance(wf.get("input"), dict) else None) or {}
                   ).get("tag")
            if tag is None:
                import json

                try:
                    tag = json.loads(wf.get("input") or "{}").get("tag")
                except ValueError:
                    tag = None
            if tag not in fault_of:
                continue
            counts = by_fault[fault_of[tag]]
            counts.wrong += 1
            why = ("a second workflow for one run" if tag in rows
                   else "a workflow the platform has no execution for")
            counts.reasons[f"wrong: {why} ({wf.get('state')} on the engine)"] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="sqlite",
                        help="`sqlite` (levante up), or the URL of a PostgreSQL server on "
                             "which the run creates (and drops) a database of its own")
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--faults", default="full",
                        help=f"comma-separated faults, or `full` ({FULL})")
    parser.add_argument("--lead", type=float, default=3.0,
                        help="seconds of launches before each fault")
    parser.add_argument("--calm", type=float, default=6.0,
                        help="seconds without a fault after each one (and at the start)")
    parser.add_argument("--restart-after", type=float, default=1.0,
                        help="seconds a killed process stays dead")
    parser.add_argument("--settle", type=float, default=180.0,
                        help="seconds to wait for the workflows to end before the count")
    parser.add_argument("--nap", type=float, default=0.5,
                        help="seconds each action sleeps after writing its marker")
    parser.add_argument("--busy-timeout", type=float, default=5.0,
                        help="SQLite: [database] busy_timeout of the run")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder for the run's files (default: a new temporary one)")
    args = parser.parse_args(argv)
    chaos = Chaos(args.database, args.workflows, args.faults, lead=args.lead, calm=args.calm,
                  restart_after=args.restart_after, settle=args.settle, nap=args.nap,
                  busy_timeout=args.busy_timeout, keep=args.keep)
    report = chaos.run()
    print(report.table())
    print(f"(logs and markers: {chaos.tmp})")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())


def _get_when_up(client: httpx.Client, path: str, within: float = 30.0) -> httpx.Response:
    """GET, waiting out a process that the run restarted and that is not listening yet
    (a refused connection); any answer, or the last refusal after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            return client.get(path)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
