"""Levante as real processes, for tests and benchmarks: one harness that starts any set of
roles (`levante serve ROLE`, several processes per role if wanted) or `levante up`, each
process from a config file the harness writes, and drives them over HTTP.

A process has a name: its role (`api`, `engine`, `notifier`, `runner`, `resultstracker`),
optionally with a suffix for a second process of the role (`engine-2`, `runner-2`), or `up`
for the whole of Levante in one process. Processes can be killed (-9), paused (SIGSTOP),
resumed and restarted with the same command line; their output goes to `<tmp>/<name>.out`.

The platform's API key (the key file of the data folder, as the CLI reads it) is sent on
every request, to the platform and to the engine alike, so that an engine that requires
authentication is driven as the platform and the CLI drive it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from levante.db.connect import normalize_url

ROLES = ("api", "engine", "notifier", "runner", "resultstracker")
ENGINE_ROLES = ("engine", "notifier")
DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
BIN = Path(sys.executable).parent


def levante_bin(name: str) -> str:
    """Path of a console script installed beside the running Python (the venv's)."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database(server_url: str, prefix: str = "levante_test_") -> str:
    """A new empty database on the PostgreSQL server of `server_url`; returns its URL."""
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(normalize_url(server_url)).set(database=name).render_as_string(
        hide_password=False
    )


def drop_database(server_url: str, url: str) -> None:
    """Drop the database of `url` (its sessions ended first) through `server_url`."""
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def write_conf(path: Path, url: str, data: Path, engine_port: int, api_port: int,
               secret: str, packs: Path | None = None,
               options: dict[str, dict[str, Any]] | None = None) -> Path:
    """A config file with short intervals (tests wait for seconds, not minutes);
    `options` ({section: {option: value}}) add to or replace the values below."""
    sections: dict[str, dict[str, Any]] = {
        "core": {"data_dir": data},
        "database": {"connection": url},
        "engine": {"port": engine_port, "poll_interval": 0.2},
        "api": {"port": api_port},
        "notifier": {"signing_secret": secret, "initial_backoff": 0.1, "max_backoff": 0.5,
                     "poll_interval": 0.1},
        "runner": {"poll_interval": 0.1},
        "resultstracker": {"query_interval": 0.5, "empty_q_sleep_time": 0.2,
                           "silence_timeout": 5},
    }
    if packs:
        sections["content"] = {"packs_paths": packs}
    for section, values in (options or {}).items():
        sections.setdefault(section, {}).update(values)
    path.write_text("".join(
        f"[{section}]\n" + "".join(f"{name} = {value}\n" for name, value in values.items())
        for section, values in sections.items()), encoding="utf-8")
    return path


def write_pack(root: Path, name: str, files: dict[str, str]) -> Path:
    """Write the files of pack `name` under `root`; returns `root` (a packs path)."""
    for relative, content in files.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def role_of(name: str) -> str:
    """`runner-2` -> `runner`; `up` -> `up`."""
    return name.split("-", 1)[0]


@dataclass
class System:
    """Levante processes started from config files; `confs` maps a process name or a role
    to its config file (a name's own entry wins over its role's)."""

    tmp: Path
    confs: dict[str, Path]
    engine_port: int
    api_port: int
    key: str = ""
    engine_db: str = ""
    platform_db: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # e.g. LEVANTE_<SECTION>_<OPTION>

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def engine(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    # -- processes --
    def conf_for(self, name: str) -> Path:
        return self.confs.get(name) or self.confs[role_of(name)]

    def command(self, name: str) -> list[str]:
        conf = str(self.conf_for(name))
        if name == "up":
            return [levante_bin("levante"), "up", "--no-example", "--config-file", conf]
        return [levante_bin("levante"), "serve", role_of(name), "--config-file", conf]

    def start(self, name: str) -> None:
        with open(self.tmp / f"{name}.out", "ab") as log:  # (the child keeps its own copy)
            self.procs[name] = subprocess.Popen(
                self.command(name), stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].send_signal(sig)

    def kill(self, name: str) -> None:
        """kill -9, and forget the process (start it again with `start`)."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def pause(self, name: str) -> None:
        self.signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.signal(name, signal.SIGCONT)

    def stop(self, name: str, timeout: float = 30) -> None:
        """Stop one process as an operator would (SIGTERM; -9 if it does not end)."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()

    def wait_up(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"{url} did not come up; see {self.tmp}")

    def wait_ready(self, timeout: float = 60) -> None:
        self.wait_up(f"{self.engine}/v2", timeout)
        self.wait_up(f"{self.api}/v1/openapi.json", timeout)

    # -- HTTP --
    @property
    def headers(self) -> dict[str, str]:
        return {"St2-Api-Key": self.key, "X-Auth-Token": self.key} if self.key else {}

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=f"{self.api}/v1", headers={"St2-Api-Key": self.key},
                            timeout=timeout)

    def engine_client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=f"{self.engine}/v2", headers=self.headers,
                            timeout=timeout)

    def run(self, ref: str, **parameters: Any) -> dict[str, Any]:
        with self.client() as client:
            answer = client.post("/executions", json={"action": ref,
                                                      "parameters": parameters})
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def get(self, execution_id: str) -> dict[str, Any]:
        with self.client() as client:
            answer = client.get(f"/executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def children(self, execution_id: str) -> list[dict[str, Any]]:
        with self.client() as client:
            found: list[dict[str, Any]] = client.get(
                f"/executions/{execution_id}/children", params={"depth": 1}).json()
        return found

    def wait(self, execution_id: str, statuses: frozenset[str] = DONE,
             timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(execution_id)
            if found["status"] in statuses:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_id} still {found['status']}; see {self.tmp}")
            time.sleep(0.05)

    def levante(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LEVANTE_", "ST2_"))}
        env.update(LEVANTE_API_URL=self.api, LEVANTE_API_KEY=self.key)
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return subprocess.run([levante_bin("levante"), *args], capture_output=True, text=True,
                              env=env, timeout=120)
