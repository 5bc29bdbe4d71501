"""The `levante` CLI against a running platform (API and runner processes).

The CLI's behaviour does not depend on the database: its tests share one platform on
SQLite; what PostgreSQL changes (a runner killed while it holds a claim) runs on both."""

from __future__ import annotations

import json
import re
import signal
import time
from typing import Any

from tests.acceptance.platform.conftest import Platform

ID = re.compile(r"^[0-9a-f]{24}$")


def _status(platform: Platform, execution_id: str, wanted: set[str],
            timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with platform.client() as client:
        while True:
            doc: dict[str, Any] = client.get(f"/executions/{execution_id}").json()
            if doc["status"] in wanted:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_id} is still {doc['status']}")
            time.sleep(0.05)


def test_run_get_list_and_re_run(shared_sqlite_platform: Platform) -> None:
    platform = shared_sqlite_platform
    ok = platform.levante("run", "core.local", "cmd=echo hello from levante")
    assert ok.returncode == 0, ok.stderr
    assert "status: succeeded" in ok.stdout
    assert "hello from levante" in ok.stdout
    failed = platform.levante("run", "core.local", "cmd=echo oops; exit 3")
    assert failed.returncode == 1
    assert "status: failed" in failed.stdout
    assert "return_code: 3" in failed.stdout
    started = platform.levante("run", "core.local", "cmd=echo later", "--async")
    assert started.returncode == 0
    execution_id = started.stdout.strip()
    assert ID.match(execution_id)
    _status(platform, execution_id, {"succeeded"})
    got = platform.levante("execution", "get", execution_id, "-j")
    doc = json.loads(got.stdout)
    assert doc["id"] == execution_id and doc["result"]["stdout"] == "later"
    assert doc["action"]["ref"] == "core.local"
    listed = platform.levante("execution", "list")
    assert listed.returncode == 0
    assert execution_id in listed.stdout and "status" in listed.stdout.splitlines()[0]
    rerun = platform.levante("execution", "re-run", execution_id, "cmd=echo again", "-j")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["result"]["stdout"] == "again"


def test_bad_input_and_secrets(shared_sqlite_platform: Platform) -> None:
    """CLI behaviour only (the same checks run over HTTP on both databases)."""
    platform = shared_sqlite_platform
    unknown = platform.levante("run", "core.nope")
    assert unknown.returncode == 2
    assert 'Action "core.nope" cannot be found' in unknown.stderr
    missing = platform.levante("run", "testpack.secret")
    assert missing.returncode == 2 and "password" in missing.stderr
    malformed = platform.levante("run", "core.local", "nonsense")
    assert malformed.returncode == 2 and "name=value" in malformed.stderr
    refused = platform.levante("action", "list", key=False)
    assert refused.returncode == 2 and "Unauthorized" in refused.stderr
    secret = platform.levante("run", "testpack.secret", "password=hunter2", "-j")
    assert secret.returncode == 0
    assert "hunter2" not in secret.stdout
    assert json.loads(secret.stdout)["parameters"]["password"] == "********"
    secret_id = json.loads(secret.stdout)["id"]
    detail = platform.levante("execution", "get", secret_id, "-d")
    assert "log:" in detail.stdout and "requested" in detail.stdout
    assert "password: '********'" in detail.stdout and "hunter2" not in detail.stdout
    listed = json.loads(platform.levante("execution", "list", "-n", "1", "-j").stdout)
    assert [e["id"] for e in listed] == [secret_id]
    for role in ("api", "runner"):
        assert "hunter2" not in (platform.data_dir / f"{role}.log").read_text()


def test_cancel_timeout_and_tail(shared_sqlite_platform: Platform) -> None:
    platform = shared_sqlite_platform
    sleeper = platform.levante("run", "core.local", "cmd=sleep 30", "--async").stdout.strip()
    _status(platform, sleeper, {"running"})
    canceled = platform.levante("execution", "cancel", sleeper)
    assert canceled.returncode == 0 and "cancel requested" in canceled.stdout
    assert _status(platform, sleeper, {"canceled", "failed", "succeeded"})["status"] == \
        "canceled"
    timed = platform.levante("run", "core.local", "cmd=sleep 10", "timeout=1")
    assert timed.returncode == 1
    assert "status: timeout" in timed.stdout
    follower = platform.levante(
        "run", "core.local", "cmd=echo a; sleep 0.5; echo b", "--async").stdout.strip()
    tail = platform.levante("execution", "tail", follower)
    assert tail.returncode == 0
    assert tail.stdout == "a\nb\n"
    assert "succeeded" in tail.stderr


def test_packs_and_api_keys(shared_sqlite_platform: Platform) -> None:
    platform = shared_sqlite_platform
    registered = platform.levante("pack", "register", "testpack")
    assert registered.returncode == 1  # one action file is invalid
    assert "Registered 2 action(s) from pack(s) testpack" in registered.stdout
    assert "broken.yaml" in registered.stdout and "no-such-runner" in registered.stdout
    packs = platform.levante("pack", "list")
    assert "testpack" in packs.stdout and "core" in packs.stdout
    created = json.loads(platform.levante("apikey", "create", "-u", "carol", "-j").stdout)
    assert created["user"] == "carol" and created["key"]
    listed = platform.levante("apikey", "list")
    assert "carol" in listed.stdout and created["key"] not in listed.stdout
    deleted = platform.levante("apikey", "delete", created["id"])
    assert deleted.returncode == 0
    with platform.client() as client:
        assert client.get(f"/apikeys/{created['id']}").status_code == 404
    actions = platform.levante("action", "list", "--pack", "core")
    assert "core.local" in actions.stdout and "core.noop" in actions.stdout
    action = json.loads(platform.levante("action", "get", "core.local", "-j").stdout)
    assert action["runner_type"] == "local-shell-cmd"


def test_killed_runner_leaves_its_execution_abandoned(platform: Platform) -> None:
    sleeper = platform.levante("run", "core.local", "cmd=sleep 30", "--async").stdout.strip()
    _status(platform, sleeper, {"running"})
    platform.stop("runner", signal.SIGKILL)
    platform.start("runner")
    doc = _status(platform, sleeper, {"abandoned", "succeeded", "failed"})
    assert doc["status"] == "abandoned"
    assert "died" in doc["result"]["error"]
    with platform.client() as client:
        after = client.post("/executions", json={"action": "core.noop"}).json()
    assert _status(platform, after["id"], {"succeeded", "failed"})["status"] == "succeeded"


def test_actions_explain_themselves(shared_sqlite_platform: Platform) -> None:
    platform = shared_sqlite_platform
    ran = json.loads(platform.levante("execution", "list", "-j", "-n", "1000").stdout)
    helped = platform.levante("run", "core.local", "-h")
    assert helped.returncode == 0, helped.stderr
    text = helped.stdout
    assert text.startswith("core.local: ")
    required, optional = text.split("Optional parameters:")
    assert "Required parameters:\n  cmd\n" in required and "Type: string" in required
    # the runner's parameters, merged in: defaults, types, secrets (never a default shown)
    assert "  timeout\n      Seconds" in optional and "Type: integer\n      Default: 60" in optional
    assert "  sudo_password\n" in optional and "Secret:" in optional
    assert "  sudo\n" not in text  # immutable: cannot be given
    as_json = json.loads(platform.levante("run", "core.local", "-h", "-j").stdout)
    assert as_json["parameters"]["timeout"] == {
        "type": "integer", "default": 60,
        "description": "Seconds the action may run before it is killed."}
    # -h never runs the action
    assert json.loads(platform.levante("execution", "list", "-j", "-n", "1000").stdout) == ran
    plain = platform.levante("run", "--help")
    assert plain.returncode == 0 and "Usage: levante run" in plain.stdout
    missing = platform.levante("run")
    assert missing.returncode == 2 and "Missing argument 'REF'" in missing.stderr

    got = platform.levante("action", "get", "core.local")
    assert got.returncode == 0, got.stderr
    for line in ("  cmd (type string, required)", "  timeout (type integer, default 60)",
                 "  sudo (type boolean, default false, immutable)",
                 "  sudo_password (type string, secret)", "  kwarg_op (type string, "):
        assert line in got.stdout, got.stdout
    got_json = json.loads(platform.levante("action", "get", "core.local", "-j").stdout)
    assert {"cmd", "cwd", "env", "kwarg_op", "sudo", "sudo_password",
            "timeout"} == set(got_json["parameters"])

    for command in (["run", "core.lcoal", "cmd=true"], ["action", "get", "core.lcoal"],
                    ["run", "locl", "-h"]):
        typo = platform.levante(*command)
        assert typo.returncode == 2, typo
        assert "cannot be found. Did you mean core.local" in typo.stderr, typo.stderr
    nothing = platform.levante("run", "zzzz.qqqq")
    assert "cannot be found. See `levante action list`." in nothing.stderr


def test_list_hides_children_and_keeps_ids_whole(shared_sqlite_platform: Platform) -> None:
    platform = shared_sqlite_platform
    with platform.client() as client:
        parent = client.post("/executions", json={"action": "core.noop"}).json()["id"]
        child = client.post("/executions", json={"action": "core.noop",
                                                 "parent": parent}).json()["id"]
    _status(platform, child, {"succeeded"})
    top = platform.levante("execution", "list")
    assert parent in top.stdout and child not in top.stdout
    assert "children of workflows hidden; -l shows them" in top.stderr
    everything = platform.levante("execution", "list", "-l")
    assert parent in everything.stdout and child in everything.stdout
    assert "hidden" not in everything.stderr
    children = json.loads(platform.levante("execution", "list", "--parent", parent,
                                           "-j").stdout)
    assert [c["id"] for c in children] == [child]
    # every command that takes an id takes it as the list prints it
    for command in (["execution", "get", child, "-j"], ["execution", "tail", child, "-j"],
                    ["execution", "cancel", child, "-j"]):
        done = platform.levante(*command)
        assert done.returncode == 0, (command, done.stderr)
