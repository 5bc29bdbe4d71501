"""`levante rule`: rules from the shell, shaped like `st2 rule`, over the API (list, get,
create from a YAML or JSON file, enable, disable, delete) and `levante rule enforcements`
(what matched, and the execution each match started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from levante.cli.client import client_options, connect, echo_json, show_record, show_table
from levante.cli.common import fail

COLUMNS = ["ref", "pack", "enabled", "trigger.type", "action.ref", "description"]
FIELDS = ["id", "ref", "pack", "name", "description", "enabled", "trigger", "criteria",
          "action", "context", "metadata_file"]
ENFORCEMENT_COLUMNS = ["id", "rule.ref", "trigger_instance_id", "execution_id", "status",
                       "enforced_at", "failure_reason"]


@click.group("rule")
def rule_group() -> None:
    """Rules: list, get, create, enable, disable, delete; their enforcements."""


@rule_group.command("list")
@click.option("-p", "--pack", default=None, help="Only the rules of this pack.")
@click.option("--enabled/--disabled", "enabled", default=None,
              help="Only enabled (or disabled) rules.")
@click.option("-n", "--last", "limit", type=int, default=50, show_default=True,
              help="At most this many rules (-1: all).")
@client_options
def rule_list(pack: str | None, enabled: bool | None, limit: int, as_json: bool,
              api_url: str | None, config_file: str | None, config_dir: str | None) -> None:
    """List rules, by ref."""
    with connect(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total(
            "/rules", pack=pack, limit=limit,
            enabled=None if enabled is None else str(enabled).lower())
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No rules.")
        return
    show_table(rows, COLUMNS)
    if total is not None and total > len(rows):
        click.echo(f"({len(rows)} of {total} rules; -n -1 for all)")


@rule_group.command("get")
@click.argument("ref")
@client_options
def rule_get(ref: str, as_json: bool, api_url: str | None, config_file: str | None,
             config_dir: str | None) -> None:
    """Show a rule (by ref or id)."""
    with connect(api_url, config_file, config_dir) as client:
        doc = client.get(f"/rules/{ref}")
    if as_json:
        echo_json(doc)
    else:
        show_record(doc, FIELDS)


def _read(file: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"{file}: cannot be read as YAML or JSON ({exc})")
    if not isinstance(data, dict):
        fail(f"{file}: a rule is an object (name, trigger, criteria, action)")
    return data


@rule_group.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@client_options
def rule_create(file: Path, as_json: bool, api_url: str | None, config_file: str | None,
                config_dir: str | None) -> None:
    """Create a rule from a YAML or JSON file (as a pack's rules/*.yaml)."""
    with connect(api_url, config_file, config_dir) as client:
        doc = client.post("/rules", _read(file))
    if as_json:
        echo_json(doc)
    else:
        show_record(doc, FIELDS)


def _set_enabled(ref: str, enabled: bool, as_json: bool, api_url: str | None,
                 config_file: str | None, config_dir: str | None) -> None:
    with connect(api_url, config_file, config_dir) as client:
        doc = client.get(f"/rules/{ref}")
        doc = client.put(f"/rules/{doc['id']}", {**doc, "enabled": enabled})
    if as_json:
        echo_json(doc)
    else:
        click.echo(f'Rule "{doc["ref"]}" {"enabled" if enabled else "disabled"}.')


@rule_group.command("enable")
@click.argument("ref")
@client_options
def rule_enable(ref: str, as_json: bool, api_url: str | None, config_file: str | None,
                config_dir: str | None) -> None:
    """Enable a rule: its trigger's instances are matched again."""
    _set_enabled(ref, True, as_json, api_url, config_file, config_dir)


@rule_group.command("disable")
@click.argument("ref")
@client_options
def rule_disable(ref: str, as_json: bool, api_url: str | None, config_file: str | None,
                 config_dir: str | None) -> None:
    """Disable a rule: it matches nothing until enabled."""
    _set_enabled(ref, False, as_json, api_url, config_file, config_dir)


@rule_group.command("delete")
@click.argument("ref")
@client_options
def rule_delete(ref: str, as_json: bool, api_url: str | None, config_file: str | None,
                config_dir: str | None) -> None:
    """Delete a rule (and its trigger, when no other rule uses it)."""
    del as_json
    with connect(api_url, config_file, config_dir) as client:
        doc = client.get(f"/rules/{ref}")
        client.request("DELETE", f"/rules/{doc['id']}")
    click.echo(f'Deleted rule "{doc["ref"]}".')


@rule_group.command("enforcements")
@click.option("-r", "--rule", "rule_ref", default=None, help="Only this rule's (a ref).")
@click.option("-e", "--execution", default=None, help="Only the one that started this.")
@click.option("-t", "--trigger-instance", default=None,
              help="Only those of this trigger instance.")
@click.option("-n", "--last", "limit", type=int, default=50, show_default=True,
              help="At most this many, newest first (-1: all).")
@client_options
def rule_enforcements(rule_ref: str | None, execution: str | None,
                      trigger_instance: str | None, limit: int, as_json: bool,
                      api_url: str | None, config_file: str | None,
                      config_dir: str | None) -> None:
    """List rule enforcements: each match of a rule, with its execution or why none."""
    with connect(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total(
            "/ruleenforcements", rule_ref=rule_ref, execution=execution,
            trigger_instance=trigger_instance, limit=limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No rule enforcements.")
        return
    show_table(rows, ENFORCEMENT_COLUMNS, whole=("id", "rule.ref", "trigger_instance_id",
                                                 "execution_id"))
    if total is not None and total > len(rows):
        click.echo(f"({len(rows)} of {total}; -n -1 for all)")


def register(group: click.Group) -> None:
    group.add_command(rule_group)
