"""Scale benchmark: how costs grow with the size of the history, of the work and of waits.

Each part starts real processes (`levante serve api`, `levante serve engine`) on a fresh
database and measures through HTTP:
  listing   `st2 execution list` (top level, newest first, 50 rows, the CLI's attributes
            and count) with each filter and deep in the history, `st2 trigger-instance
            list` and `st2 rule-enforcement list`, and `mistral execution-list`, with
            1,000 / 10,000 / 100,000 executions (each with its trigger instance and rule
            enforcement) seeded on each service
  items     with-items over 500 / 5,000 / 50,000 std.echo: time and the engine's peak memory
  chains    chains of 100 / 1,000 / 5,000 std.noop
  waiting   1 / 1,000 / 5,000 workflows whose task sleeps 30 s: the engine's CPU while they
            all sleep, and how late the last one ends
  burst     1,000 three-task workflows from 10 threads with 1 and 2 engine processes

    .venv/bin/python -m bench.scale_bench [--parts listing,items,...] [--database URL]

With `--database postgresql://...` each part gets a database of its own on that server,
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ACTIONS = ("core.local", "core.noop", "core.http", "examples.deploy", "linux.check")
STATUSES = ("succeeded", "failed", "succeeded", "succeeded", "canceled")
USERS = ("stanley", "alice", "bob")
TRIGGERS = ("core.st2.webhook", "core.st2.generic.actiontrigger", "ops.alert")
ST2_LIST_ATTRIBUTES = "id,status,start_timestamp,action.ref,context.user,end_timestamp"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(server: str, tmp: str) -> Iterator[str]:
    """A fresh database: SQLite in `tmp`, or a new database on the PostgreSQL `server`."""
    if not server:
        yield f"sqlite:///{tmp}/levante.sqlite"
        return
    name = f"levante_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, count: int, start: int) -> None:
    """Add `count` finished executions (one in ten with a child) on both services."""
    from levante.db.metadata import all_metadata

    tables = all_metadata().tables
    platform_ex, engine_ex = tables["executions"], tables["workflow_executions"]
    instances, enforcements = tables["trigger_instances"], tables["rule_enforcements"]
    db = create_engine(url)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(start)
    with db.begin() as conn:
        for first in range(start, start + count, 5000):
            platform_rows: list[dict[str, Any]] = []
            engine_rows: list[dict[str, Any]] = []
            instance_rows: list[dict[str, Any]] = []
            enforcement_rows: list[dict[str, Any]] = []
            for n in range(first, min(first + 5000, start + count)):
                when = base + timedelta(seconds=n * 13)
                ident = f"{n:024x}"
                action = ACTIONS[rng.randrange(len(ACTIONS))]
                user = USERS[rng.randrange(len(USERS))]
                platform_rows.append({
                    "id": ident, "action_ref": action,
                    "action": {"ref": action}, "runner": {"name": "local-shell-cmd"},
                    "status": STATUSES[n % len(STATUSES)], "parameters": {"cmd": "true"},
                    "context": {"user": user}, "result": {"stdout": "", "return_code": 0},
                    "parent": f"{n - 1:024x}" if n % 10 == 9 else None, "user": user,
                    "timeout": 600, "start_timestamp": when,
                    "end_timestamp": when + timedelta(seconds=1), "log": [],
                })
                wf = str(uuid.UUID(int=n + 1))
                engine_rows.append({
                    "id": wf, "name": "wf", "description": "", "workflow_name": "wf",
                    "workflow_namespace": "", "spec": {}, "state": (
                        "SUCCESS" if n % 4 else "ERROR"), "tags": [], "params": {},
                    "input": {}, "output": {}, "context": {}, "runtime_context": {},
                    "accepted": True, "root_execution_id": wf, "project_id": "<default-project>",
                    "created_at": when, "updated_at": when,
                })
                # Each execution started by a rule from a trigger instance (an event).
                instance_rows.append({
                    "id": ident, "trigger": TRIGGERS[n % len(TRIGGERS)],
                    "payload": {"n": n}, "occurrence_time": when, "status": "processed",
                    "payload_from": None, "claimed_by": None, "lease_until": None})
                enforcement_rows.append({
                    "id": ident, "rule_id": f"{n % 50:024x}", "rule_ref": f"ops.rule{n % 50}",
                    "trigger_instance_id": ident, "execution_id": ident,
                    "status": "succeeded", "failure_reason": None, "enforced_at": when})
            conn.execute(insert(platform_ex), platform_rows)
            conn.execute(insert(engine_ex), engine_rows)
            conn.execute(insert(instances), instance_rows)
            conn.execute(insert(enforcements), enforcement_rows)
    if db.dialect.name == "postgresql":
        # Statistics as autovacuum keeps them on a live database (a bulk load outruns it).
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    db.dispose()


def _wait_up(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit(f"{url} did not answer") from None
            time.sleep(0.05)


def timed(client: httpx.Client, path: str, params: dict[str, Any], samples: int) -> float:
    """Median milliseconds of a GET (after one warm-up), checking it answered 200."""
    times = []
    for i in range(samples + 1):
        started = time.perf_counter()
        answer = client.get(path, params=params)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} {params}: {answer.status_code} {answer.text[:200]}")
        if i:
            times.append(elapsed)
    return statistics.median(times) * 1000


def measure(url: str, tmp: str, samples: int) -> dict[str, float]:
    env = {**os.environ, "LEVANTE_DATABASE_CONNECTION": url, "LEVANTE_CORE_DATA_DIR": tmp,
           "LEVANTE_LOG_LEVEL": "WARNING", "LEVANTE_ENGINE_AUTH": "false"}
    api_port, engine_port = _free_port(), _free_port()
    from levante.identity.keys import create_api_key

    db = create_engine(url)
    key = create_api_key(db, user="stanley")[0]
    db.dispose()
    children = [
        subprocess.Popen([str(BIN / "levante"), "serve", "api"],
                         env={**env, "LEVANTE_API_PORT": str(api_port)}),
        subprocess.Popen([str(BIN / "levante"), "serve", "engine"],
                         env={**env, "LEVANTE_ENGINE_PORT": str(engine_port)}),
    ]
    try:
        _wait_up(f"http://127.0.0.1:{api_port}/", children[0])
        _wait_up(f"http://127.0.0.1:{engine_port}/", children[1])
        when = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=3)).isoformat()
        listing = {"limit": 50, "parent": "null", "include_attributes": ST2_LIST_ATTRIBUTES}
        figures: dict[str, float] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}/v1",
                          headers={"St2-Api-Key": key}) as client:
            figures["st2 execution list"] = timed(client, "/executions", listing, samples)
            for name, extra in (("--action", {"action": "core.http"}),
                                ("--status", {"status": "failed"}),
                                ("--user", {"user": "alice"}),
                                ("--timestamp-gt", {"timestamp_gt": when}),
                                ("-a (children too)", {"parent": None}),
                                ("page at offset 500", {"offset": 500})):
                params = {k: v for k, v in {**listing, **extra}.items() if v is not None}
                figures[f"st2 execution list {name}"] = timed(
                    client, "/executions", params, samples)
            figures["st2 trigger-instance list"] = timed(
                client, "/triggerinstances", {"limit": 50}, samples)
            figures["st2 trigger-instance list --trigger"] = timed(
                client, "/triggerinstances", {"limit": 50, "trigger": "ops.alert"}, samples)
            figures["st2 rule-enforcement list"] = timed(
                client, "/ruleenforcements", {"limit": 50}, samples)
            figures["st2 rule-enforcement list --rule"] = timed(
                client, "/ruleenforcements", {"limit": 50, "rule_ref": "ops.rule7"}, samples)
        with httpx.Client(base_url=f"http://127.0.0.1:{engine_port}/v2") as client:
            # As `mistral execution-list` asks: the newest 100.
            newest = {"limit": 100, "sort_keys": "created_at", "sort_dirs": "desc"}
            figures["mistral execution-list"] = timed(client, "/executions", newest, samples)
            figures["mistral execution-list --filter state=SUCCESS"] = timed(
                client, "/executions", {**newest, "state": "SUCCESS"}, samples)
        return figures
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)


def _engine_bench() -> Any:
    """The engine benchmark's process and workload helpers."""
    from bench import engine_bench

    return engine_bench


def _status_kb(pid: int, field: str) -> int:
    """A field of /proc/<pid>/status in kB (VmHWM: the peak resident memory)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Engines:
    """Engine processes of one part: their API bases and process ids."""

    bases: list[str]
    pids: list[int]


@contextmanager
def engines(server: str, count: int = 1) -> Iterator[Engines]:
    """`count` engine processes on a fresh database."""
    eb = _engine_bench()
    with tempfile.TemporaryDirectory() as tmp, database(server, tmp) as url:
        subprocess.run([str(BIN / "levante-db-manage"), "upgrade", "--database", url],
                       check=True, capture_output=True)
        eb.HEADERS["X-Auth-Token"] = eb._api_key(url)
        system, bases = eb.start_engines(url, Path(tmp), count)
        try:
            yield Engines(bases, [proc.pid for proc in system.procs.values()])
        finally:
            system.stop_all()


def _define(base: str, text_: str) -> None:
    eb = _engine_bench()
    with httpx.Client(base_url=base, headers=eb.HEADERS, timeout=60) as client:
        answer = client.post("/workflows", content=text_,
                             headers={"Content-Type": "text/plain"})
        if answer.status_code not in (200, 201):
            raise SystemExit(f"cannot define: {answer.status_code} {answer.text[:300]}")


def part_items(server: str, sizes: list[int]) -> None:
    eb = _engine_bench()
    print("\n| with-items over std.echo | time | engine peak memory |\n| --- | --- | --- |")
    for size in sizes:
        with engines(server) as started:
            _define(started.bases[0], f"version: '2.0'\nitems{size}:\n  tasks:\n    t:\n"
                                 f"      with-items: i in <% range({size}) %>\n"
                                 f"      action: std.echo output=<% $.i %>\n")
            elapsed = eb.bench_once(started.bases[0], f"items{size}", runs=1)
            peak = _status_kb(started.pids[0], "VmHWM") / 1024
            print(f"| {size:,} items | {elapsed:.2f} s | {peak:.0f} MB |", flush=True)


def part_chains(server: str, sizes: list[int]) -> None:
    eb = _engine_bench()
    print("\n| chain of std.noop | time |\n| --- | --- |")
    for size in sizes:
        with engines(server) as started:
            _define(started.bases[0], eb._chain(f"chain{size}", size))
            elapsed = eb.bench_once(started.bases[0], f"chain{size}", runs=1)
            print(f"| {size:,} tasks | {elapsed:.2f} s |", flush=True)


SLEEP_SECONDS = 30
SLEEPER = f"""version: '2.0'
sleeper:
  tasks:
    nap:
      action: std.sleep seconds={SLEEP_SECONDS}
"""


def _any(client: httpx.Client, state: str) -> bool:
    """Whether any workflow execution is in `state` (one row asked for: the poll is cheap)."""
    answer = client.get("/executions", params={"state": state, "limit": 1})
    answer.raise_for_status()
    return bool(answer.json()["executions"])


def part_waiting(server: str, sizes: list[int]) -> None:
    """Workflows sleeping 30 s: the engine's CPU while every one of them sleeps (from the
    last start to the first end, no poll of ours), and how late the last one ends."""
    eb = _engine_bench()
    print(f"\n| workflows sleeping {SLEEP_SECONDS} s at once | engine CPU while all sleep | "
          "last one ends after its wait |\n| --- | --- | --- |")
    for size in sizes:
        with engines(server) as started:
            _define(started.bases[0], SLEEPER)
            pid = started.pids[0]
            with httpx.Client(base_url=started.bases[0], headers=eb.HEADERS,
                              timeout=60) as client:
                first_post = time.perf_counter()
                for _ in range(size):
                    client.post("/executions", json={"workflow_name": "sleeper"})
                last_post = time.perf_counter()
                quiet = first_post + SLEEP_SECONDS - 1 - (last_post + 1)
                share = float("nan")
                if quiet > 1:
                    time.sleep(1)
                    cpu_before = _cpu_seconds(pid)
                    time.sleep(quiet)
                    share = (_cpu_seconds(pid) - cpu_before) / quiet * 100
                while _any(client, "RUNNING"):
                    time.sleep(0.05)
                ended = time.perf_counter()
                failed = _any(client, "ERROR")
            late = ended - last_post - SLEEP_SECONDS
            note = " (some failed)" if failed else ""
            print(f"| {size:,} | {share:.1f} % of a core over {quiet:.0f} s | "
                  f"{late * 1000:+.0f} ms{note} |", flush=True)


def part_burst(server: str) -> None:
    eb = _engine_bench()
    print("\n| 1,000 workflows of 3 std.noop from 10 threads | workflows/s |\n| --- | --- |")
    for count in (1, 2):
        with engines(server, count) as started:
            _define(started.bases[0], eb._chain("chain3", 3))
            rate = eb.bench_throughput(started.bases, 1000, 10)
            print(f"| {count} engine process(es) | {rate:.0f} |", flush=True)


def part_listing(server: str, sizes: list[int], samples: int) -> None:
    kind = "PostgreSQL" if server else "SQLite"
    print(f"listing latency (median of {samples} GETs through HTTP, ms) on {kind}")
    with tempfile.TemporaryDirectory() as tmp, database(server, tmp) as url:
        env = {**os.environ, "LEVANTE_DATABASE_CONNECTION": url}
        subprocess.run([str(BIN / "levante-db-manage"), "upgrade", "head"], env=env,
                       check=True, capture_output=True)
        seeded = 0
        table: dict[str, dict[int, float]] = {}
        for size in sizes:
            started = time.perf_counter()
            seed(url, size - seeded, seeded)
            seeded = size
            print(f"  seeded {size:,} executions on each service in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            for name, value in measure(url, tmp, samples).items():
                table.setdefault(name, {})[size] = value
        print(f"\n| listing | {' | '.join(f'{s:,}' for s in sizes)} |")
        print(f"| --- |{' --- |' * len(sizes)}")
        for name, row in table.items():
            print(f"| {name} | {' | '.join(f'{row[s]:.1f}' for s in sizes)} |")


PARTS = ("listing", "items", "chains", "waiting", "burst")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, among {', '.join(PARTS)}")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="history sizes of the listing part")
    parser.add_argument("--items", default="500,5000,50000")
    parser.add_argument("--chains", default="100,1000,5000")
    parser.add_argument("--waiting", default="1,1000,5000")
    parser.add_argument("--database", default="",
                        help="a PostgreSQL server URL (default: SQLite in a temp dir)")
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose among {', '.join(PARTS)}")

    def ints(raw: str) -> list[int]:
        return sorted(int(v) for v in raw.split(","))

    print(f"# database: {'PostgreSQL' if args.database else 'SQLite'}; "
          f"{os.cpu_count()} CPU(s); load {os.getloadavg()[0]:.1f}")
    if "listing" in parts:
        part_listing(args.database, ints(args.sizes), args.samples)
    if "items" in parts:
        part_items(args.database, ints(args.items))
    if "chains" in parts:
        part_chains(args.database, ints(args.chains))
    if "waiting" in parts:
        part_waiting(args.database, ints(args.waiting))
    if "burst" in parts:
        part_burst(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
