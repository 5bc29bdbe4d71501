"""Engine benchmarks, measured from a client over HTTP against `levante serve engine`.

    .venv/bin/python -m bench.engine_bench [--database URL] [--processes N] [--quick]

The engines are started by the test harness (tests/harness.py): run it from the
repository's root. Without --database, a fresh embedded SQLite database in a temporary
folder is used. For PostgreSQL pass an empty database URL (it is upgraded to head).
Prints one line per figure:
  chain3      3 std.noop tasks in a chain, create -> SUCCESS, median (target <= 10 ms)
  throughput  1000 executions of chain3 from 10 client threads (target >= 300 per second)
  items500    with-items over 500 std.echo, create -> SUCCESS (target <= 1 s)
  chain100    a chain of 100 std.noop tasks, create -> SUCCESS (target <= 0.3 s)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from tests.harness import System, free_port, levante_bin, write_ini

FINAL = {"SUCCESS", "ERROR", "CANCELLED"}

HEADERS: dict[str, str] = {}


def _api_key(url: str) -> str:
    from levante.db.connect import make_engine
    from levante.identity.keys import create_api_key

    db = make_engine(url)
    try:
        return create_api_key(db, "bench")[0]
    finally:
        db.dispose()


def _chain(name: str, n: int) -> str:
    lines = ["version: '2.0'", f"{name}:", "  tasks:"]
    for i in range(n):
        lines.append(f"    t{i}:")
        lines.append("      action: std.noop")
        if i + 1 < n:
            lines.append(f"      on-success: t{i + 1}")
    return "\n".join(lines) + "\n"


ITEMS = """version: '2.0'
items500:
  tasks:
    t:
      with-items: i in <% range(500) %>
      action: std.echo output=<% $.i %>
"""


def start_engines(url: str, folder: Path, count: int,
                  workers: int = 4) -> tuple[System, list[str]]:
    """`count` processes of `levante serve engine` on `url`; the system and their bases."""
    system = System(folder, {}, 0, 0)
    bases = []
    for index in range(count):
        name = "engine" if index == 0 else f"engine-{index + 1}"
        port = free_port()
        system.confs[name] = write_ini(folder / f"engine{index}.conf", {
            "database": {"connection": url},
            "engine": {"port": port, "workers": workers, "poll_interval": 1.0},
            "log": {"level": "WARNING"}})
        system.start(name)
        bases.append(f"http://127.0.0.1:{port}/v2")
    try:
        for base in bases:
            system.wait_up(f"{base}/workflows?limit=1", 20)
    except AssertionError as error:
        system.stop_all()
        raise SystemExit(f"engine did not start: {error}") from None
    return system, bases


def _run(client: httpx.Client, name: str, poll: float = 0.0005) -> tuple[float, str]:
    start = time.perf_counter()
    r = client.post("/executions", json={"workflow_name": name})
    r.raise_for_status()
    ex = r.json()
    while ex["state"] not in FINAL:
        time.sleep(poll)
        ex = client.get(f"/executions/{ex['id']}").json()
    return time.perf_counter() - start, ex["state"]


def bench_chain3(base: str, runs: int) -> float:
    with httpx.Client(base_url=base, headers=HEADERS) as client:
        for _ in range(5):
            _run(client, "chain3")
        times = []
        for _ in range(runs):
            elapsed, state = _run(client, "chain3")
            assert state == "SUCCESS", state
            times.append(elapsed)
    return statistics.median(times) * 1000


def bench_throughput(bases: list[str], total: int, threads: int) -> float:
    ids: list[str] = []
    unfinished: list[str] = []
    lock = threading.Lock()

    def post(k: int) -> None:
        with httpx.Client(base_url=bases[k % len(bases)], timeout=30, headers=HEADERS) as client:
            for _ in range(total // threads):
                r = client.post("/executions", json={"workflow_name": "chain3"})
                r.raise_for_status()
                ex = r.json()
                with lock:
                    ids.append(ex["id"])
                    if ex["state"] not in FINAL:
                        unfinished.append(ex["id"])

    start = time.perf_counter()
    workers = [threading.Thread(target=post, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    pending = list(unfinished)
    with httpx.Client(base_url=bases[0], timeout=30, headers=HEADERS) as client:
        while pending:
            still = []
            for ex_id in pending:
                state = client.get(f"/executions/{ex_id}").json()["state"]
                if state not in FINAL:
                    still.append(ex_id)
                else:
                    assert state == "SUCCESS", state
            pending = still
            if pending:
                time.sleep(0.01)
    elapsed = time.perf_counter() - start
    return len(ids) / elapsed


def bench_once(base: str, name: str, runs: int = 3) -> float:
    with httpx.Client(base_url=base, timeout=60, headers=HEADERS) as client:
        times = []
        for _ in range(runs):
            elapsed, state = _run(client, name, poll=0.002)
            assert state == "SUCCESS", state
            times.append(elapsed)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="levante-bench-"))
    url = args.database or f"sqlite:///{folder / 'levante.sqlite'}"
    subprocess.run([levante_bin("levante-db-manage"), "upgrade", "--database", url],
                   check=True, capture_output=True)
    HEADERS["X-Auth-Token"] = _api_key(url)  # the engine API is authenticated
    engines, bases = start_engines(url, folder, args.processes)
    try:
        base = bases[0]
        with httpx.Client(base_url=base, headers=HEADERS) as client:
            for text in (_chain("chain3", 3), _chain("chain100", 100), ITEMS):
                r = client.post("/workflows", content=text,
                                headers={"Content-Type": "text/plain"})
                if r.status_code not in (200, 201, 409):
                    raise SystemExit(f"cannot define workflows: {r.status_code} {r.text}")
        backend = "postgresql" if url.startswith("postgres") else "sqlite"
        label = f"{backend}, {args.processes} engine process(es)"
        results: dict[str, Any] = {}
        results["chain3"] = bench_chain3(base, 20 if args.quick else 100)
        print(f"chain3      {results['chain3']:8.2f} ms median   ({label})", flush=True)
        total = 300 if args.quick else 1000
        results["throughput"] = bench_throughput(bases, total, 10)
        print(f"throughput  {results['throughput']:8.1f} /s         ({total} executions, "
              f"10 threads, {label})", flush=True)
        results["items500"] = bench_once(base, "items500")
        print(f"items500    {results['items500']:8.3f} s          ({label})", flush=True)
        results["chain100"] = bench_once(base, "chain100")
        print(f"chain100    {results['chain100']:8.3f} s          ({label})", flush=True)
    finally:
        engines.stop_all()
    if os.environ.get("LEVANTE_BENCH_KEEP") != "1":
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
