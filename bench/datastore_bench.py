"""Datastore benchmark: key set/get through the API, and `st2kv()` in a workflow
expression (each call one HTTP read of the platform API, as the engine makes it).

The platform API runs in a child process (as `levante serve api`); this script is the
client. Prints the median latency of `PUT /v1/keys/<name>` and `GET /v1/keys/<name>`
(plain and secret, decrypted) and of evaluating `<% st2kv('system.colour') %>`.

    .venv/bin/python bench/datastore_bench.py [--database URL] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


def serve(database_url: str, data_dir: str, port: int) -> None:
    """The child: upgrade, write the API and crypto keys, serve the API."""
    from levante import cpu
    from levante.config import load_config
    from levante.db import manage
    from levante.db.connect import engine_from_config
    from levante.platform.datastore.cli import prepare_up as datastore_up
    from levante.platform.service import api_services, prepare_up
    from levante.service import run_services

    config = load_config(environ={}).with_overrides({
        ("core", "data_dir"): data_dir, ("database", "connection"): database_url,
        ("api", "port"): port})
    manage.upgrade(config.database_url, "head")
    engine = engine_from_config(config)
    datastore_up(config, engine)
    prepare_up(config, engine)
    services = api_services(config, engine)
    cpu.pin_process(config.get_str("core", "cpu_affinity"))
    asyncio.run(run_services(services))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(func: Callable[[], Any], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def _line(what: str, values: list[float]) -> str:
    ordered = sorted(values)
    return (f"{what}: median {statistics.median(values) * 1000:.3f} ms "
            f"(p90 {ordered[int(len(ordered) * 0.9)] * 1000:.3f} ms, {len(values)} samples)")


class _Context:
    """An expression context whose st2kv() reads over HTTP at every call (no cache)."""

    def __init__(self, where: Any) -> None:
        from levante.engine import datastore_client

        self._read = datastore_client.Datastore().read_key
        self._where = where

    def env(self) -> dict[str, Any]:
        return {}

    def execution(self) -> dict[str, Any]:
        return {}

    def task(self, name: str | None = None) -> None:
        return None

    def tasks(self, *args: Any) -> list[Any]:
        return []

    def global_var(self, name: str) -> None:
        return None

    def st2kv(self, key: str, decrypt: bool = False, default: Any = None) -> Any:
        return self._read(self._where, key, decrypt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="", help="URL (default: SQLite in a temp dir)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--serve", nargs=3, metavar=("URL", "DATA_DIR", "PORT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return 0
    from levante.engine import datastore_client
    from levante.engine.expressions import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/levante.sqlite"
        port = _free_port()
        child = subprocess.Popen([sys.executable, __file__, "--serve", url, tmp, str(port)],
                                 env={**os.environ, "LEVANTE_LOG_LEVEL": "WARNING"})
        base = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 60
            key_file = Path(tmp) / "api_key"
            while True:
                try:
                    if key_file.exists():
                        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("the platform did not start")
                time.sleep(0.05)
            key = key_file.read_text().strip()
            kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
            n = args.samples
            with httpx.Client(base_url=base, headers={"St2-Api-Key": key}) as client:
                counter = iter(range(10 ** 9))
                timed(lambda: client.put("/keys/warm", json={"value": "x"}), 20)
                put = timed(lambda: client.put(f"/keys/k{next(counter) % 50}",
                                               json={"value": "value"}), n)
                put_secret = timed(lambda: client.put(
                    "/keys/secret", json={"value": "s3cret", "secret": True}), n)
                get = timed(lambda: client.get("/keys/k1"), n)
                get_secret = timed(lambda: client.get("/keys/secret",
                                                      params={"decrypt": "true"}), n)
                client.put("/keys/colour", json={"value": "blue"})
            where = datastore_client.Where(base[: -len("/v1")], key, None)
            ctx = _Context(where)
            assert evaluate("<% st2kv('system.colour') %>", {}, ctx) == "blue"
            expr = timed(lambda: evaluate("<% st2kv('system.colour') %>", {}, ctx), n)
            plain = timed(lambda: evaluate("<% $.colour %>", {"colour": "blue"}, ctx), n)
            print(f"database: {kind}")
            print(_line("PUT /v1/keys/<name> (plain)", put))
            print(_line("PUT /v1/keys/<name> (secret: encrypted)", put_secret))
            print(_line("GET /v1/keys/<name> (plain)", get))
            print(_line("GET /v1/keys/<name>?decrypt=true (secret)", get_secret))
            print(_line("<% st2kv('system.colour') %> per call (one HTTP read, no cache)",
                        expr))
            print(_line("<% $.colour %> (for comparison)", plain))
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            print(f"load average during the run: {load:.1f} on {os.cpu_count()} CPU(s)")
        finally:
            child.terminate()
            child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
