"""Engine and platform as separate processes on separate databases, wired by HTTP only
(tests/harness.py): `levante serve engine` + `serve notifier` on one, `serve api` +
`serve runner` + `serve resultstracker` on the other; the bundled packs and a test pack
registered."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_server_url
from tests.harness import System, start_system

# Two databases: the platform's keys are not in the engine's identity tables, so the engine
# runs without authentication here (see docs/configuration.md, [engine] auth).
TWO_DATABASES = {"engine": {"auth": "false"}}
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
    if kind == "postgres" and not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    tmp = tmp_path_factory.mktemp(f"launch-{kind}")
    found = start_system(tmp, kind, ("engine", "notifier", "api", "runner", "resultstracker"),
                         split=True, packs=_pack(tmp / "packs", packs), options=TWO_DATABASES,
                         env=env)
    try:
        yield found
    finally:
        found.close()
