"""The emitters of trigger instances end to end, through the real `st2` CLI and HTTP on
`levante up` (SQLite): a webhook rule with criteria starting a Mistral workflow with
parameters from the payload, and a payload that does not match starting nothing; an
actiontrigger rule chaining two actions; a notify block routed by a rule; each timer kind
(interval, date, cron) with a short period; `core.inject_trigger`; `levante webhook`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.handshake_launch.test_st2_workflow import ST2, _st2
from tests.conftest import postgres_server_url
from tests.harness import System, start_system

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

EMIT = {
    "pack.yaml": "ref: emit\nname: emit\ndescription: emitters tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/remediate.yaml": """---
name: remediate
runner_type: mistral-v2
entry_point: workflows/remediate.yaml
parameters:
  host: {type: string, required: true}
  used: {type: integer, required: true}
""",
    "actions/workflows/remediate.yaml": """---
version: '2.0'
emit.remediate:
  input: [host, used]
  output:
    said: <% $.said %>
  tasks:
    clean:
      action: core.local
      input:
        cmd: echo cleaning <% $.host %> at <% $.used %>
      publish:
        said: <% task(clean).result.stdout.trim() %>
""",
    "actions/first.yaml": """---
name: first
runner_type: local-shell-cmd
parameters:
  cmd: {type: string, default: echo first-output}
""",
    "actions/told.yaml": """---
name: told
runner_type: noop
parameters:
  who: {type: string, default: ann}
notify:
  on-success:
    routes: [ops]
    message: "{{ action_parameters.who }} is done"
""",
    "rules/disk_alert.yaml": """---
name: disk_alert
pack: emit
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: alerts/disk
criteria:
  trigger.body.used:
    type: greaterthan
    pattern: 90
action:
  ref: emit.remediate
  parameters:
    host: "{{ trigger.body.host }}"
    used: "{{ trigger.body.used }}"
""",
    "rules/chain.yaml": """---
name: chain
pack: emit
enabled: true
trigger:
  type: core.st2.generic.actiontrigger
criteria:
  trigger.action_ref: {type: equals, pattern: emit.first}
  trigger.status: {type: equals, pattern: succeeded}
action:
  ref: core.local
  parameters:
    cmd: "echo second got {{ trigger.result.stdout }}"
""",
    "rules/notified.yaml": """---
name: notified
pack: emit
enabled: true
trigger:
  type: core.st2.generic.notifytrigger
criteria:
  trigger.route: {type: equals, pattern: ops}
action:
  ref: core.local
  parameters:
    cmd: "echo routed {{ trigger.message }}"
""",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """`levante up` on SQLite; on PostgreSQL each role a process of its own."""
    kind = request.param
    if kind == "postgres" and not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    tmp = tmp_path_factory.mktemp(f"emitters-{kind}")
    packs = tmp / "packs"
    for name, text in EMIT.items():
        path = packs / "emit" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    roles = ("up",) if kind == "sqlite" else (
        "engine", "notifier", "api", "runner", "resultstracker", "rulesengine")
    found = start_system(tmp / "system", kind, roles, packs=packs)
    try:
        yield found
    finally:
        found.close()


def executions_of(system: System, ref: str, where: Callable[[dict[str, Any]], bool]
                  = lambda e: True) -> list[dict[str, Any]]:
    with system.client() as client:
        rows = client.get("/executions", params={"action": ref, "limit": 100}).json()
    return [r for r in rows if where(r)]


def wait_for(what: str, found: Callable[[], list[dict[str, Any]]], count: int = 1,
             timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = found()
        # Only finished ones count: a timer keeps starting more, one may always be running.
        done = [r for r in rows if r["status"] in ("succeeded", "failed")]
        if len(done) >= count:
            return done
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {rows}")
        time.sleep(0.1)


def echoed(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: str((e.get("parameters") or {}).get("cmd", "")).startswith(text)


def test_webhook_rule_starts_a_workflow_with_the_payload(system: System) -> None:
    rules = _st2(system, "rule", "list", "-p", "emit", "-j")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert {r["ref"] for r in json.loads(rules.stdout)} >= {"emit.disk_alert", "emit.chain"}
    with system.client() as client:
        quiet = client.post("/webhooks/alerts/disk", json={"host": "web2", "used": 50})
        loud = client.post("/webhooks/alerts/disk", json={"host": "web1", "used": 97},
                           params={"st2-api-key": system.key},
                           headers={"St2-Api-Key": ""})
        assert quiet.status_code == loud.status_code == 202, loud.text
        assert loud.json() == {"host": "web1", "used": 97}
        bad = client.post("/webhooks/alerts/disk", content=b"used=97",
                          headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "JSON" in bad.json()["faultstring"]
        assert client.post("/webhooks/alerts/nowhere", json={}).status_code == 404
    (run,) = wait_for("the webhook's workflow", lambda: executions_of(system, "emit.remediate"))
    assert run["status"] == "succeeded", run
    assert {k: run["parameters"][k] for k in ("host", "used")} == {"host": "web1", "used": 97}
    assert run["result"]["said"] == "cleaning web1 at 97"
    assert run["context"]["rule"]["ref"] == "emit.disk_alert"
    # The payload that did not match started nothing, and its instance is processed.
    with system.client() as client:
        hook_ref = client.get("/webhooks/alerts/disk").json()["ref"]
    listed = _st2(system, "trigger-instance", "list", "--trigger", hook_ref, "-a", "all",
                  "-j")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    hooks = json.loads(listed.stdout)
    assert sorted(i["payload"]["body"]["host"] for i in hooks) == ["web1", "web2"]
    assert {i["status"] for i in hooks} == {"processed"}
    assert "St2-Api-Key" not in json.dumps(hooks)
    assert len(executions_of(system, "emit.remediate")) == 1
    posted = system.levante("webhook", "post", "alerts/disk", "-d", '{"host": "web3", '
                            '"used": 99}')
    assert posted.returncode == 0 and "Accepted" in posted.stdout, posted.stderr
    wait_for("the second webhook's workflow",
             lambda: executions_of(system, "emit.remediate"), count=2)
    listed_hooks = system.levante("webhook", "list")
    assert "alerts/disk" in listed_hooks.stdout, listed_hooks.stderr
    st2_hooks = _st2(system, "webhook", "list", "-j")
    assert st2_hooks.returncode == 0, st2_hooks.stdout + st2_hooks.stderr
    assert [h["url"] for h in json.loads(st2_hooks.stdout)] == ["alerts/disk"]
    st2_hook = _st2(system, "webhook", "get", "alerts/disk", "-j")
    assert st2_hook.returncode == 0, st2_hook.stdout + st2_hook.stderr
    assert json.loads(st2_hook.stdout)["ref"] == hook_ref


def test_actiontrigger_rule_chains_two_actions(system: System) -> None:
    ran = _st2(system, "run", "emit.first", "-j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (second,) = wait_for("the chained action", lambda: executions_of(
        system, "core.local", echoed("echo second got")))
    assert second["status"] == "succeeded"
    assert second["result"]["stdout"].strip() == "second got first-output"


def test_notify_block_is_routed_by_a_rule(system: System) -> None:
    ran = _st2(system, "run", "emit.told", "who=zoe", "-j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (routed,) = wait_for("the notify rule's action", lambda: executions_of(
        system, "core.local", echoed("echo routed")))
    assert routed["result"]["stdout"].strip() == "routed zoe is done"


def _rule_file(tmp: Path, name: str, trigger: dict[str, Any], cmd: str) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({
        "name": name, "pack": "emit", "enabled": True, "trigger": trigger,
        "action": {"ref": "core.local", "parameters": {"cmd": cmd}}}))
    return path


def test_each_timer_kind_fires(system: System, tmp_path: Path) -> None:
    # Far enough for its rule to exist by then on a loaded machine (a date already past
    # when its rule is made never fires).
    soon = (datetime.now(UTC) + timedelta(seconds=8)).strftime("%Y-%m-%d %H:%M:%S")
    for name, trigger in (
            ("on_date", {"type": "core.st2.DateTimer",
                         "parameters": {"date": soon, "timezone": "UTC"}}),
            ("every_second", {"type": "core.st2.IntervalTimer",
                              "parameters": {"unit": "seconds", "delta": 1}}),
            ("cron_2s", {"type": "core.st2.CronTimer",
                         "parameters": {"second": "*/2", "timezone": "Europe/Paris"}})):
        made = _st2(system, "rule", "create", str(_rule_file(tmp_path, name, trigger,
                                                                f"echo timer {name}")))
        assert made.returncode == 0, made.stdout + made.stderr
    for name, count in (("every_second", 3), ("on_date", 1), ("cron_2s", 2)):
        wait_for(f"timer {name}", lambda n=name: executions_of(  # type: ignore[misc]
            system, "core.local", echoed(f"echo timer {n}")), count=count)
    timers = system.levante("timer", "list", "-j")
    assert timers.returncode == 0, timers.stderr
    assert {t["type"] for t in json.loads(timers.stdout)} == {
        "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer"}
    st2_timers = _st2(system, "timer", "list", "-j")
    assert st2_timers.returncode == 0, st2_timers.stdout + st2_timers.stderr
    shown = json.loads(st2_timers.stdout)
    assert len(shown) == 3
    one = _st2(system, "timer", "get", shown[0]["id"], "-j")
    assert one.returncode == 0 and json.loads(one.stdout)["uid"] == shown[0]["uid"], \
        one.stdout + one.stderr
    refused = _st2(system, "rule", "create", str(_rule_file(tmp_path, "bad_cron", {
        "type": "core.st2.CronTimer", "parameters": {"minute": "75"}}, "echo never")))
    assert refused.returncode != 0
    assert "'minute': 75 is out of 0-59" in refused.stdout + refused.stderr
    for name in ("every_second", "cron_2s"):
        assert _st2(system, "rule", "disable", f"emit.{name}").returncode == 0
    time.sleep(1.5)  # a slot already being fired may still start one
    settled = len(executions_of(system, "core.local", echoed("echo timer every_second")))
    time.sleep(2)
    assert len(executions_of(system, "core.local", echoed("echo timer every_second"))) \
        == settled
    assert len(executions_of(system, "core.local", echoed("echo timer on_date"))) == 1


def test_inject_trigger_records_an_instance(system: System) -> None:
    ran = _st2(system, "run", "core.inject_trigger", "trigger=core.st2.generic.actiontrigger",
               'payload={"action_ref": "emit.first", "status": "succeeded", '
               '"result": {"stdout": "injected"}}', "-j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    done = json.loads(ran.stdout)
    assert done["status"] == "succeeded", done
    assert done["result"]["trigger"] == "core.st2.generic.actiontrigger"
    wait_for("the injected instance's rule", lambda: executions_of(
        system, "core.local", echoed("echo second got injected")))
    missing = _st2(system, "run", "core.inject_trigger", "trigger=nope.nothing", "-j")
    assert "Trigger nope.nothing not found" in missing.stdout + missing.stderr
