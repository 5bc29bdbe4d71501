"""Rules through the real `st2` CLI on SQLite (api, runner and rulesengine as separate
processes): st2 rule create/list/get/disable/enable/delete, st2 trigger list, st2
trigger-instance list/get/re-emit and st2 rule-enforcement list, with a webhook rule whose
criteria and parameters come from the payload. The instances are recorded straight into
the database here (the webhook endpoint is another feature's)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from levante.db.connect import make_engine, writing
from levante.platform.triggers.store import record_instance
from tests.acceptance.platform.test_st2_cli import ANSI, ST2
from tests.harness import System, clean_environ, eventually, start_system, write_pack

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

RULE = """---
name: alerts
pack: ops
description: Remediate high-severity alerts
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: alerts
criteria:
  trigger.body.severity:
    type: iequals
    pattern: HIGH
action:
  ref: core.local
  parameters:
    cmd: "echo fixing {{ trigger.body.host }}"
"""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("rules")
    packs = write_pack(tmp / "packs", "watch", {
        "pack.yaml": "name: watch\nversion: 0.1.0\ndescription: A pack with a rule.\n",
        "rules/on_end.yaml": "name: on_end\ntrigger: {type: core.st2.generic.actiontrigger}"
                             "\naction: {ref: core.noop}\n"})
    found = start_system(tmp, "sqlite", ("api", "runner", "rulesengine"), packs=packs,
                         options={"rulesengine": {"poll_interval": "0.1"}})
    try:
        yield found
    finally:
        found.close()


def st2(system: System, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_environ(ST2_API_KEY=system.key, HOME=str(home))
    done = subprocess.run([str(ST2), "--api-url", f"{system.api}/v1", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       ANSI.sub("", done.stdout), ANSI.sub("", done.stderr))


def ok_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def record(system: System, trigger: str, payload: Any) -> str:
    db = make_engine(system.platform_db)
    try:
        with writing(db) as conn:
            return record_instance(conn, trigger, payload)
    finally:
        db.dispose()


def api_get(system: System, path: str, **params: Any) -> Any:
    with system.client() as client:
        answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.timeout(600)  # some twenty runs of the st2 CLI, each a Python start
def test_rules_through_st2(system: System, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    types = st2(system, home, "trigger", "list")
    assert types.returncode == 0, types.stderr
    assert "core.st2.webhook" in types.stdout and "core.st2.CronTimer" in types.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(RULE.replace("core.st2.webhook", "core.nothing"))
    refused = st2(system, home, "rule", "create", str(bad))
    assert refused.returncode != 0
    assert "trigger.type" in refused.stdout + refused.stderr

    path = tmp_path / "rule.yaml"
    path.write_text(RULE)
    created = st2(system, home, "rule", "create", str(path))
    assert created.returncode == 0, created.stdout + created.stderr
    assert "ops.alerts" in st2(system, home, "rule", "list").stdout
    rule = ok_json(st2(system, home, "rule", "get", "ops.alerts", "-j"))
    assert rule["enabled"] is True and rule["trigger"]["type"] == "core.st2.webhook"
    trigger = rule["trigger"]["ref"]
    assert trigger.startswith("core.")

    high = record(system, trigger, {"body": {"severity": "high", "host": "web-1"},
                                    "headers": {}})
    low = record(system, trigger, {"body": {"severity": "low", "host": "web-2"},
                                   "headers": {}})
    enforced = eventually(lambda: api_get(system, "/ruleenforcements", rule_ref="ops.alerts"),
                          what="the enforcement", step=0.05)
    assert [e["trigger_instance_id"] for e in enforced] == [high]
    execution = system.wait(enforced[0]["execution_id"])
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["stdout"].strip() == "fixing web-1"
    assert execution["context"]["rule"] == {"id": rule["id"], "ref": "ops.alerts"}
    assert execution["context"]["trigger_instance"]["id"] == high

    listed = st2(system, home, "rule-enforcement", "list")
    assert listed.returncode == 0 and "ops.alerts" in listed.stdout, listed.stderr
    mine = ok_json(st2(system, home, "rule-enforcement", "list", "--rule", "ops.alerts",
                       "-j"))
    assert [(e["rule"]["ref"], e["execution_id"]) for e in mine] == [
        ("ops.alerts", execution["id"])]
    webhook = ok_json(st2(system, home, "trigger", "get", "core.st2.webhook", "-j"))
    assert webhook["parameters_schema"]["required"] == ["url"]
    eventually(lambda: {i["id"]: i["status"] for i in api_get(system, "/triggerinstances")}
               .get(low) == "processed", what="the low instance processed", step=0.05)
    # (the execution's end recorded an actiontrigger instance too: only the webhook's)
    instances = ok_json(st2(system, home, "trigger-instance", "list", "--trigger", trigger,
                            "-j"))
    assert {i["id"]: i["status"] for i in instances} == {high: "processed",
                                                         low: "processed"}
    got = ok_json(st2(system, home, "trigger-instance", "get", high, "-j"))
    assert got["payload"]["body"]["host"] == "web-1" and got["trigger"] == trigger

    again = st2(system, home, "trigger-instance", "re-emit", high)
    assert again.returncode == 0, again.stdout + again.stderr
    twice = eventually(lambda: [e for e in api_get(system, "/ruleenforcements",
                                                   rule_ref="ops.alerts")
                                if e["trigger_instance_id"] != high],
                       what="the re-emitted one", step=0.05)
    replayed = api_get(system, f"/triggerinstances/{twice[0]['trigger_instance_id']}")
    assert replayed["payload"]["__context"] == {"original_id": high}

    disabled = st2(system, home, "rule", "disable", "ops.alerts")
    assert disabled.returncode == 0, disabled.stdout + disabled.stderr
    assert ok_json(st2(system, home, "rule", "get", "ops.alerts", "-j"))["enabled"] is False
    # The filter reads the same words as every yes/no filter of the API (sensors' too).
    with system.client() as client:
        for word, expected in (("no", True), ("off", True), ("yes", False), ("1", False)):
            found = client.get("/rules", params={"enabled": word})
            assert found.status_code == 200, found.text
            assert ("ops.alerts" in {r["ref"] for r in found.json()}) is expected, word
        maybe = client.get("/rules", params={"enabled": "maybe"})
        assert maybe.status_code == 400, maybe.text
        assert "'enabled' must be true or false" in maybe.json()["faultstring"]
    quiet = record(system, trigger, {"body": {"severity": "high", "host": "web-3"}})
    eventually(lambda: api_get(system, f"/triggerinstances/{quiet}")["status"] == "processed",
               what="the instance seen while the rule is disabled", step=0.05)
    assert len(api_get(system, "/ruleenforcements", rule_ref="ops.alerts")) == 2
    enabled = st2(system, home, "rule", "enable", "ops.alerts")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    assert ok_json(st2(system, home, "rule", "get", "ops.alerts", "-j"))["enabled"] is True

    deleted = st2(system, home, "rule", "delete", "ops.alerts")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert "ops.alerts" not in st2(system, home, "rule", "list").stdout
    # the rule's trigger (parameterized) went with it
    with system.client() as client:
        assert client.get(f"/triggers/{trigger}").status_code == 404


def test_rule_and_trigger_api_shapes_and_errors(system: System) -> None:
    with system.client() as client:
        base = {"name": "shape", "pack": "ops", "enabled": True,
                "trigger": {"type": "core.st2.generic.actiontrigger"},
                "action": {"ref": "core.noop"}}
        for change, field in (
                ({"trigger": {"type": "nope.nothing"}}, "'trigger.type'"),
                ({"criteria": {"trigger.status": {"type": "like", "pattern": "x"}}},
                 "'criteria.trigger.status': unknown operator 'like'"),
                ({"action": {}}, "'action.ref'"),
                ({"action": {"ref": "core.nothing"}}, "'action.ref'"),
                ({"trigger": {"type": "core.st2.IntervalTimer",
                              "parameters": {"unit": "ages", "delta": 1}}},
                 "'trigger.parameters.unit'"),
                ({"name": ""}, "'name'")):
            answer = client.post("/rules", json={**base, **change})
            assert answer.status_code == 400, answer.text
            assert field in answer.json()["faultstring"], (field, answer.text)
        made = client.post("/rules", json=base)
        assert made.status_code == 201, made.text
        shown = made.json()
        assert shown["ref"] == "ops.shape" and shown["uid"] == "rule:ops:shape"
        assert shown["trigger"] == {"type": "core.st2.generic.actiontrigger",
                                    "parameters": {},
                                    "ref": "core.st2.generic.actiontrigger"}
        assert shown["context"]["user"] and shown["type"]["ref"] == "standard"
        assert client.post("/rules", json=base).status_code == 409
        assert client.get("/rules/nope.nothing").status_code == 404
        listed = client.get("/rules", params={"pack": "ops", "limit": 1})
        assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
        assert client.delete(f"/rules/{shown['id']}").status_code == 204

        webhook = client.get("/triggertypes/core.st2.webhook").json()
        assert webhook["parameters_schema"]["required"] == ["url"]
        assert webhook["uid"] == "trigger_type:core:st2.webhook"
        types = client.get("/triggertypes", params={"limit": 2})
        assert len(types.json()) == 2 and int(types.headers["X-Total-Count"]) >= 12
        made_type = client.post("/triggertypes", json={
            "name": "alert", "pack": "mon", "payload_schema": {"type": "object"}})
        assert made_type.status_code == 201, made_type.text
        assert client.post("/triggertypes", json={"name": "alert",
                                                  "pack": "mon"}).status_code == 409
        own = client.post("/triggers", json={"type": "mon.alert", "name": "t1",
                                             "pack": "mon", "parameters": {"a": 1}})
        assert own.status_code == 201 and own.json()["ref"] == "mon.t1", own.text
        assert client.post("/triggers", json={"type": "mon.none"}).status_code == 400
        long_type = client.post("/triggertypes", json={"name": "n" * 256, "pack": "mon"})
        assert long_type.status_code == 400 and "'name'" in long_type.text, long_type.text
        long_pack = client.post("/triggers", json={"type": "mon.alert", "pack": "p" * 256})
        assert long_pack.status_code == 400 and "'pack'" in long_pack.text, long_pack.text
        assert client.delete("/triggers/mon.t1").status_code == 204
        assert client.delete("/triggertypes/mon.alert").status_code == 204
        assert client.get("/triggertypes/mon.alert").status_code == 404

        assert client.get("/triggerinstances",
                          params={"status": "weird"}).status_code == 400
        assert client.get("/triggerinstances/nothing").status_code == 404
        page = client.get("/triggerinstances", params={"limit": 1,
                                                       "status": "processed"})
        assert page.status_code == 200 and len(page.json()) <= 1
        assert "X-Total-Count" in page.headers
        assert client.get("/ruleenforcements/nothing").status_code == 404

        # a pack's rule enabled over the API stays its file's (removed with it)
        pack_rule = client.get("/rules/watch.on_end").json()
        assert pack_rule["enabled"] is False and "user" not in pack_rule["context"]
        changed = client.put(f"/rules/{pack_rule['id']}", json={**pack_rule,
                                                                "enabled": True})
        assert changed.status_code == 200, changed.text
        assert changed.json()["metadata_file"] == "rules/on_end.yaml"
        assert changed.json()["enabled"] is True
        assert changed.json()["context"] == {}  # still runs as [rulesengine] system_user
        assert client.put(f"/rules/{pack_rule['id']}", json={
            **pack_rule, "context": ["x"]}).status_code == 400


def test_levante_rule_and_trigger_commands(system: System, tmp_path: Path) -> None:
    path = tmp_path / "cli.yaml"
    path.write_text(RULE.replace("name: alerts", "name: from_cli")
                    .replace("url: alerts", "url: cli"))
    made = system.levante("rule", "create", str(path), "-j")
    assert made.returncode == 0, made.stdout + made.stderr
    trigger = json.loads(made.stdout)["trigger"]["ref"]
    listed = system.levante("rule", "list", "--pack", "ops")
    assert listed.returncode == 0 and "ops.from_cli" in listed.stdout, listed.stderr
    shown = system.levante("rule", "get", "ops.from_cli")
    assert "criteria:" in shown.stdout and "iequals" in shown.stdout, shown.stderr
    off = system.levante("rule", "disable", "ops.from_cli")
    assert off.returncode == 0 and "disabled" in off.stdout, off.stderr
    assert json.loads(system.levante("rule", "get", "ops.from_cli", "-j").stdout)[
        "enabled"] is False
    on = system.levante("rule", "enable", "ops.from_cli")
    assert on.returncode == 0 and "enabled" in on.stdout, on.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- not a rule\n")
    refused = system.levante("rule", "create", str(bad))
    assert refused.returncode != 0 and "a rule is an object" in refused.stderr

    types = system.levante("trigger", "list", "--pack", "core")
    assert types.returncode == 0 and "core.st2.IntervalTimer" in types.stdout, types.stderr
    first = record(system, trigger, {"body": {"severity": "High", "host": "cli-1"}})
    eventually(lambda: api_get(system, "/ruleenforcements", rule_ref="ops.from_cli"),
               what="the enforcement", step=0.05)
    instances = system.levante("trigger", "instances", "--trigger", trigger)
    assert instances.returncode == 0 and first in instances.stdout, instances.stderr
    one = system.levante("trigger", "instance", first)
    assert "cli-1" in one.stdout and "processed" in one.stdout, one.stderr
    again = system.levante("trigger", "re-emit", first, "-j")
    assert again.returncode == 0, again.stdout + again.stderr
    eventually(lambda: len(api_get(system, "/ruleenforcements", rule_ref="ops.from_cli")) == 2,
               what="the re-emitted instance enforced", step=0.05)
    enforced = system.levante("rule", "enforcements", "--rule", "ops.from_cli")
    assert enforced.returncode == 0 and enforced.stdout.count("ops.from_cli") == 2
    gone = system.levante("rule", "delete", "ops.from_cli")
    assert gone.returncode == 0 and "Deleted" in gone.stdout, gone.stderr
    missing = system.levante("rule", "get", "ops.from_cli")
    assert missing.returncode != 0 and "cannot be found" in missing.stderr
