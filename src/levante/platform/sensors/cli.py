"""`levante sensor list|get|enable|disable`: pack sensors from the shell, shaped as
`st2 sensor`, over the API. A sensor container notices enable and disable within its
``renew_interval``."""

from __future__ import annotations

from typing import Any

import click

from levante.cli.client import client_options, connect, echo_json, show_record, show_table

LIST_COLUMNS = ["ref", "pack", "description", "enabled"]
GET_FIELDS = ["id", "uid", "ref", "pack", "name", "description", "enabled", "poll_interval",
              "entry_point", "artifact_uri", "trigger_types", "metadata_file"]


@click.group("sensor")
def sensor_group() -> None:
    """Pack sensors: list, show, enable, disable."""


@sensor_group.command("list")
@click.option("-p", "--pack", default=None, help="Only the sensors of this pack.")
@click.option("-n", "--last", "limit", type=int, default=-1, show_default=True,
              help="At most this many sensors (-1: all).")
@client_options
def sensor_list(pack: str | None, limit: int, as_json: bool, api_url: str | None,
                config_file: str | None, config_dir: str | None) -> None:
    """List the registered sensors, by pack and name."""
    with connect(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total("/sensortypes", pack=pack, limit=limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No sensors." if not pack else f"No sensors in pack {pack!r}.")
        return
    show_table(rows, LIST_COLUMNS, whole=("ref",))
    if total is not None and total > len(rows):
        click.echo(f"({len(rows)} of {total} sensors; -n -1 for all)")


@sensor_group.command("get")
@click.argument("ref_or_id")
@client_options
def sensor_get(ref_or_id: str, as_json: bool, api_url: str | None, config_file: str | None,
               config_dir: str | None) -> None:
    """Show a sensor (`pack.SensorClass` or its id)."""
    with connect(api_url, config_file, config_dir) as client:
        doc = client.get(f"/sensortypes/{ref_or_id}")
    if as_json:
        echo_json(doc)
    else:
        show_record(doc, GET_FIELDS)


def _set_enabled(ref_or_id: str, enabled: bool, as_json: bool, api_url: str | None,
                 config_file: str | None, config_dir: str | None) -> None:
    with connect(api_url, config_file, config_dir) as client:
        doc: dict[str, Any] = client.put(f"/sensortypes/{ref_or_id}", {"enabled": enabled})
    if as_json:
        echo_json(doc)
    else:
        click.echo(f"Sensor {doc['ref']} {'enabled' if enabled else 'disabled'}.")


@sensor_group.command("enable")
@click.argument("ref_or_id")
@client_options
def sensor_enable(ref_or_id: str, as_json: bool, api_url: str | None,
                  config_file: str | None, config_dir: str | None) -> None:
    """Enable a sensor: a sensor container starts it."""
    _set_enabled(ref_or_id, True, as_json, api_url, config_file, config_dir)


@sensor_group.command("disable")
@click.argument("ref_or_id")
@client_options
def sensor_disable(ref_or_id: str, as_json: bool, api_url: str | None,
                   config_file: str | None, config_dir: str | None) -> None:
    """Disable a sensor: its container stops it (its cleanup runs)."""
    _set_enabled(ref_or_id, False, as_json, api_url, config_file, config_dir)


def register(group: click.Group) -> None:
    group.add_command(sensor_group)
