"""Helpers of the handshake tests: rows as the engine and the platform write them, a
configuration for a test database, and ASGI apps served on loopback in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine, insert, select

from levante.config import Config, load_config
from levante.engine.models import engine_events, task_executions, workflow_executions
from levante.platform.core import store as platform_store


def write_config(tmp_path: Path, url: str, **sections: dict[str, Any]) -> Path:
    """A levante.conf for `url` with a data folder in tmp_path; returns its path."""
    lines = ["[core]", f"data_dir = {tmp_path / 'data'}", "", "[database]",
             f"connection = {url}", ""]
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {v}" for k, v in options.items())
        lines.append("")
    path = tmp_path / "levante.conf"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def config_for(tmp_path: Path, url: str, **sections: dict[str, Any]) -> Config:
    return load_config(str(write_config(tmp_path, url, **sections)), environ={})


def now() -> datetime:
    return datetime.now(UTC)


def engine_workflow(db: Engine, params: dict[str, Any], state: str = "RUNNING",
                    output: dict[str, Any] | None = None, root: str | None = None) -> str:
    """A workflow execution row as the engine's runtime writes it."""
    wf_id = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(insert(workflow_executions).values(
            id=wf_id, name="wb.wf", description="", workflow_name="wb.wf",
            workflow_namespace="", workflow_id=None, spec={}, state=state, state_info=None,
            tags=[], params=params, input={}, output=output or {}, context={},
            runtime_context={}, accepted=False, task_execution_id=None,
            parent_execution_id=None, root_execution_id=root or wf_id, project_id="<default>",
            created_at=now(), updated_at=now(),
        ))
    return wf_id


def engine_task(db: Engine, wf_id: str, name: str, state: str = "SUCCESS") -> str:
    task_id = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(insert(task_executions).values(
            id=task_id, name=name, workflow_execution_id=wf_id, root_execution_id=wf_id,
            workflow_name="wb.wf", workflow_namespace="", workflow_id=None, type="ACTION",
            state=state, state_info=None, tags=[], in_context={}, published={"x": name},
            result={"ok": True}, runtime_context={}, processed=True, has_next_tasks=False,
            error_handled=False, unique_key=None, started_at=now(), finished_at=now(),
            project_id="<default>", created_at=now(), updated_at=now(),
        ))
    return task_id


def engine_event(db: Engine, wf_id: str, event: str, task_id: str | None = None,
                 root: str | None = None) -> int:
    """An outbox event as the runtime writes it (in its own transaction here)."""
    with db.begin() as conn:
        result = conn.execute(insert(engine_events).values(
            execution_id=wf_id, root_execution_id=root or wf_id, task_execution_id=task_id,
            event=event, payload={"event": event}, created_at=now(), delivered_at=None,
            attempts=0, next_attempt_at=now(), last_error=None,
        ))
        return int(result.inserted_primary_key[0])


def platform_execution(db: Engine, wf_id: str | None = None, status: str = "running",
                       runner_type: str = "mistral-v2", parent: str | None = None) -> str:
    """A platform execution of a workflow action (as the workflow runner leaves it)."""
    ex_id = platform_store.new_id()
    stamp = now()
    context: dict[str, Any] = {"user": "admin"}
    if wf_id:
        context["mistral"] = {"execution_id": wf_id}
    platform_store.insert_execution(db, {
        "id": ex_id, "action_ref": "examples.wf",
        "action": {"ref": "examples.wf", "pack": "examples", "name": "wf",
                   "runner_type": runner_type, "parameters": {}},
        "runner": {"name": runner_type}, "status": status, "parameters": {},
        "context": context, "result": None, "parent": parent, "user": "admin",
        "timeout": 600, "start_timestamp": stamp,
        "end_timestamp": stamp if status in ("succeeded", "failed") else None,
        "log": [{"timestamp": platform_store.iso(stamp), "status": status}],
        "claimed_by": None, "lease_until": None,
    })
    return ex_id


def platform_row(db: Engine, ex_id: str) -> dict[str, Any]:
    row = platform_store.get_execution(db, ex_id)
    assert row is not None
    return row


def rows(db: Engine, table: Any) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


class ServedApp:
    """An ASGI app served by uvicorn on 127.0.0.1:`port` in a background thread."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedApp:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: bool(self.server and self.server.started), 5.0)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(5.0)


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError("condition not met in time")


class Background:
    """A service's `run(stopping)` in its own event loop thread."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def runner() -> None:
            self.stopping = asyncio.Event()
            await self.service.run(self.stopping)

        try:
            self.loop.run_until_complete(runner())
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self) -> Background:
        self.thread.start()
        wait_for(lambda: self.stopping is not None, 5.0)
        return self

    def stop(self) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10.0)
        assert self.error is None, self.error
