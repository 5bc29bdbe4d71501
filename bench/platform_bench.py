"""Platform benchmark: request -> succeeded latency and throughput through the HTTP API.

The API and the runner run in one process (as under `levante up`) in a child process;
this script is the client. Prints the median latency of `core.noop` and of
`core.local cmd=true` (POST, then GET until succeeded), and the throughput of executions
requested from 10 client threads.

    .venv/bin/python -m bench.platform_bench [--database URL] [--count 1000] [--samples 200]

The child is started by the test harness (tests/harness.py): run it from the root.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from tests.harness import System, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DONE = {"succeeded", "failed", "timeout", "abandoned", "canceled"}


def serve(database_url: str, data_dir: str, port: int, workers: int) -> None:
    """The child: upgrade, register packs, write a key, serve API + runner."""
    from levante import cpu
    from levante.config import load_config
    from levante.db import manage
    from levante.db.connect import engine_from_config
    from levante.platform.service import api_services, prepare_up, runner_services
    from levante.service import run_services

    config = load_config(environ={}).with_overrides({
        ("core", "data_dir"): data_dir,
        ("database", "connection"): database_url,
        ("api", "port"): port,
        ("runner", "workers"): workers,
    })
    manage.upgrade(config.database_url, "head")
    engine = engine_from_config(config)
    prepare_up(config, engine)
    services = [*api_services(config, engine), *runner_services(config, engine)]
    cpu.pin_process(config.get_str("core", "cpu_affinity"))  # as `levante up` does
    asyncio.run(run_services(services))


def _wait_done(client: httpx.Client, execution_id: str) -> str:
    while True:
        status = client.get(f"/executions/{execution_id}",
                            params={"include_attributes": "status"}).json()["status"]
        if status in DONE:
            return str(status)


def latency(client: httpx.Client, action: str, params: dict[str, Any],
            samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        created = client.post("/executions", json={"action": action, "parameters": params})
        status = _wait_done(client, created.json()["id"])
        times.append(time.perf_counter() - started)
        if status != "succeeded":
            raise SystemExit(f"{action} ended {status}")
    return times


def throughput(base: str, key: str, count: int, threads: int) -> tuple[float, float]:
    """(executions requested and ended per second, requests answered per second)."""
    ids: list[str] = []
    lock = threading.Lock()
    per_thread = count // threads

    def work() -> None:
        with httpx.Client(base_url=base, headers={"St2-Api-Key": key}) as client:
            for _ in range(per_thread):
                answer = client.post("/executions", json={"action": "core.noop"})
                with lock:
                    ids.append(answer.json()["id"])

    started = time.perf_counter()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    answered = time.perf_counter() - started
    with httpx.Client(base_url=base, headers={"St2-Api-Key": key}) as client:
        while True:
            # Every execution of this run (and of the latency runs before) must be done.
            counts = [
                client.get("/executions", params={
                    "status": status, "limit": 1, "include_attributes": "id",
                }).headers["X-Total-Count"]
                for status in ("requested", "running")
            ]
            if counts == ["0", "0"]:
                break
            time.sleep(0.02)
    elapsed = time.perf_counter() - started
    return len(ids) / elapsed, len(ids) / answered


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux), to judge cost on a busy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="", help="URL (default: SQLite in a temp dir)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--serve", nargs=3, metavar=("URL", "DATA_DIR", "PORT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]), args.workers)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/levante.sqlite"
        port = free_port()
        serve_cmd = [sys.executable, "-m", "bench.platform_bench", "--workers",
                     str(args.workers), "--serve", url, tmp, str(port)]
        system = System(Path(tmp), {}, 0, port, commands={"platform": serve_cmd},
                        env={"LEVANTE_LOG_LEVEL": "WARNING"}, cwd=ROOT)
        child = system.start("platform")
        base = f"http://127.0.0.1:{port}/v1"
        try:
            key_file = Path(tmp) / "api_key"
            try:
                system.wait_up(f"{system.api}/", 60)  # (the key is written before)
            except AssertionError as error:
                raise SystemExit(f"the platform did not start: {error}") from None
            key = key_file.read_text().strip()
            kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
            with httpx.Client(base_url=base, headers={"St2-Api-Key": key}) as client:
                latency(client, "core.noop", {}, 20)  # warm up
                noop = latency(client, "core.noop", {}, args.samples)
                local = latency(client, "core.local", {"cmd": "true"}, args.samples // 2)
            cpu_before = _cpu_seconds(child.pid)
            rate, answered = throughput(base, key, args.count, args.threads)
            cpu_after = _cpu_seconds(child.pid)
            print(f"database: {kind}")
            print(f"core.noop request->succeeded: median {statistics.median(noop) * 1000:.2f} ms"
                  f" (p90 {sorted(noop)[int(len(noop) * 0.9)] * 1000:.2f} ms, "
                  f"{len(noop)} samples; target <= 5 ms)")
            print(f"core.local cmd=true request->succeeded: median "
                  f"{statistics.median(local) * 1000:.2f} ms "
                  f"({len(local)} samples; target <= 20 ms)")
            print(f"{args.count} core.noop from {args.threads} threads: {rate:.0f} executions/s "
                  f"(target >= 500/s; requests answered at {answered:.0f}/s)")
            if cpu_before is not None and cpu_after is not None:
                per = (cpu_after - cpu_before) / args.count * 1000
                print(f"platform CPU per core.noop execution (API + runner, incl. the "
                      f"polling above): {per:.2f} ms, i.e. at most {1000 / per:.0f}/s per "
                      f"free core")
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            print(f"load average during the run: {load:.1f} on {os.cpu_count()} CPU(s)")
        finally:
            system.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
