"""Engine and platform as separate processes on separate databases, wired by HTTP only:
`levante serve engine` + `serve notifier` on one, `serve api` + `serve runner` +
`serve resultstracker` on the other; the bundled packs and a test pack registered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from levante.config import load_config
from levante.db import manage
from levante.db.connect import make_engine
from levante.platform.pack_registry import register_packs
from levante.platform.service import ensure_api_key
from levante.webhooks import generate_secret
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    free_port,
    postgres_server_url,
)
from tests.harness import DONE, ENGINE_ROLES, ROLES, System, write_conf, write_pack

__all__ = ["DONE", "System"]

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


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp(f"launch-{request.param}")
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp / 'engine.sqlite'}", f"sqlite:///{tmp / 'platform.sqlite'}"]
    else:
        if not postgres_server_url():
            pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
        urls = [create_postgres_database(), create_postgres_database()]
    for url in urls:
        manage.upgrade(url, "head")
    engine_port, api_port = free_port(), free_port()
    secret = generate_secret()
    packs = write_pack(tmp / "packs", "hl", TEST_PACK)
    engine_conf, platform_conf = tmp / "engine.conf", tmp / "platform.conf"
    write_conf(engine_conf, urls[0], tmp / "edata", engine_port, api_port, secret, packs)
    write_conf(platform_conf, urls[1], tmp / "pdata", engine_port, api_port, secret, packs)
    config = load_config(str(platform_conf), environ={})
    db = make_engine(urls[1])
    try:
        report = register_packs(db, config.get_list("content", "packs_paths"))
        assert not report.errors, report.errors
        key, _ = ensure_api_key(config, db)
    finally:
        db.dispose()
    confs = {role: engine_conf if role in ENGINE_ROLES else platform_conf for role in ROLES}
    found = System(tmp, confs, engine_port, api_port, key, engine_db=urls[0],
                   platform_db=urls[1])
    for role in ("engine", "notifier", "api", "runner", "resultstracker"):
        found.start(role)
    try:
        found.wait_up(f"{found.engine}/v2")
        found.wait_up(f"{found.api}/v1/openapi.json")
        yield found
    finally:
        found.stop_all()
        if request.param == "postgres":
            for url in urls:
                drop_postgres_database(url)
