"""Engine and platform as separate processes on separate databases, wired by HTTP only:
`levante serve engine` + `serve notifier` on one, `serve api` + `serve runner` +
`serve resultstracker` on the other; the bundled packs and a test pack registered."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from levante.config import load_config
from levante.contract.signing import generate_secret
from levante.db import manage
from levante.db.connect import make_engine
from levante.platform.pack_registry import register_packs
from levante.platform.service import ensure_api_key
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    free_port,
    levante_bin,
    postgres_server_url,
)

DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
ENGINE_ROLES = ("engine", "notifier")
TEST_PACK = {
    "pack.yaml": "ref: hl\nname: hl\ndescription: handshake launch tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/fail_chain.yaml": """---
name: fail_chain
runner_type: mistral-v2
entry_point: workflows/fail_chain.yaml
parameters:
  code: {type: integer, default: 3}
""",
    "actions/workflows/fail_chain.yaml": """---
version: '2.0'
hl.fail_chain:
  input: [code]
  tasks:
    fails:
      action: core.local cmd="exit <% $.code %>"
      on-error: [after]
    after:
      action: core.noop
      on-complete: [fail_now]
    fail_now:
      action: std.fail
""",
    "actions/slow.yaml": """---
name: slow
runner_type: levante-workflow
entry_point: workflows/slow.yaml
parameters:
  seconds: {type: number, default: 30}
""",
    "actions/workflows/slow.yaml": """---
version: '2.0'
hl.slow:
  input: [seconds]
  output:
    slept: <% $.slept %>
  tasks:
    sleep:
      action: core.local
      input:
        cmd: sleep <% $.seconds %> && echo slept
      publish:
        slept: <% task().result.stdout.trim() %>
""",
    "actions/keep_secret.yaml": """---
name: keep_secret
runner_type: noop
parameters:
  token: {type: string, secret: true, required: true}
  note: {type: string, default: plain}
""",
    "actions/guarded.yaml": """---
name: guarded
runner_type: mistral-v2
entry_point: workflows/guarded.yaml
parameters:
  token: {type: string, secret: true, required: true}
""",
    "actions/workflows/guarded.yaml": """---
version: '2.0'
hl.guarded:
  input: [token]
  tasks:
    use:
      action: hl.keep_secret
      input:
        token: <% $.token %>
        note: visible
      publish:
        seen_credential: <% env().levante.credential %>
""",
    "actions/marked.yaml": """---
name: marked
runner_type: mistral-v2
entry_point: workflows/marked.yaml
parameters:
  dir: {type: string, required: true}
  pause: {type: number, default: 0}
""",
    "actions/workflows/marked.yaml": """---
version: '2.0'
hl.marked:
  input: [dir, pause]
  tasks:
    wait:
      action: std.sleep seconds=<% $.pause %>
      on-success: [mark]
    mark:
      action: core.local
      input:
        cmd: mktemp <% $.dir %>/run.XXXXXXXX
""",
    "actions/needs_input.yaml": """---
name: needs_input
runner_type: mistral-v2
entry_point: workflows/needs_input.yaml
""",
    "actions/workflows/needs_input.yaml": """---
version: '2.0'
hl.needs_input:
  input: [needed]
  tasks:
    noop:
      action: std.noop
""",
    "actions/nap.yaml": """---
name: nap
runner_type: levante-workflow
entry_point: workflows/nap.yaml
parameters:
  seconds: {type: number, default: 2}
""",
    "actions/workflows/nap.yaml": """---
version: '2.0'
hl.nap:
  input: [seconds]
  output:
    after: <% $.after %>
  tasks:
    nap:
      action: std.sleep seconds=<% $.seconds %>
      on-success: [after]
    after:
      action: core.echo message="woke up"
      publish:
        after: <% task().result.stdout %>
""",
    "actions/leaky.yaml": """---
name: leaky
runner_type: mistral-v2
entry_point: workflows/leaky.yaml
parameters:
  token: {type: string, secret: true, required: true}
""",
    "actions/workflows/leaky.yaml": """---
version: '2.0'
hl.leaky:
  input: [token]
  output:
    copied: <% $.copied %>
    sentence: <% $.sentence %>
  tasks:
    copy:
      action: std.noop
      publish:
        copied: <% $.token %>
        sentence: <% 'the token is ' + $.token %>
""",
    "actions/outer.yaml": """---
name: outer
runner_type: mistral-v2
entry_point: workflows/outer.yaml
""",
    "actions/workflows/outer.yaml": """---
version: '2.0'
hl.outer:
  output:
    inner: <% $.inner %>
  tasks:
    nested:
      action: examples.hello_chain
      input:
        name: Nested
        items: [x]
      publish:
        inner: <% task().result.greeting %>
""",
}


@dataclass
class System:
    tmp: Path
    engine_db: str
    platform_db: str
    engine_conf: Path
    platform_conf: Path
    engine_port: int
    api_port: int
    key: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # e.g. LEVANTE_<SECTION>_<OPTION>

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def engine(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    def start(self, role: str) -> None:
        conf = self.engine_conf if role in ENGINE_ROLES else self.platform_conf
        log = open(self.tmp / f"{role}.out", "ab")  # noqa: SIM115 (kept by the process)
        self.procs[role] = subprocess.Popen(
            [levante_bin("levante"), "serve", role, "--config-file", str(conf)],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        log.close()

    def kill(self, role: str) -> None:
        proc = self.procs.pop(role)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
            proc.send_signal(signal.SIGCONT)  # (a paused process would not stop)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
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

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.api}/v1", headers={"St2-Api-Key": self.key},
                            timeout=30)

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


def _write_conf(path: Path, url: str, data: Path, engine_port: int, api_port: int,
                secret: str, packs: Path) -> None:
    path.write_text(f"""
[core]
data_dir = {data}
[database]
connection = {url}
[engine]
port = {engine_port}
poll_interval = 0.2
# Two databases: the platform's keys are not in the engine's identity tables, so the engine
# runs without authentication here (see docs/configuration.md, [engine] auth).
auth = false
[api]
port = {api_port}
[notifier]
signing_secret = {secret}
initial_backoff = 0.1
max_backoff = 0.5
poll_interval = 0.1
[runner]
poll_interval = 0.1
[resultstracker]
query_interval = 0.5
empty_q_sleep_time = 0.2
silence_timeout = 5
[content]
packs_paths = {packs}
""", encoding="utf-8")


def _pack(root: Path, extra: Mapping[str, Any] | None = None) -> Path:
    """The test pack `hl`, plus `extra`: more packs, as {pack: {file: text}} or as
    {path from the packs folder: text}."""
    files = {f"hl/{name}": text for name, text in TEST_PACK.items()}
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping):
            files.update({f"{key}/{name}": text for name, text in value.items()})
        else:
            files[key] = value
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    yield from running_system(request.param, tmp_path_factory)


def running_system(kind: str, tmp_path_factory: pytest.TempPathFactory,
                   env: dict[str, str] | None = None,
                   packs: Mapping[str, Any] | None = None) -> Iterator[System]:
    """Both services as processes on `kind` ("sqlite" or "postgres") databases, with
    `env` (option overrides) in the environment of every process; `packs`: more packs
    beside the test pack ({pack: {file: text}}, or {path from the packs folder: text})."""
    tmp = tmp_path_factory.mktemp(f"launch-{kind}")
    if kind == "sqlite":
        urls = [f"sqlite:///{tmp / 'engine.sqlite'}", f"sqlite:///{tmp / 'platform.sqlite'}"]
    else:
        if not postgres_server_url():
            pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
        urls = [create_postgres_database(), create_postgres_database()]
    for url in urls:
        manage.upgrade(url, "head")
    engine_port, api_port = free_port(), free_port()
    secret = generate_secret()
    packs_dir = _pack(tmp / "packs", packs)
    engine_conf, platform_conf = tmp / "engine.conf", tmp / "platform.conf"
    _write_conf(engine_conf, urls[0], tmp / "edata", engine_port, api_port, secret,
                packs_dir)
    _write_conf(platform_conf, urls[1], tmp / "pdata", engine_port, api_port, secret,
                packs_dir)
    config = load_config(str(platform_conf), environ={})
    db = make_engine(urls[1])
    try:
        report = register_packs(db, config.get_list("content", "packs_paths"))
        assert not report.errors, report.errors
        key, _ = ensure_api_key(config, db)
    finally:
        db.dispose()
    found = System(tmp, urls[0], urls[1], engine_conf, platform_conf, engine_port, api_port,
                   key, env=dict(env or {}))
    for role in ("engine", "notifier", "api", "runner", "resultstracker"):
        found.start(role)
    try:
        found.wait_up(f"{found.engine}/v2")
        found.wait_up(f"{found.api}/v1/openapi.json")
        yield found
    finally:
        found.stop_all()
        if kind == "postgres":
            for url in urls:
                drop_postgres_database(url)
