"""Handshake benchmark: event latency from the engine to the platform, and the tracker's cost.

1. Latency. Engine (API + workers), notifier and platform API run in one child process, as
   under `levante up` (embedded SQLite unless --database). For each of --samples workflows
   (two std.noop tasks) started with a `levante` subscription, the figure is the time from
   the engine's WORKFLOW_SUCCEEDED event (written in the transaction that ends the
   workflow) to the platform's end_timestamp (written in the transaction that sets
   `succeeded`): median and 99th percentile.
2. Tracker. A stub engine API in a child process answers batched polls for --tracked
   running executions; the tracker runs in this process at query_interval 5 for
   --seconds; the figure is this process's CPU time over wall time (share of one core).
   Then a few executions end on the stub and the time until the platform shows it is
   measured (target: within query_interval + 0.5 s).

    .venv/bin/python -m bench.handshake_bench [--database URL] [--samples 200]
        [--tracked 10000] [--seconds 20] [--only latency|tracker]

The children are started by the test harness (tests/harness.py): run it from the root.

LEVANTE_BENCH_LOG_LEVEL=INFO shows the child's log (the notifier's lines, with times).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.harness import System, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WORKFLOW = """---
version: '2.0'
bench_chain:
  output:
    answer: <% $.a %>
  tasks:
    one:
      action: std.noop
      publish:
        a: 42
      on-success: [two]
    two:
      action: std.noop
"""


def _config(database_url: str, data_dir: str, engine_port: int, api_port: int) -> Any:
    from levante.config import load_config

    return load_config(environ={}).with_overrides({
        ("core", "data_dir"): data_dir,
        ("database", "connection"): database_url,
        ("api", "port"): api_port,
        ("engine", "port"): engine_port,
        ("log", "level"): os.environ.get("LEVANTE_BENCH_LOG_LEVEL", "WARNING"),
    })


def serve_all(database_url: str, data_dir: str, engine_port: int, api_port: int) -> None:
    """The child of part 1: engine, notifier and platform API in one event loop."""
    from levante import cpu
    from levante.db import manage
    from levante.db.connect import engine_from_config
    from levante.engine.service import engine_services, notifier_services
    from levante.log import setup_logging
    from levante.platform.service import api_services
    from levante.service import run_services

    config = _config(database_url, data_dir, engine_port, api_port)
    setup_logging(config)
    manage.upgrade(config.database_url, "head")
    engine = engine_from_config(config)
    services = [*engine_services(config, engine), *notifier_services(config, engine),
                *api_services(config, engine)]
    cpu.pin_process(config.get_str("core", "cpu_affinity"))  # as `levante up` does
    asyncio.run(run_services(services))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def platform_execution(db: Any, wf_id: str | None) -> str:
    """A running platform execution of a workflow action, as the workflow runner leaves it
    (the bench plays the runner's part: it is not what is measured)."""
    from levante.platform.core import store as platform_store

    ex_id = platform_store.new_id()
    stamp = platform_store.now()
    platform_store.insert_execution(db, {
        "id": ex_id, "action_ref": "bench.wf",
        "action": {"ref": "bench.wf", "pack": "bench", "name": "wf",
                   "runner_type": "mistral-v2", "parameters": {}},
        "runner": {"name": "mistral-v2"}, "status": "running", "parameters": {},
        "context": {"user": "bench", **({"mistral": {"execution_id": wf_id}} if wf_id else {})},
        "result": None, "parent": None, "user": "bench", "timeout": 600,
        "start_timestamp": stamp, "end_timestamp": None,
        "log": [{"timestamp": platform_store.iso(stamp), "status": "running"}],
        "claimed_by": None, "lease_until": None,
    })
    return ex_id


def latency(database_url: str | None, samples: int) -> None:
    from sqlalchemy import select

    from levante.contract.tables import outbox as event_deliveries
    from levante.db.connect import make_engine
    from levante.engine.models import engine_events
    from levante.platform.core import store as platform_store

    tmp = tempfile.mkdtemp(prefix="levante-hs-bench-")
    url = database_url or f"sqlite:///{tmp}/levante.sqlite"
    engine_port, api_port = free_port(), free_port()
    child = System(Path(tmp), {}, engine_port, api_port, cwd=ROOT, commands={"all": [
        sys.executable, "-m", "bench.handshake_bench", "--serve", url, tmp, str(engine_port),
        str(api_port)]})
    child.start("all")
    try:
        child.wait_up(f"{child.engine}/v2", 90)
        child.wait_up(f"{child.api}/v1/openapi.json", 90)
        db = make_engine(url)
        from levante.identity.keys import create_api_key

        key, _row = create_api_key(db, "bench")  # the engine API is authenticated
        client = httpx.Client(base_url=f"http://127.0.0.1:{engine_port}", timeout=30.0,
                              headers={"X-Auth-Token": key})
        client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
        callback = f"http://127.0.0.1:{api_port}/v1/webhooks/levante"
        pairs: list[tuple[str, str]] = []
        for _ in range(samples):
            ex_id = platform_execution(db, None)
            params = {"env": {"levante": {"execution_id": ex_id, "callback_url": callback}},
                      "notify": [{"type": "levante"}]}
            answer = client.post("/v2/executions", json={
                "workflow_name": "bench_chain", "params": json.dumps(params)})
            answer.raise_for_status()
            wf_id = answer.json()["id"]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                row = platform_store.get_execution(db, ex_id)
                if row and row["status"] == "succeeded":
                    break
                time.sleep(0.002)
            pairs.append((wf_id, ex_id))
        lat: list[float] = []
        picked: list[float] = []
        with db.connect() as conn:
            for wf_id, ex_id in pairs:
                found = conn.execute(
                    select(engine_events.c.created_at, event_deliveries.c.created_at)
                    .join(event_deliveries, event_deliveries.c.event_id == engine_events.c.id)
                    .where(engine_events.c.execution_id == wf_id,
                           engine_events.c.event == "WORKFLOW_SUCCEEDED")
                ).first()
                row = platform_store.get_execution(db, ex_id)
                if found is None or row is None or row["end_timestamp"] is None:
                    continue
                a = platform_store.aware(found[0])
                f = platform_store.aware(found[1])
                b = platform_store.aware(row["end_timestamp"])
                assert a is not None and b is not None and f is not None
                lat.append((b - a).total_seconds() * 1000)
                picked.append((b - f).total_seconds() * 1000)
        db.dispose()
        kind = "sqlite" if url.startswith("sqlite") else "pg"
        print(f"engine end -> platform status ({kind}, one process): n={len(lat)} "
              f"median {statistics.median(lat):.2f} ms, p99 {_pct(lat, 0.99):.2f} ms, "
              f"max {max(lat):.2f} ms (targets: median <= 2 ms, p99 <= 20 ms)")
        print(f"  of which from the notifier's fan-out of the event: median "
              f"{statistics.median(picked):.2f} ms, p99 {_pct(picked, 0.99):.2f} ms "
              "(the rest: the engine's step before its commit, and the wake-up)")
    finally:
        child.stop_all()


# --- part 2: the tracker ---------------------------------------------------------------------

def serve_stub(port: int) -> None:
    """The child of part 2: a stub engine API; POST /end/<id> ends an execution."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    ended: set[str] = set()

    async def executions(request: Request) -> JSONResponse:
        ids = request.query_params.get("id", "in:")[3:].split(",")
        fields = request.query_params.get("fields", "id,state,state_info,output").split(",")
        full = {"state_info": None, "output": "{}"}
        return JSONResponse({"executions": [
            {"id": i, "state": "SUCCESS" if i in ended else "RUNNING",
             **{k: v for k, v in full.items() if k in fields}} for i in ids if i]})

    async def tasks(request: Request) -> JSONResponse:
        return JSONResponse({"tasks": []})

    async def end(request: Request) -> JSONResponse:
        ended.add(request.path_params["id"])
        return JSONResponse({})

    app = Starlette(routes=[Route("/v2/executions", executions), Route("/v2/tasks", tasks),
                            Route("/end/{id}", end, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def tracker(database_url: str | None, tracked: int, seconds: float) -> None:
    from sqlalchemy import insert

    from levante.config import load_config
    from levante.db import manage
    from levante.db.connect import make_engine
    from levante.platform.core import store as platform_store
    from levante.platform.workflows.tables import tracked_executions
    from levante.platform.workflows.tracker import ResultsTracker

    tmp = tempfile.mkdtemp(prefix="levante-hs-tracker-")
    url = database_url or f"sqlite:///{tmp}/levante.sqlite"
    manage.upgrade(url, "head")
    db = make_engine(url)
    port = free_port()
    stub = System(Path(tmp), {}, port, 0, cwd=ROOT, commands={"stub": [
        sys.executable, "-m", "bench.handshake_bench", "--stub", str(port)]})
    stub.start("stub")
    try:
        stub.wait_up(f"{stub.engine}/v2/tasks", 90)
        ids = [platform_execution(db, f"wf-{i:05d}") for i in range(tracked)]
        stamp = platform_store.now()
        with db.begin() as conn:
            conn.execute(insert(tracked_executions), [
                {"execution_id": ex, "workflow_execution_id": f"wf-{i:05d}",
                 "reason": "manual", "created_at": stamp, "errors": 0}
                for i, ex in enumerate(ids)])
        config = load_config(environ={}).with_overrides({
            ("core", "data_dir"): tmp, ("database", "connection"): url,
            ("resultstracker", "query_interval"): 5.0,
            ("resultstracker", "silence_timeout"): 3600.0})
        service = ResultsTracker(config, db, engine_url=f"http://127.0.0.1:{port}")
        noticed: list[float] = []

        async def run() -> tuple[float, float]:
            stopping = asyncio.Event()
            task = asyncio.create_task(service.run(stopping))
            await asyncio.sleep(1.0)  # first full round done: measure steady state
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu = time.process_time() - cpu0
            wall = time.monotonic() - wall0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as stub_client:
                for n in range(3):
                    ex_id, wf_id = ids[n * 7], f"wf-{n * 7:05d}"
                    await stub_client.post(f"/end/{wf_id}")
                    ended_at = time.monotonic()
                    while True:
                        row = await asyncio.to_thread(platform_store.get_execution, db, ex_id)
                        if row and row["status"] == "succeeded":
                            break
                        await asyncio.sleep(0.02)
                    noticed.append(time.monotonic() - ended_at)
                    await asyncio.sleep(1.3 * n)  # land at different points of the cycle
            stopping.set()
            await task
            return cpu, wall

        cpu, wall = asyncio.run(run())
        print(f"tracker, {tracked} running executions at query_interval=5: "
              f"{100 * cpu / wall:.2f} % of one core over {wall:.1f} s "
              f"({service.stats.requests} requests, {service.stats.polled} polls; "
              f"target <= 5 %)")
        print(f"tracker, an end noticed after: "
              f"{', '.join(f'{v:.2f} s' for v in noticed)} (target <= 5.5 s)")
    finally:
        stub.stop_all()
        db.dispose()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve_all(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--stub":
        serve_stub(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("LEVANTE_BENCH_DATABASE"))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--tracked", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=("latency", "tracker"))
    args = parser.parse_args()
    if args.only in (None, "latency"):
        latency(args.database, args.samples)
    if args.only in (None, "tracker"):
        tracker(args.database, args.tracked, args.seconds)


if __name__ == "__main__":
    main()
