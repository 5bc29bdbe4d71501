"""``levante execution tail ID``: an execution's output (and its workflow's children's), live
from ``/v1/stream``.

The stream is opened first, then the output already written is printed, so no line
falls between the two (a line seen both ways is printed once, by its ``seq``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import httpx

from levante.cli.client import client_options, connect
from levante.cli.common import fail
from levante.platform.core.api_client import PlatformClient
from levante.platform.stream.events import DONE, OUTPUT_EVENT

UPDATE = "st2.execution__update"


class _Tail:
    def __init__(self, root: str, as_json: bool) -> None:
        self.root = root
        self.as_json = as_json
        self.family = {root}
        self.printed: dict[str, int] = {}  # execution id -> last seq printed

    def line(self, execution_id: str, seq: int, stream: str, data: str) -> None:
        if seq <= self.printed.get(execution_id, -1):
            return
        self.printed[execution_id] = seq
        if self.as_json:
            click.echo(json.dumps({"execution_id": execution_id, "seq": seq,
                                   "stream": stream, "data": data}))
            return
        out = sys.stderr if stream == "stderr" else sys.stdout
        out.write(data)
        out.flush()

    def backlog(self, client: PlatformClient, execution_id: str) -> None:
        chunk = client.get(f"/executions/{execution_id}/output", format="json")
        for line in chunk["lines"]:
            self.line(execution_id, int(line["seq"]), line["stream"], line["data"])

    def event(self, client: PlatformClient, name: str, body: dict[str, Any]) -> str | None:
        """Handle one event; the root's final status when it has ended."""
        if name == OUTPUT_EVENT:
            execution_id = str(body.get("execution_id"))
            if execution_id in self.family:
                seq = int(str(body.get("id", "")).rsplit("-", 1)[-1] or -1)
                self.line(execution_id, seq, str(body.get("output_type")),
                          str(body.get("data", "")))
            return None
        execution_id = str(body.get("id"))
        parent = body.get("parent") or ((body.get("context") or {}).get("parent") or {}
                                        ).get("execution_id")
        if parent in self.family and execution_id not in self.family:
            self.family.add(execution_id)
            self.backlog(client, execution_id)
        if execution_id == self.root and body.get("status") in DONE:
            return str(body["status"])
        return None


def follow(client: PlatformClient, execution_id: str, as_json: bool) -> str:
    """Print the output until the execution ends; its final status."""
    tail = _Tail(execution_id, as_json)
    first = client.get(f"/executions/{execution_id}")
    if first["status"] in DONE:
        tail.backlog(client, execution_id)
        return str(first["status"])
    params = {"events": f"{UPDATE},{OUTPUT_EVENT}", "end_event": UPDATE,
              "end_execution_id": execution_id}
    timeout = httpx.Timeout(30.0, read=None)
    with client.http.stream("GET", "/stream", params=params, timeout=timeout) as response:
        if response.status_code != 200:
            response.read()
            fail(f"the event stream answered {response.status_code}: {response.text[:200]}")
        tail.backlog(client, execution_id)
        for child in client.get(f"/executions/{execution_id}/children"):
            tail.family.add(str(child["id"]))
            tail.backlog(client, str(child["id"]))
        again = client.get(f"/executions/{execution_id}")
        if again["status"] in DONE:  # ended before the stream opened
            tail.backlog(client, execution_id)
            return str(again["status"])
        name = ""
        for raw in response.iter_lines():
            if raw.startswith("event: "):
                name = raw[7:]
            elif raw.startswith("data: "):
                ended = tail.event(client, name, json.loads(raw[6:]))
                if ended:
                    return ended
    # The stream closed without the end (the API stopped): say where things are.
    return str(client.get(f"/executions/{execution_id}")["status"])


@click.command("tail")
@click.argument("execution_id")
@client_options
def execution_tail(execution_id: str, as_json: bool, api_url: str | None,
                   config_file: str | None, config_dir: str | None) -> None:
    """Follow an execution's output, and its workflow's children's, until it ends."""
    with connect(api_url, config_file, config_dir) as client:
        try:
            status = follow(client, execution_id, as_json)
        except httpx.HTTPError as exc:
            fail(f"the event stream of {client.base_url}/v1 was lost ({exc})")
    if not as_json:
        click.echo(f"Execution {execution_id} has ended: {status}.", err=True)


def register(group: click.Group) -> None:
    execution = group.commands.get("execution")
    if isinstance(execution, click.Group):
        execution.add_command(execution_tail)
