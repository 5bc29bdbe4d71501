"""`levante apikey create|list|delete`."""

from __future__ import annotations

import json
from typing import Any

import click

from levante.cli.client import add_group, client_options, connect, echo_json, show_table
from levante.cli.common import fail


@click.group("apikey")
def apikey_group() -> None:
    """API keys: create (the key is shown once), list, delete."""


@apikey_group.command("create")
@click.option("-u", "--user", default=None, help="User the key acts as (default: yours).")
@click.option("-m", "--metadata", default=None, help="JSON object kept with the key.")
@client_options
def apikey_create(user: str | None, metadata: str | None, as_json: bool,
                  api_url: str | None, config_file: str | None,
                  config_dir: str | None) -> None:
    """Create an API key and print it (it cannot be shown again)."""
    body: dict[str, Any] = {}
    if user:
        body["user"] = user
    if metadata:
        try:
            body["metadata"] = json.loads(metadata)
        except ValueError as exc:
            fail(f"--metadata is not valid JSON: {exc}")
    with connect(api_url, config_file, config_dir) as client:
        created = client.post("/apikeys", body)
    if as_json:
        echo_json(created)
    else:
        click.echo(created["key"])


@apikey_group.command("list")
@client_options
def apikey_list(as_json: bool, api_url: str | None, config_file: str | None,
                config_dir: str | None) -> None:
    """List API keys (their hashes, never the keys)."""
    with connect(api_url, config_file, config_dir) as client:
        rows = client.get("/apikeys")
    if as_json:
        echo_json(rows)
    else:
        show_table(rows, ["id", "user", "created_at", "enabled", "key_hash"])


@apikey_group.command("delete")
@click.argument("key_id")
@client_options
def apikey_delete(key_id: str, as_json: bool, api_url: str | None,
                  config_file: str | None, config_dir: str | None) -> None:
    """Delete an API key by id (or by the key itself)."""
    with connect(api_url, config_file, config_dir) as client:
        client.delete(f"/apikeys/{key_id}")
    if as_json:
        echo_json({"deleted": key_id})
    else:
        click.echo(f"API key {key_id} deleted.")


def register(group: click.Group) -> None:
    add_group(group, apikey_group)
