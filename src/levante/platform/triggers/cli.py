"""`levante trigger`: trigger types and trigger instances from the shell, over the API
(``list``: the trigger types, as `st2 trigger list`; ``instances``, ``instance`` and
``re-emit``: as `st2 trigger-instance list|get|re-emit`)."""

from __future__ import annotations

import click

from levante.cli.client import client_options, connect, echo_json, show_record, show_table

TYPE_COLUMNS = ["ref", "pack", "description"]
INSTANCE_COLUMNS = ["id", "trigger", "occurrence_time", "status"]
INSTANCE_FIELDS = ["id", "trigger", "occurrence_time", "status", "payload"]


@click.group("trigger")
def trigger_group() -> None:
    """Trigger types and trigger instances: list, instances, instance, re-emit."""


@trigger_group.command("list")
@click.option("-p", "--pack", default=None, help="Only the trigger types of this pack.")
@click.option("-n", "--last", "limit", type=int, default=-1, show_default=True,
              help="At most this many (-1: all).")
@client_options
def trigger_list(pack: str | None, limit: int, as_json: bool, api_url: str | None,
                 config_file: str | None, config_dir: str | None) -> None:
    """List trigger types (what rules can listen to)."""
    with connect(api_url, config_file, config_dir) as client:
        rows, _ = client.get_with_total("/triggertypes", pack=pack, limit=limit)
    if as_json:
        echo_json(rows)
    elif not rows:
        click.echo("No trigger types.")
    else:
        show_table(rows, TYPE_COLUMNS)


@trigger_group.command("instances")
@click.option("-t", "--trigger", default=None, help="Only the instances of this trigger.")
@click.option("-s", "--status", default=None,
              help="pending, processing, processed or processing_failed.")
@click.option("--after", default=None, help="Only those after this time (ISO 8601).")
@click.option("--before", default=None, help="Only those before this time (ISO 8601).")
@click.option("-n", "--last", "limit", type=int, default=50, show_default=True,
              help="At most this many, newest first (-1: all).")
@client_options
def trigger_instances(trigger: str | None, status: str | None, after: str | None,
                      before: str | None, limit: int, as_json: bool, api_url: str | None,
                      config_file: str | None, config_dir: str | None) -> None:
    """List trigger instances (events), newest first."""
    with connect(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total(
            "/triggerinstances", trigger=trigger, status=status, timestamp_gt=after,
            timestamp_lt=before, limit=limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No trigger instances.")
        return
    show_table(rows, INSTANCE_COLUMNS, whole=("id", "trigger"))
    if total is not None and total > len(rows):
        click.echo(f"({len(rows)} of {total}; -n -1 for all)")


@trigger_group.command("instance")
@click.argument("instance_id")
@client_options
def trigger_instance(instance_id: str, as_json: bool, api_url: str | None,
                     config_file: str | None, config_dir: str | None) -> None:
    """Show a trigger instance with its payload."""
    with connect(api_url, config_file, config_dir) as client:
        doc = client.get(f"/triggerinstances/{instance_id}")
    if as_json:
        echo_json(doc)
    else:
        show_record(doc, INSTANCE_FIELDS)


@trigger_group.command("re-emit")
@click.argument("instance_id")
@client_options
def trigger_re_emit(instance_id: str, as_json: bool, api_url: str | None,
                    config_file: str | None, config_dir: str | None) -> None:
    """Record the instance again (same trigger and payload) for the rules to match."""
    with connect(api_url, config_file, config_dir) as client:
        doc = client.post(f"/triggerinstances/{instance_id}/re_emit", {})
    if as_json:
        echo_json(doc)
    else:
        click.echo(f"Trigger instance {instance_id} re-emitted as {doc.get('id')}.")


def register(group: click.Group) -> None:
    group.add_command(trigger_group)
