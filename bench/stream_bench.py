"""Event stream benchmark: commit-to-subscriber latency, and the cost of idle subscribers.

The platform API runs alone in a child process (as `levante serve api`); this script
writes execution output lines straight into the database (another process, as a runner
does) and reads `/v1/stream`. Prints the median and p99 latency from the commit of a line
to its arrival at a subscriber, then the API process's CPU and memory with 500 idle
subscribers against none.

    .venv/bin/python bench/stream_bench.py [--database URL] [--samples 300] [--idle 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


def serve(database_url: str, data_dir: str, port: int) -> None:
    """The child: upgrade, register packs, write a key, serve the API only."""
    from levante.config import load_config
    from levante.db import manage
    from levante.db.connect import engine_from_config
    from levante.platform.service import api_services, prepare_up
    from levante.service import run_services

    config = load_config(environ={}).with_overrides({
        ("core", "data_dir"): data_dir, ("database", "connection"): database_url,
        ("api", "port"): port, ("api", "auth_port"): 0, ("api", "stream_port"): 0,
    })
    manage.upgrade(config.database_url, "head")
    engine = engine_from_config(config)
    prepare_up(config, engine)
    asyncio.run(run_services(api_services(config, engine)))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def latency(url: str, key: str, database_url: str, execution_id: str,
            samples: int) -> list[float]:
    """Write one output line every 10 ms; how long each took to reach a subscriber."""
    from levante.db.connect import make_engine
    from levante.db.times import now
    from levante.platform.core import store

    seen: list[float] = []
    ready = threading.Event()

    def read() -> None:
        params = {"events": "st2.execution.output__create", "st2-api-key": key}
        with httpx.stream("GET", url + "/v1/stream", params=params,
                          timeout=httpx.Timeout(10, read=60)) as resp:
            ready.set()
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    sent = float(json.loads(line[6:])["data"])
                    seen.append(time.monotonic() - sent)
                    if len(seen) >= samples:
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(10)
    time.sleep(0.5)
    db = make_engine(database_url)
    for seq in range(samples):
        row = {"execution_id": execution_id, "seq": seq, "stream": "stdout",
               "timestamp": now(), "data": ""}
        # The stamp is taken as late as possible: what is measured starts at the commit.
        stamp = time.monotonic()
        store.append_output(db, [{**row, "data": repr(stamp)}])
        time.sleep(0.01)
    reader.join(30)
    db.dispose()
    return seen


async def idle(url: str, key: str, count: int, pid: int, seconds: float) -> dict[str, float]:
    before_rss = _rss_mib(pid)
    start = _cpu_seconds(pid)
    await asyncio.sleep(seconds)
    base_cpu = (_cpu_seconds(pid) - start) / seconds
    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30, read=None)) as client:
        streams = []
        for _ in range(count):
            cm = client.stream("GET", url + "/v1/stream", params={"st2-api-key": key})
            streams.append((cm, await cm.__aenter__()))
        assert all(resp.status_code == 200 for _cm, resp in streams)
        await asyncio.sleep(1.0)
        start = _cpu_seconds(pid)
        await asyncio.sleep(seconds)
        idle_cpu = (_cpu_seconds(pid) - start) / seconds
        after_rss = _rss_mib(pid)
        for cm, _resp in streams:
            await cm.__aexit__(None, None, None)
    return {"base_cpu": base_cpu, "idle_cpu": idle_cpu, "rss_before": before_rss,
            "rss_after": after_rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", nargs=3, metavar=("URL", "DATA", "PORT"))
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database or f"sqlite:///{tmp}/levante.sqlite"
        port = _free_port()
        child = subprocess.Popen([sys.executable, __file__, "--serve", database_url, tmp,
                                  str(port)])
        try:
            url = f"http://127.0.0.1:{port}"
            key_file = Path(tmp) / "api_key"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if key_file.exists() and httpx.get(url + "/", timeout=1).status_code:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the API did not start")
                time.sleep(0.1)
            key = key_file.read_text().strip()
            headers = {"St2-Api-Key": key}
            made: dict[str, Any] = httpx.post(url + "/v1/executions", headers=headers,
                                              json={"action": "core.noop"}, timeout=10).json()
            kind = database_url.split(":", 1)[0]
            seen = sorted(latency(url, key, database_url, made["id"], args.samples))
            ms = [s * 1000 for s in seen]
            p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(f"{kind}: commit -> subscriber, {len(ms)} output lines: median "
                  f"{statistics.median(ms):.2f} ms, p99 {p99:.2f} ms")
            cost = asyncio.run(idle(url, key, args.idle, child.pid, args.seconds))
            print(f"{kind}: API process CPU {cost['base_cpu'] * 100:.2f}% with no subscriber, "
                  f"{cost['idle_cpu'] * 100:.2f}% with {args.idle} idle subscribers; RSS "
                  f"{cost['rss_before']:.1f} MiB -> {cost['rss_after']:.1f} MiB "
                  f"(+{(cost['rss_after'] - cost['rss_before']) * 1024 / args.idle:.1f} KiB "
                  "each)")
        finally:
            child.terminate()
            child.wait(30)


if __name__ == "__main__":
    main()
