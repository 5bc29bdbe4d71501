"""Workflow actions with platform children, end to end (engine, notifier, platform API,
runner and reporter on one database): a workflow action that starts itself (its workflow
runs the same action as a child, which launches the workflow again) stops at
`[engine] max_nesting_depth` with a clear error; a child's output with NUL bytes reaches
its workflow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from levante.platform.core.pack_registry import register_packs
from levante.platform.core.runner_service import RunnerService
from levante.platform.workflows.reports import EngineReporter
from tests.integration.handshake_launch.conftest import Loopback

PACK = {
    "pack.yaml": "name: selfpack\nversion: 0.1.0\ndescription: Starts itself.\n",
    "actions/again.yaml": ("name: again\nrunner_type: mistral-v2\n"
                           "entry_point: workflows/again.yaml\n"),
    "actions/workflows/again.yaml": ("---\nversion: '2.0'\nselfpack.again:\n  tasks:\n"
                                     "    again:\n      action: selfpack.again\n"),
    "actions/deep.yaml": "name: deep\nrunner_type: python-script\nentry_point: deep.py\n",
    "actions/deep.py": ("from levante.platform.runners.python_action import Action\n\n\n"
                        "class Deep(Action):\n    def run(self):\n        value = []\n"
                        "        for _ in range(150):\n            value = [value]\n"
                        "        return {'deep': value}\n"),
    "actions/deepout.yaml": ("name: deepout\nrunner_type: mistral-v2\n"
                             "entry_point: workflows/deepout.yaml\n"),
    "actions/workflows/deepout.yaml": ("---\nversion: '2.0'\nselfpack.deepout:\n  tasks:\n"
                                       "    deep:\n      action: selfpack.deep\n"),
    "actions/nul.yaml": "name: nul\nrunner_type: mistral-v2\nentry_point: workflows/nul.yaml\n",
    "actions/workflows/nul.yaml": (
        "---\nversion: '2.0'\nselfpack.nul:\n  output:\n    out: <% $.out %>\n  tasks:\n"
        "    say:\n      action: core.local\n      input:\n"
        "        cmd: printf 'a\\000b'\n      publish:\n        out: <% task().result.stdout %>\n"),
}


def _pack(root: Path) -> Path:
    for name, text in PACK.items():
        path = root / "selfpack" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _rows(client: httpx.Client) -> list[dict[str, Any]]:
    answer = client.get("/v1/executions", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def _start(loopback: Loopback, tmp_path: Path) -> None:
    register_packs(loopback.db, [str(_pack(tmp_path / "packs"))])
    loopback.start_engine()
    loopback.start_notifier()
    loopback.start_platform()
    loopback.start("runner", RunnerService(loopback.config, loopback.db))
    loopback.start("reporter", EngineReporter(loopback.config, loopback.db))


def _wait_done(client: httpx.Client, ex_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row: dict[str, Any] = client.get(f"/v1/executions/{ex_id}").json()
        if row["status"] in ("failed", "succeeded"):
            return row
        time.sleep(0.2)
    raise AssertionError(f"{ex_id} did not end")


def test_nul_output_of_a_child_reaches_its_workflow(loopback: Loopback, tmp_path: Path) -> None:
    """A child's stdout with a NUL byte: kept in the child's output and result, reported to
    the engine, published by the workflow; on PostgreSQL as on SQLite."""
    _start(loopback, tmp_path)
    with httpx.Client(base_url=loopback.api_url, timeout=10,
                      headers={"St2-Api-Key": loopback.key}) as client:
        made = client.post("/v1/executions", json={"action": "selfpack.nul"})
        assert made.status_code == 201, made.text
        top = _wait_done(client, made.json()["id"])
        assert top["status"] == "succeeded", top["result"]
        assert top["result"]["out"] == "a\x00b"
        child = client.get(f"/v1/executions/{top['id']}/children").json()[0]
        assert child["result"]["stdout"] == "a\x00b"
        lines = client.get(f"/v1/executions/{child['id']}/output",
                           params={"format": "json"}).json()["lines"]
        assert "".join(line["data"] for line in lines) == "a\x00b"
        assert client.get("/v1/executions").status_code == 200


def test_a_child_result_too_deep_fails_its_task_with_the_reason(
    loopback: Loopback, tmp_path: Path
) -> None:
    """The engine refuses JSON nested more than 100 levels deep: a child whose result is
    deeper fails its task with the reason, instead of leaving the workflow waiting."""
    _start(loopback, tmp_path)
    with httpx.Client(base_url=loopback.api_url, timeout=10,
                      headers={"St2-Api-Key": loopback.key}) as client:
        made = client.post("/v1/executions", json={"action": "selfpack.deepout"})
        assert made.status_code == 201, made.text
        top = _wait_done(client, made.json()["id"])
        assert top["status"] == "failed", top["result"]
        child = client.get(f"/v1/executions/{top['id']}/children").json()[0]
        assert child["status"] == "succeeded"  # the action itself did its work
        reason = str(top["result"])
        assert "cannot be passed to the workflow" in reason, reason
        assert "nested more than 100 levels deep" in reason, reason


def test_a_workflow_action_that_starts_itself_stops_at_the_limit(
    loopback: Loopback, tmp_path: Path
) -> None:
    loopback.config = loopback.config.with_overrides({("engine", "max_nesting_depth"): 4})
    _start(loopback, tmp_path)
    with httpx.Client(base_url=loopback.api_url, timeout=10,
                      headers={"St2-Api-Key": loopback.key}) as client:
        made = client.post("/v1/executions", json={"action": "selfpack.again"})
        assert made.status_code == 201, made.text
        top = _wait_done(client, made.json()["id"])
        assert top["status"] == "failed", top
        rows = _rows(client)
        # The root, then one child per level, each the parent of the next; the child that
        # would be the 5th level was refused, which failed the 4th and then every level.
        assert sorted(r["context"].get("nesting", 1) for r in rows) == [1, 2, 3, 4]
        assert all(r["status"] == "failed" for r in rows)
        reason = str(top["result"])
        assert "max_nesting_depth" in reason and "would be nested 5 levels deep" in reason, \
            reason
