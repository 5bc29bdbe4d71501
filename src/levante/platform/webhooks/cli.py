"""`levante webhook`: post to a webhook (a URL one, or the generic ``st2`` one with
``--trigger``) and list the webhooks rules listen on, over the API."""

from __future__ import annotations

import json
from typing import Any

import click

from levante.cli.client import client_options, connect, echo_json, show_table
from levante.cli.common import fail

COLUMNS = ["url", "ref", "description"]


@click.group("webhook")
def webhook_group() -> None:
    """Webhooks: post, list."""


def _data(data: str | None) -> Any:
    if data is None:
        return {}
    try:
        return json.loads(data)
    except ValueError as exc:
        fail(f"--data is not JSON: {exc}")


@webhook_group.command("post")
@click.argument("url")
@click.option("-d", "--data", default=None,
              help="The JSON body (with --trigger: the trigger's payload).")
@click.option("-t", "--trigger", default=None,
              help="Post to the generic webhook (st2) for this trigger ref; URL is then st2.")
@client_options
def webhook_post(url: str, data: str | None, trigger: str | None, as_json: bool,
                 api_url: str | None, config_file: str | None,
                 config_dir: str | None) -> None:
    """Post to /v1/webhooks/URL, e.g. `levante webhook post alerts -d '{"host": "web1"}'`
    or `levante webhook post st2 -t mypack.event -d '{"k": 1}'`."""
    body = _data(data)
    path = url.strip("/")
    if trigger is not None:
        if path not in ("", "st2"):
            fail("--trigger posts to the generic webhook: give st2 (or nothing) as URL.")
        path, body = "st2", {"trigger": trigger, "payload": body}
    with connect(api_url, config_file, config_dir) as client:
        answer = client.post(f"/webhooks/{path}", body)
    if as_json:
        echo_json(answer)
    else:
        click.echo(f"Accepted by webhook {path}.")


@webhook_group.command("list")
@client_options
def webhook_list(as_json: bool, api_url: str | None, config_file: str | None,
                 config_dir: str | None) -> None:
    """List the webhook URLs that rules listen on."""
    with connect(api_url, config_file, config_dir) as client:
        rows = client.get("/webhooks")
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No webhooks (a rule on core.st2.webhook makes one).")
        return
    show_table([{**r, "url": (r.get("parameters") or {}).get("url")} for r in rows],
               COLUMNS, whole=("url", "ref"))


def register(group: click.Group) -> None:
    group.add_command(webhook_group)
