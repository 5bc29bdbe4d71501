"""`levante run` (run an action, wait for it, show it; exit 1 unless it succeeded) and
`levante action list|get`."""

from __future__ import annotations

import json
from typing import Any

import click

from levante.cli.client import (
    add_group,
    cell,
    client_options,
    connect,
    echo_json,
    exit_for,
    make_console,
    parse_pairs,
    show_execution,
    show_record,
    show_table,
    wait_for,
)
from levante.platform.core.api_client import PlatformClient


def _parameters(client: PlatformClient, ref: str) -> dict[str, dict[str, Any]]:
    """Every parameter of an action: its runner's, with the action's overrides merged."""
    answer = client.get(f"/actions/views/parameters/{ref}")
    params = answer.get("parameters") if isinstance(answer, dict) else None
    return params if isinstance(params, dict) else {}


def _type_of(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    return "|".join(map(str, kind)) if isinstance(kind, list) else str(kind or "any")


def _ordered(params: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Required parameters first, then the others; each group by position, then name."""
    def key(item: tuple[str, dict[str, Any]]) -> tuple[bool, int, str]:
        name, spec = item
        position = spec.get("position")
        return (not spec.get("required"), position if isinstance(position, int) else 1 << 30,
                name)

    return sorted(((n, p if isinstance(p, dict) else {}) for n, p in params.items()), key=key)


def _parameter_help(action: dict[str, Any], params: dict[str, dict[str, Any]]) -> list[str]:
    """`levante run REF -h`: the action and each parameter it takes."""
    lines = [f"{action.get('ref')}: {action.get('description') or ''}".rstrip(), ""]
    settable = [(n, p) for n, p in _ordered(params) if not p.get("immutable")]
    for title, required in (("Required parameters", True), ("Optional parameters", False)):
        group = [(n, p) for n, p in settable if bool(p.get("required")) is required]
        if not group:
            continue
        lines.append(f"{title}:")
        for name, spec in group:
            lines.append(f"  {name}")
            if spec.get("description"):
                lines.append(f"      {spec['description']}")
            lines.append(f"      Type: {_type_of(spec)}")
            if spec.get("enum"):
                lines.append(f"      Enum: {', '.join(cell(v) for v in spec['enum'])}")
            if "default" in spec and spec["default"] is not None:
                default = "********" if spec.get("secret") else cell(spec["default"])
                lines.append(f"      Default: {default}")
            if spec.get("secret"):
                lines.append("      Secret: masked in results and logs")
        lines.append("")
    if not settable:
        lines.extend(["This action takes no parameters.", ""])
    lines.append(f"Run it: levante run {action.get('ref')} name=value ...")
    return lines


@click.command("run", context_settings={"ignore_unknown_options": True},
               add_help_option=False)
@click.argument("ref", required=False)
@click.argument("parameters", nargs=-1, type=click.UNPROCESSED)
@click.option("-a", "--async", "run_async", is_flag=True,
              help="Print the execution id and return at once.")
@click.option("-d", "--detail", is_flag=True, help="Show every attribute of the execution.")
@click.option("-h", "--help", "show_help", is_flag=True,
              help="Show this message; with REF, the action's parameters.")
@client_options
@click.pass_context
def run_cmd(ctx: click.Context, ref: str | None, parameters: tuple[str, ...],
            run_async: bool, detail: bool, show_help: bool, as_json: bool,
            api_url: str | None, config_file: str | None, config_dir: str | None) -> None:
    """Run action REF with parameters name=value, wait, and show the result.

    Exits 1 when the execution does not succeed. `levante run REF -h` shows the
    parameters REF takes.
    """
    if ref is None and show_help:
        click.echo(ctx.get_help())
        ctx.exit(0)
    if ref is None:
        raise click.UsageError("Missing argument 'REF' (an action, e.g. core.local).", ctx)
    if ref.startswith("-"):
        raise click.NoSuchOption(ref, ctx=ctx)
    if show_help:
        with connect(api_url, config_file, config_dir, action_ref=ref) as client:
            action = client.get(f"/actions/{ref}")
            params = _parameters(client, ref)
        if as_json:
            echo_json({"ref": action.get("ref"), "description": action.get("description"),
                        "parameters": params})
        else:
            for line in _parameter_help(action, params):
                click.echo(line)
        return
    params = parse_pairs(parameters)
    with connect(api_url, config_file, config_dir, action_ref=ref) as client:
        execution = client.post("/executions", {"action": ref, "parameters": params})
        if run_async:
            if as_json:
                echo_json(execution)
            else:
                click.echo(execution["id"])
            return
        live = not as_json and make_console().is_terminal
        execution = wait_for(client, execution, live)
    show_execution(execution, as_json, detail)
    exit_for(execution)


# --- action -------------------------------------------------------------------------------


@click.group("action")
def action_group() -> None:
    """Actions: list them, show one."""


@action_group.command("list")
@click.option("-p", "--pack", default=None, help="Only this pack's actions.")
@client_options
def action_list(pack: str | None, as_json: bool, api_url: str | None,
                config_file: str | None, config_dir: str | None) -> None:
    """List actions."""
    with connect(api_url, config_file, config_dir) as client:
        rows = client.get("/actions", pack=pack)
    if as_json:
        echo_json(rows)
    else:
        show_table(rows, ["ref", "pack", "runner_type", "description"])


@action_group.command("get")
@click.argument("ref")
@client_options
def action_get(ref: str, as_json: bool, api_url: str | None, config_file: str | None,
               config_dir: str | None) -> None:
    """Show an action and every parameter it takes (its runner's and its own)."""
    with connect(api_url, config_file, config_dir, action_ref=ref) as client:
        action = client.get(f"/actions/{ref}")
        params = _parameters(client, ref)
    action = {**action, "parameters": params}
    if as_json:
        echo_json(action)
    else:
        show_record(action, ["id", "ref", "pack", "name", "description", "enabled",
                         "runner_type", "entry_point", "tags"])
        click.echo("parameters:")
        for name, spec in _ordered(params):
            facts = [f"type {_type_of(spec)}"]
            if spec.get("required"):
                facts.append("required")
            if "default" in spec and spec["default"] is not None:
                facts.append("default " + ("********" if spec.get("secret")
                                           else json.dumps(spec["default"])))
            for flag in ("immutable", "secret"):
                if spec.get(flag):
                    facts.append(flag)
            click.echo(f"  {name} ({', '.join(facts)})")
            if spec.get("description"):
                click.echo(f"      {spec['description']}")


# --- execution ----------------------------------------------------------------------------


def register(group: click.Group) -> None:
    group.add_command(run_cmd)
    add_group(group, action_group)
