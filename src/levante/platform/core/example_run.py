"""What `levante up` shows once everything answers: the bundled example workflow, run.

A service of `levante up` only: it waits for both APIs, runs ``examples.hello_chain``
through the platform API like any client (with the CLI's key from the data folder), waits
for its end and prints the execution, its tasks and children, and the URLs of both APIs.
Then it idles until Levante stops (a service that returns would stop the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from levante.config import Config
from levante.platform.core.auth import read_key_file

log = logging.getLogger("levante.platform.example")

EXAMPLE_REF = "examples.hello_chain"
DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
UP_TIMEOUT = 30.0
RUN_TIMEOUT = 120.0


def summary(execution: Mapping[str, Any], children: list[Mapping[str, Any]],
            api_url: str, engine_url: str) -> list[str]:
    """The lines printed about a finished example execution."""
    result = execution.get("result") if isinstance(execution.get("result"), Mapping) else {}
    assert isinstance(result, Mapping)
    mistral = (execution.get("context") or {}).get("mistral") or {}
    lines = [
        f"Example workflow {execution.get('action', {}).get('ref', EXAMPLE_REF)}: execution "
        f"{execution['id']} {execution['status']} in {execution.get('elapsed_seconds', 0):.2f}"
        f" s (engine workflow execution {mistral.get('execution_id', '?')}).",
        "  tasks:",
    ]
    for task in result.get("tasks") or []:
        lines.append(f"    {task.get('name', '?'):<12} {task.get('state', '?'):<8} "
                     f"task {task.get('id')} of workflow {task.get('workflow_execution_id')}")
    lines.append(f"  child executions: {len(children)} "
                 f"({', '.join(sorted({str(c.get('action', {}).get('ref')) for c in children}))})")
    output = {k: v for k, v in result.items() if k not in ("tasks", "extra")}
    lines.append(f"  output: {json.dumps(output, ensure_ascii=False)}")
    lines.append(f"  see it: levante execution get {execution['id']} -d")
    lines.append(f"Platform API (StackStorm v1): {api_url}/v1")
    lines.append(f"Web UI: {api_url}/ui/")
    lines.append(f"Engine API (Mistral v2): {engine_url}/v2")
    return lines


MARKER_NAME = "example_ran"


def first_start(config: Config) -> bool:
    """True until the example has been started once with this data folder."""
    return not (config.data_dir / MARKER_NAME).exists()


def not_again_line(config: Config) -> str:
    """What `levante up` says when it does not run the example (not the first start)."""
    marker = config.data_dir / MARKER_NAME
    try:
        execution_id = json.loads(marker.read_text(encoding="utf-8")).get("execution")
    except (OSError, ValueError, AttributeError):
        execution_id = None
    where = f" (execution {execution_id})" if execution_id else ""
    return (f"The example workflow {EXAMPLE_REF} ran on the first start{where}; "
            f"`levante up --example` or `levante run {EXAMPLE_REF}` runs it again.")


def _mark(config: Config, execution_id: str) -> None:
    marker = config.data_dir / MARKER_NAME
    with contextlib.suppress(OSError):
        marker.write_text(json.dumps({"execution": execution_id, "at": time.time()}) + "\n",
                          encoding="utf-8")


class ExampleRun:
    """Runs the example once both APIs answer, prints what happened, then idles."""

    def __init__(self, config: Config, echo: Callable[[str], None] | None = None,
                 ref: str = EXAMPLE_REF, after: list[str] | None = None) -> None:
        self.name = "example-workflow"
        self.config = config
        self.api_url = config.public_url("api")
        self.engine_url = config.public_url("engine")
        self.ref = ref
        self.echo = echo or print
        self.lines: list[str] = []
        self.after = list(after or [])

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            self.lines = await self._example(stopping)
        except Exception as exc:  # never stop Levante because the example did not run
            self.lines = [f"The example workflow {self.ref} did not run: {exc}"]
        for line in self.lines + (self.after if self.lines else []):
            self.echo(line)
        await stopping.wait()

    async def _example(self, stopping: asyncio.Event) -> list[str]:
        key = read_key_file(self.config.data_dir)
        headers = {"St2-Api-Key": key} if key else {}
        async with httpx.AsyncClient(base_url=f"{self.api_url}/v1", headers=headers,
                                     timeout=10.0) as client:
            await self._wait_up(client, stopping)
            if stopping.is_set():
                return []
            answer = await client.post("/executions", json={"action": self.ref})
            if answer.status_code != 201:
                return [f"The example workflow {self.ref} was refused: "
                        f"{answer.json().get('faultstring', answer.text)}"]
            execution = answer.json()
            _mark(self.config, execution["id"])
            deadline = time.monotonic() + RUN_TIMEOUT
            delay = 0.02
            while execution["status"] not in DONE and time.monotonic() < deadline:
                if stopping.is_set():
                    return []
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.5)
                execution = (await client.get(f"/executions/{execution['id']}")).json()
            children = (await client.get(f"/executions/{execution['id']}/children")).json()
        return summary(execution, children if isinstance(children, list) else [],
                       self.api_url, self.engine_url)

    async def _wait_up(self, client: httpx.AsyncClient, stopping: asyncio.Event) -> None:
        deadline = time.monotonic() + UP_TIMEOUT
        while not stopping.is_set():
            try:
                await client.get("/openapi.json")
                await client.get(f"{self.engine_url}/v2")
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the APIs did not answer within "
                                       f"{UP_TIMEOUT:g} s") from None
                await asyncio.sleep(0.05)


def example_services(config: Config, echo: Callable[[str], None] | None = None,
                     after: list[str] | None = None) -> list[ExampleRun]:
    return [ExampleRun(config, echo, after=after)]
