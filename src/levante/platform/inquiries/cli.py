"""`levante inquiry list|get|respond`: inquiries from the shell, shaped as `st2 inquiry`.

`respond` takes the whole answer as JSON (`-r`), or asks for each property of the
inquiry's schema in turn on a terminal (as st2's interactive form does).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from levante.cli.client import client_options, connect, echo_json, show_record, show_table
from levante.cli.common import fail

LIST_COLUMNS = ["id", "roles", "users", "route", "ttl"]
GET_FIELDS = ["id", "roles", "users", "route", "ttl", "schema"]
_TYPES: dict[str, Any] = {"integer": int, "number": float, "string": str}


@click.group("inquiry")
def inquiry_group() -> None:
    """Inquiries (core.ask): list those waiting, show one, answer one."""


@inquiry_group.command("list")
@click.option("-n", "--last", default=50, show_default=True,
              help="Show the N most recent (-1: all).")
@client_options
def inquiry_list(last: int, as_json: bool, api_url: str | None, config_file: str | None,
                 config_dir: str | None) -> None:
    """List the inquiries waiting for an answer."""
    with connect(api_url, config_file, config_dir) as client:
        rows = client.get("/inquiries", limit=last)
    if as_json:
        echo_json(rows)
    elif not rows:
        click.echo("No inquiry waits for an answer.")
    else:
        show_table(rows, LIST_COLUMNS)


@inquiry_group.command("get")
@click.argument("inquiry_id")
@client_options
def inquiry_get(inquiry_id: str, as_json: bool, api_url: str | None,
                config_file: str | None, config_dir: str | None) -> None:
    """Show an inquiry that waits for an answer, with its schema."""
    with connect(api_url, config_file, config_dir) as client:
        found = client.get(f"/inquiries/{inquiry_id}")
    if as_json:
        echo_json(found)
    else:
        show_record(found, GET_FIELDS)


def _ask(name: str, spec: Any) -> Any:
    """One property, prompted for by its type (JSON text for objects and arrays)."""
    spec = spec if isinstance(spec, dict) else {}
    label = spec.get("description") or name
    kind = spec.get("type")
    if kind == "boolean":
        return click.confirm(f"{label} ({name})", default=spec.get("default"))
    if kind in _TYPES:
        return click.prompt(f"{label} ({name})", type=_TYPES[kind],
                            default=spec.get("default"))
    text = click.prompt(f"{label} ({name}, JSON)")
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"{name}: not valid JSON: {exc}")


def _interactive(schema: Any) -> dict[str, Any]:
    if not sys.stdin.isatty():
        fail("give the answer with -r '<json>' (no terminal to ask on)")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        fail("the inquiry's schema names no properties to ask for: use -r '<json>'")
    return {name: _ask(name, spec) for name, spec in properties.items()}


@inquiry_group.command("respond")
@click.argument("inquiry_id")
@click.option("-r", "--response", "response_text", default=None,
              help="The whole answer as a JSON object (else asked property by property).")
@client_options
def inquiry_respond(inquiry_id: str, response_text: str | None, as_json: bool,
                    api_url: str | None, config_file: str | None,
                    config_dir: str | None) -> None:
    """Answer an inquiry; its workflow goes on."""
    with connect(api_url, config_file, config_dir) as client:
        if response_text is not None:
            try:
                response = json.loads(response_text)
            except ValueError as exc:
                fail(f"--response is not valid JSON: {exc}")
        else:
            response = _interactive(client.get(f"/inquiries/{inquiry_id}").get("schema"))
        answered = client.put(f"/inquiries/{inquiry_id}",
                              {"id": inquiry_id, "response": response})
    if as_json:
        echo_json(answered)
    else:
        click.echo(f"Response accepted for inquiry {inquiry_id}.")


def register(group: click.Group) -> None:
    group.add_command(inquiry_group)
