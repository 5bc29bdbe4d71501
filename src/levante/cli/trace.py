"""`levante execution trace <id>`: the story of an execution, read from the database.

Launch, each task event, completion, and each delivery of each event with its attempts
and timings. The id is a platform execution id or an engine workflow execution id. It
reads the tables of both services, so it needs the database both use (embedded setups).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from sqlalchemy import Engine

from levante.cli.common import config_options, fail, get_config, open_database
from levante.contract.events import WORKFLOW_PREFIX, word_of
from levante.engine.store import outbox
from levante.platform.workflows import store as ts


def _aware(value: Any) -> datetime | None:
    return outbox.aware(value) if isinstance(value, datetime) else None


def _iso(value: Any) -> str | None:
    stamp = _aware(value)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z") if stamp else None


def _ms(later: Any, earlier: Any) -> float | None:
    a, b = _aware(later), _aware(earlier)
    if a is None or b is None:
        return None
    return round((a - b).total_seconds() * 1000, 1)


def build_trace(db: Engine, ident: str) -> dict[str, Any]:
    """Everything the trace prints, as plain data; LookupError when the id is unknown."""
    story: dict[str, Any] = {"id": ident, "platform": None, "workflow": None, "events": []}
    with db.connect() as conn:
        platform = ts.execution_story(conn, ident)
        wf_id: str | None = ident
        if platform is not None:
            link = ts.link_of(conn, ident)
            mistral = (platform.get("context") or {}).get("mistral") or {}
            wf_id = (link or {}).get("workflow_execution_id") or mistral.get("execution_id")
            tracked = ts.entry(conn, ident)
            story["platform"] = {
                "id": platform["id"], "action": platform["action_ref"],
                "status": platform["status"], "log": platform.get("log") or [],
                "start": _iso(platform["start_timestamp"]),
                "end": _iso(platform["end_timestamp"]),
                "tracked": None if tracked is None else {
                    "reason": tracked["reason"], "since": _iso(tracked["created_at"]),
                    "errors": tracked["errors"], "last_error": tracked["last_error"],
                },
            }
        else:
            link = ts.link_by_workflow(conn, ident)
            if link is not None:
                other = ts.execution_story(conn, link["execution_id"])
                if other is not None:
                    story["platform"] = {
                        "id": other["id"], "action": other["action_ref"],
                        "status": other["status"], "log": other.get("log") or [],
                        "start": _iso(other["start_timestamp"]),
                        "end": _iso(other["end_timestamp"]), "tracked": None,
                    }
        workflow = outbox.workflow_row(conn, wf_id) if wf_id else None
        if workflow is None and story["platform"] is None:
            raise LookupError(f'No execution or workflow execution "{ident}" was found.')
        if workflow is None:
            return story
        story["workflow"] = {
            "id": workflow["id"], "workflow_name": workflow["workflow_name"],
            "state": workflow["state"], "state_info": workflow["state_info"],
            "created_at": _iso(workflow["created_at"]),
            "updated_at": _iso(workflow["updated_at"]),
        }
        events, deliveries = outbox.trace_rows(conn, workflow["root_execution_id"])
        names = outbox.task_names(conn, [e["task_execution_id"] for e in events
                                         if e["task_execution_id"]])
    by_event: dict[int, list[dict[str, Any]]] = {}
    for d in deliveries:
        by_event.setdefault(d["event_id"], []).append(d)
    start = events[0]["created_at"] if events else workflow["created_at"]
    for e in events:
        story["events"].append({
            "id": e["id"], "event": e["event"], "execution_id": e["execution_id"],
            "task_execution_id": e["task_execution_id"],
            "task_name": names.get(e["task_execution_id"] or ""),
            "at": _iso(e["created_at"]), "offset_ms": _ms(e["created_at"], start),
            "deliveries": [{
                "subscriber": d["subscriber"], "url": d["url"], "state": d["state"],
                "attempts": d["attempts"], "first_attempt": _iso(d["first_attempt_at"]),
                "delivered_at": _iso(d["delivered_at"]),
                "queued_ms": _ms(d["first_attempt_at"], e["created_at"]),
                "total_ms": _ms(d["delivered_at"], e["created_at"]),
                "last_status": d["last_status"], "last_error": d["last_error"],
                "last_duration_ms": d["last_duration_ms"],
            } for d in by_event.get(e["id"], [])],
        })
    return story


def render(story: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    platform = story.get("platform")
    if platform:
        lines.append(f"Execution {platform['id']} ({platform['action']}): "
                     f"{platform['status']}")
        for entry in platform["log"]:
            lines.append(f"  {entry.get('timestamp')}  status {entry.get('status')}")
        tracked = platform.get("tracked")
        if tracked:
            lines.append(f"  tracked by the results tracker since {tracked['since']} "
                         f"({tracked['reason']}, {tracked['errors']} poll error(s))")
    workflow = story.get("workflow")
    if workflow:
        lines.append(f"Workflow execution {workflow['id']} ({workflow['workflow_name']}): "
                     f"{workflow['state']}")
        if workflow.get("state_info"):
            lines.append(f"  state info: {workflow['state_info']}")
        if not story["events"]:
            lines.append("  no events recorded (the execution has no subscribers)")
    for e in story["events"]:
        if e["event"].startswith(WORKFLOW_PREFIX):
            what = f"{word_of(e['event'])} of {e['execution_id']}"
        else:
            what = f"task {e['task_name'] or '?'} ({e['task_execution_id']})"
        lines.append(f"  {e['at']}  +{e['offset_ms'] or 0:.1f} ms  {e['event']}  {what}")
        if not e["deliveries"]:
            lines.append("      (no subscriber)")
        for d in e["deliveries"]:
            if d["state"] == "delivered":
                outcome = (f"delivered after {d['attempts']} attempt(s), "
                           f"{d['total_ms']} ms after the event "
                           f"(waited {d['queued_ms']} ms, last request {d['last_duration_ms']} ms)")
            elif d["state"] == "failed":
                outcome = f"given up after {d['attempts']} attempt(s): {d['last_error']}"
            else:
                outcome = f"pending, {d['attempts']} attempt(s) so far"
                if d["last_error"]:
                    outcome += f"; last error: {d['last_error']}"
            lines.append(f"      -> {d['subscriber']} {d['url']}: {outcome}")
    return lines


@click.command("trace")
@click.argument("execution_id")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")
@config_options
def trace_cmd(execution_id: str, as_json: bool, config_file: str | None,
              config_dir: str | None) -> None:
    """Show the story of an execution: launch, task events, completion, deliveries."""
    config = get_config(config_file, config_dir)
    with open_database(config) as db:
        try:
            story = build_trace(db, execution_id)
        except LookupError as exc:
            fail(str(exc))
    if as_json:
        click.echo(json.dumps(story, indent=2))
    else:
        for line in render(story):
            click.echo(line)


@click.group("execution")
def execution_group() -> None:
    """Executions of the platform."""


execution_group.add_command(trace_cmd)


def register(group: click.Group) -> None:
    """Add `trace` to the `execution` group, whoever registered that group first."""
    existing = group.commands.get("execution")
    if isinstance(existing, click.Group) and existing is not execution_group:
        existing.add_command(trace_cmd, "trace")
    else:
        group.add_command(execution_group)
