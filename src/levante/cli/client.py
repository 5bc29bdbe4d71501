"""What the platform commands share: the API client, options, and tables, records and
JSON on the terminal (Rich on a terminal, plain text when piped).

The commands are shaped like `st2` and talk to the API over HTTP: `levante run` and
`action` (levante.cli.actions), `execution` (levante.cli.executions), `pack`
(levante.cli.packs), `apikey` (levante.cli.apikeys); each module's `register(group)` adds
its commands, as listed in `levante.cli.main.COMMANDS`.
"""

from __future__ import annotations

import difflib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import yaml
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from levante.cli.common import config_options, fail, get_config
from levante.platform.core.api_client import ApiCallError, PlatformClient

F = TypeVar("F", bound=Callable[..., Any])
DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
STATUS_STYLE = {"succeeded": "green", "failed": "red", "timeout": "red",
                "abandoned": "red", "canceled": "yellow", "canceling": "yellow",
                "running": "cyan", "requested": "blue"}


def make_console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def client_options(func: F) -> F:
    """--api-url, --config-file/--config-dir and -j/--json on a command."""
    func = click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")(func)
    func = click.option("--api-url", default=None, envvar="LEVANTE_API_URL",
                        help="Platform API URL (default: from the configuration).")(func)
    return config_options(func)


@contextmanager
def connect(api_url: str | None, config_file: str | None,
            config_dir: str | None, action_ref: str | None = None) -> Iterator[PlatformClient]:
    """A client on the configured API; an API error becomes one line and exit status 2.

    When the command names an action (``action_ref``) that the API does not know, the
    line also names the nearest registered actions.
    """
    config = get_config(config_file, config_dir)
    client = PlatformClient.from_config(config, api_url)
    try:
        yield client
    except ApiCallError as exc:
        message = str(exc)
        if action_ref and exc.status == 404 and f'"{action_ref}"' in message:
            message += suggestion(client, action_ref)
        fail(message)
    finally:
        client.close()


def nearest_refs(ref: str, refs: list[str], count: int = 3) -> list[str]:
    """The registered refs nearest to a mistyped one: whole refs, then action names."""
    found = difflib.get_close_matches(ref, refs, n=count, cutoff=0.6)
    name = ref.rsplit(".", 1)[-1]
    by_name: dict[str, list[str]] = {}
    for candidate in refs:
        by_name.setdefault(candidate.rsplit(".", 1)[-1], []).append(candidate)
    for close in difflib.get_close_matches(name, list(by_name), n=count, cutoff=0.6):
        found.extend(r for r in by_name[close] if r not in found)
    return found[:count]


def suggestion(client: PlatformClient, ref: str) -> str:
    try:
        rows = client.get("/actions", include_attributes="ref")
    except ApiCallError:
        return ""
    refs = [str(row.get("ref")) for row in rows if isinstance(row, dict) and row.get("ref")]
    near = nearest_refs(ref, refs)
    if not near:
        return " See `levante action list`."
    listed = near[0] if len(near) == 1 else f"{', '.join(near[:-1])} or {near[-1]}"
    return f" Did you mean {listed}?"


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def dig(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def show_table(rows: list[dict[str, Any]], columns: list[str],
           whole: tuple[str, ...] = ("id", "ref")) -> None:
    """A Rich table on a terminal, aligned plain text otherwise.

    The ``whole`` columns (ids, refs) are never cut, however narrow the terminal: they
    are what a user copies into the next command. Other columns wrap instead.
    """
    console = make_console()
    cells = [[cell(dig(r, c)) for c in columns] for r in rows]
    if console.is_terminal:
        table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
        for column in columns:
            if column in whole:
                longest = max([len(column), *(len(v[columns.index(column)]) for v in cells)])
                table.add_column(column, no_wrap=True, min_width=longest)
            else:
                table.add_column(column, overflow="fold")
        for row, values in zip(rows, cells, strict=True):
            styled = [f"[{STATUS_STYLE.get(v, '')}]{v}[/]"
                      if c == "status" and STATUS_STYLE.get(v) else v.replace("[", r"\[")
                      for c, v in zip(columns, values, strict=True)]
            del row
            table.add_row(*styled)
        console.print(table)
        return
    widths = [max([len(c), *(len(v[i]) for v in cells)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for values in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip())


class _BlockDumper(yaml.SafeDumper):
    """YAML with multi-line strings as literal blocks, as people write them."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_block)


def show_record(doc: dict[str, Any], fields: list[str]) -> None:
    """`key: value` lines; nested values as YAML, indented."""
    console = make_console()
    for name in fields:
        value = dig(doc, name)
        if value is None and name not in ("result",):
            continue
        if isinstance(value, dict | list):
            text = yaml.dump(value, Dumper=_BlockDumper, default_flow_style=False,
                             sort_keys=True, allow_unicode=True).rstrip()
            if console.is_terminal:
                console.print(Text.assemble((name, "bold blue"), ":"))
                console.print("  " + text.replace("\n", "\n  "), markup=False)
            else:
                click.echo(f"{name}:")
                click.echo("  " + text.replace("\n", "\n  "))
            continue
        shown = cell(value)
        if console.is_terminal:
            style = STATUS_STYLE.get(shown, "") if name == "status" else ""
            console.print(Text.assemble((name, "bold blue"), ": ", (shown, style)))
        else:
            click.echo(f"{name}: {shown}")


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` arguments; values stay strings and the API coerces them to the types."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"parameter {pair!r} is not of the form name=value")
        params[key] = value
    return params


EXECUTION_FIELDS = ["id", "action.ref", "status", "start_timestamp", "end_timestamp",
                    "elapsed_seconds", "result"]
DETAIL_FIELDS = ["id", "action.ref", "context.user", "parameters", "status",
                 "start_timestamp", "end_timestamp", "elapsed_seconds", "parent", "children",
                 "log", "web_url", "result"]


def wait_for(client: PlatformClient, execution: dict[str, Any], live: bool) -> dict[str, Any]:
    """Poll until the execution ends; on a terminal show its status and output live."""
    execution_id = execution["id"]
    delay = 0.01
    after = -1
    console = make_console()
    if not live:
        while execution["status"] not in DONE:
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
            execution = client.get(f"/executions/{execution_id}")
        return execution
    started = time.monotonic()
    with console.status(f"{execution['action']['ref']}: {execution['status']}") as status:
        while True:
            chunk = client.get(f"/executions/{execution_id}/output", format="json",
                               after=after)
            for line in chunk["lines"]:
                after = line["seq"]
                style = "red" if line["stream"] == "stderr" else "dim"
                console.print(line["data"].rstrip("\n"), style=style, markup=False,
                              highlight=False)
            if chunk["done"]:
                break
            status.update(f"{execution['action']['ref']}: {chunk['status']} "
                          f"({time.monotonic() - started:.1f}s)")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.3)
    return client.get(f"/executions/{execution_id}")


def show_execution(execution: dict[str, Any], as_json: bool, detail: bool) -> None:
    if as_json:
        echo_json(execution)
    else:
        show_record(execution, DETAIL_FIELDS if detail else EXECUTION_FIELDS)


def exit_for(execution: dict[str, Any]) -> None:
    if execution.get("status") in DONE and execution["status"] != "succeeded":
        sys.exit(1)


# --- run ----------------------------------------------------------------------------------



def add_group(group: click.Group, sub: click.Group) -> None:
    """Add ``sub`` to the top-level group, or its commands to a group of that name that
    another module registered first (as `trace` does for `execution`)."""
    existing = group.commands.get(sub.name or "")
    if isinstance(existing, click.Group) and existing is not sub:
        for name, command in sub.commands.items():
            existing.add_command(command, name)
    else:
        group.add_command(sub)
