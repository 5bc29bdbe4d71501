"""Scale benchmark: how listing costs grow with the size of the history.

Seeds N executions on the platform (and N workflow executions on the engine) straight into
a fresh database, starts `levante serve api` and `levante serve engine` as processes and
times, through HTTP, the listings an operator asks for: `st2 execution list` (top level,
newest first, 50 rows, the attributes the CLI asks for, and the count the CLI prints), the
same with the action, status, user and time filters, a page deep in the history, and the
engine's `GET /v2/executions?state=SUCCESS`.

    .venv/bin/python bench/scale_bench.py [--sizes 1000,10000,100000] [--database URL]

With `--database postgresql://...` a database of its own is created on that server and
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
    db = create_engine(url)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(start)
    with db.begin() as conn:
        for first in range(start, start + count, 5000):
            platform_rows: list[dict[str, Any]] = []
            engine_rows: list[dict[str, Any]] = []
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
            conn.execute(insert(platform_ex), platform_rows)
            conn.execute(insert(engine_ex), engine_rows)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="history sizes to measure, comma-separated")
    parser.add_argument("--database", default="",
                        help="a PostgreSQL server URL (default: SQLite in a temp dir)")
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    kind = "PostgreSQL" if args.database else "SQLite"
    print(f"listing latency (median of {args.samples} GETs through HTTP, ms) on {kind}")
    with tempfile.TemporaryDirectory() as tmp, database(args.database, tmp) as url:
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
            for name, value in measure(url, tmp, args.samples).items():
                table.setdefault(name, {})[size] = value
        print(f"\n| listing | {' | '.join(f'{s:,}' for s in sizes)} |")
        print(f"| --- |{' --- |' * len(sizes)}")
        for name, row in table.items():
            print(f"| {name} | {' | '.join(f'{row[s]:.1f}' for s in sizes)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
