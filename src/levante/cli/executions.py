"""`levante execution get|list|cancel|re-run|tail` (`trace` is levante.cli.trace)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from levante.cli.client import (
    STATUS_STYLE,
    add_group,
    cell,
    client_options,
    connect,
    dig,
    echo_json,
    exit_for,
    make_console,
    parse_pairs,
    show_execution,
    show_table,
    wait_for,
)


@click.group("execution")
def execution_group() -> None:
    """Executions: show, list, cancel, re-run, follow."""


@execution_group.command("get")
@click.argument("execution_id")
@click.option("-d", "--detail", is_flag=True, help="Show every attribute.")
@client_options
def execution_get(execution_id: str, detail: bool, as_json: bool, api_url: str | None,
                  config_file: str | None, config_dir: str | None) -> None:
    """Show an execution."""
    with connect(api_url, config_file, config_dir) as client:
        execution = client.get(f"/executions/{execution_id}")
    show_execution(execution, as_json, detail)


@execution_group.command("list")
@click.option("--action", "action_ref", default=None, help="Only executions of this action.")
@click.option("-s", "--status", default=None, help="Only executions in this status.")
@click.option("--parent", default=None, help="Only children of this execution.")
@click.option("-l", "--showall", is_flag=True,
              help="Also list the children of workflows (hidden by default, as st2 does).")
@click.option("-n", "--last", "limit", type=click.IntRange(1), default=50, show_default=True,
              help="How many, newest first.")
@client_options
def execution_list(action_ref: str | None, status: str | None, parent: str | None,
                   showall: bool, limit: int, as_json: bool, api_url: str | None,
                   config_file: str | None, config_dir: str | None) -> None:
    """List executions, newest first, with their full ids.

    The executions that workflows started (their children) are hidden unless -l or
    --parent asks for them.
    """
    if parent is None and not showall:
        parent = "null"  # top-level executions only (the API's and st2's convention)
    with connect(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total(
            "/executions", action=action_ref, status=status, parent=parent, limit=limit,
            include_attributes="id,action.ref,context.user,status,start_timestamp,"
                               "end_timestamp,elapsed_seconds,parent",
        )
    if as_json:
        echo_json(rows)
        return
    if make_console().is_terminal:
        _fitted_table(rows, [("id", "id", cell), ("action.ref", "action", cell),
                             ("status", "status", cell),
                             ("start_timestamp", "started (UTC)", _short_time),
                             ("elapsed_seconds", "secs", _short_seconds),
                             ("context.user", "user", cell)])
    else:
        show_table(rows, ["id", "action.ref", "context.user", "status", "start_timestamp",
                      "elapsed_seconds"])
    if total is not None and total > len(rows):
        click.echo(f"({len(rows)} of {total} shown; use -n to see more)", err=True)
    if parent == "null":
        click.echo("(children of workflows hidden; -l shows them)", err=True)


def _short_time(value: Any) -> str:
    """An ISO timestamp to the second, as a terminal table shows it (UTC)."""
    return value.replace("T", " ")[:19] if isinstance(value, str) else ""


def _short_seconds(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else ""


def _fitted_table(rows: list[dict[str, Any]],
                  columns: list[tuple[str, str, Callable[[Any], str]]]) -> None:
    """A terminal table whose cells are never cut: the columns are (field, header,
    format) by priority, and the last ones are left out until the rest fit the width.
    The first two (id, action) always stay; a terminal narrower than them wraps lines.
    """
    console = make_console()
    cells = [[fmt(dig(r, field)) for field, _, fmt in columns] for r in rows]
    widths = [max([len(header), *(len(v[i]) for v in cells)])
              for i, (_, header, _) in enumerate(columns)]
    keep = len(columns)
    while keep > 2 and sum(widths[:keep]) + 2 * (keep - 1) > console.width:
        keep -= 1
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
    for i in range(keep):
        table.add_column(columns[i][1], no_wrap=True, min_width=widths[i])
    for values in cells:
        styled = []
        for (field, _, _), value in zip(columns[:keep], values, strict=False):
            style = STATUS_STYLE.get(value) if field == "status" else None
            styled.append(Text(value, style=style or ""))
        table.add_row(*styled)
    console.print(table)


@execution_group.command("cancel")
@click.argument("execution_ids", nargs=-1, required=True)
@client_options
def execution_cancel(execution_ids: tuple[str, ...], as_json: bool, api_url: str | None,
                     config_file: str | None, config_dir: str | None) -> None:
    """Cancel executions (a running action's process is killed)."""
    results = []
    with connect(api_url, config_file, config_dir) as client:
        for execution_id in execution_ids:
            answer = client.delete(f"/executions/{execution_id}")
            results.append(answer)
            if not as_json:
                if isinstance(answer, dict) and "faultstring" in answer:
                    click.echo(f"{execution_id}: {answer['faultstring']}")
                else:
                    click.echo(f"{execution_id}: cancel requested "
                               f"(status {answer.get('status')}).")
    if as_json:
        echo_json(results)


@execution_group.command("re-run", context_settings={"ignore_unknown_options": True})
@click.argument("execution_id")
@click.argument("parameters", nargs=-1, type=click.UNPROCESSED)
@click.option("-a", "--async", "run_async", is_flag=True, help="Return at once.")
@client_options
def execution_re_run(execution_id: str, parameters: tuple[str, ...], run_async: bool,
                     as_json: bool, api_url: str | None, config_file: str | None,
                     config_dir: str | None) -> None:
    """Run an execution again, with some parameters changed (name=value)."""
    params = parse_pairs(parameters)
    with connect(api_url, config_file, config_dir) as client:
        execution = client.post(f"/executions/{execution_id}/re_run", {"parameters": params})
        if run_async:
            echo_json(execution) if as_json else click.echo(execution["id"])
            return
        execution = wait_for(client, execution, not as_json and make_console().is_terminal)
    show_execution(execution, as_json, False)
    exit_for(execution)


# --- pack ---------------------------------------------------------------------------------


def register(group: click.Group) -> None:
    add_group(group, execution_group)
