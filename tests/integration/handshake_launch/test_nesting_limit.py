"""A workflow action that starts itself (its workflow runs the same action as a child on
the platform, which launches the workflow again) stops at `[engine] max_nesting_depth`
with a clear error; cancelling the tree it made cancels every level."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from levante.platform import workflow_launch
from levante.platform.engine_reporting import EngineReporter
from levante.platform.pack_registry import register_packs
from levante.platform.runner_service import RunnerService
from tests.integration.handshake_launch.conftest import Loopback

PACK = {
    "pack.yaml": "name: selfpack\nversion: 0.1.0\ndescription: Starts itself.\n",
    "actions/again.yaml": ("name: again\nrunner_type: mistral-v2\n"
                           "entry_point: workflows/again.yaml\n"),
    "actions/workflows/again.yaml": ("---\nversion: '2.0'\nselfpack.again:\n  tasks:\n"
                                     "    again:\n      action: selfpack.again\n"),
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


def test_a_workflow_action_that_starts_itself_stops_at_the_limit(
    loopback: Loopback, tmp_path: Path
) -> None:
    loopback.config = loopback.config.with_overrides({("engine", "max_nesting_depth"): 4})
    workflow_launch.configure(loopback.config, loopback.db)
    register_packs(loopback.db, [str(_pack(tmp_path / "packs"))])
    loopback.start_engine()
    loopback.start_notifier()
    loopback.start_platform()
    loopback.start("runner", RunnerService(loopback.config, loopback.db))
    loopback.start("reporter", EngineReporter(loopback.config, loopback.db))
    with httpx.Client(base_url=loopback.api_url, timeout=10,
                      headers={"St2-Api-Key": loopback.key}) as client:
        made = client.post("/v1/executions", json={"action": "selfpack.again"})
        assert made.status_code == 201, made.text
        root = made.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.get(f"/v1/executions/{root}").json()["status"] in ("failed",
                                                                       "succeeded"):
                break
            time.sleep(0.2)
        top = client.get(f"/v1/executions/{root}").json()
        assert top["status"] == "failed", top
        rows = _rows(client)
        # The root, then one child per level, each the parent of the next; the child that
        # would be the 5th level was refused, which failed the 4th and then every level.
        assert sorted(r["context"].get("nesting", 1) for r in rows) == [1, 2, 3, 4]
        assert all(r["status"] == "failed" for r in rows)
        reason = str(top["result"])
        assert "max_nesting_depth" in reason and "would be nested 5 levels deep" in reason, \
            reason
