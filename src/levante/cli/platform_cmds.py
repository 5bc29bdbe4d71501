"""`levante run`, `action`, `execution`, `pack`, `apikey`: the platform from the shell.

Shaped like `st2`; talks to the API over HTTP. Rich tables and a live view on a terminal,
plain text when piped, `-j` for JSON everywhere. `run` exits 1 when the execution did not
succeed.
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


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def client_options(func: F) -> F:
    """--api-url, --config-file/--config-dir and -j/--json on a command."""
    func = click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")(func)
    func = click.option("--api-url", default=None, envvar="LEVANTE_API_URL",
                        help="Platform API URL (default: from the configuration).")(func)
    return config_options(func)


@contextmanager
def _client(api_url: str | None, config_file: str | None,
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
            message += _suggestion(client, action_ref)
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


def _suggestion(client: PlatformClient, ref: str) -> str:
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


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _dig(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _table(rows: list[dict[str, Any]], columns: list[str],
           whole: tuple[str, ...] = ("id", "ref")) -> None:
    """A Rich table on a terminal, aligned plain text otherwise.

    The ``whole`` columns (ids, refs) are never cut, however narrow the terminal: they
    are what a user copies into the next command. Other columns wrap instead.
    """
    console = _console()
    cells = [[_cell(_dig(r, c)) for c in columns] for r in rows]
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


def _record(doc: dict[str, Any], fields: list[str]) -> None:
    """`key: value` lines; nested values as YAML, indented."""
    console = _console()
    for name in fields:
        value = _dig(doc, name)
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
        shown = _cell(value)
        if console.is_terminal:
            style = STATUS_STYLE.get(shown, "") if name == "status" else ""
            console.print(Text.assemble((name, "bold blue"), ": ", (shown, style)))
        else:
            click.echo(f"{name}: {shown}")


def _parse_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
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


def _wait(client: PlatformClient, execution: dict[str, Any], live: bool) -> dict[str, Any]:
    """Poll until the execution ends; on a terminal show its status and output live."""
    execution_id = execution["id"]
    delay = 0.01
    after = -1
    console = _console()
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


def _show_execution(execution: dict[str, Any], as_json: bool, detail: bool) -> None:
    if as_json:
        _echo_json(execution)
    else:
        _record(execution, DETAIL_FIELDS if detail else EXECUTION_FIELDS)


def _exit_for(execution: dict[str, Any]) -> None:
    if execution.get("status") in DONE and execution["status"] != "succeeded":
        sys.exit(1)


# --- run ----------------------------------------------------------------------------------


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
                lines.append(f"      Enum: {', '.join(_cell(v) for v in spec['enum'])}")
            if "default" in spec and spec["default"] is not None:
                default = "********" if spec.get("secret") else _cell(spec["default"])
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
        with _client(api_url, config_file, config_dir, action_ref=ref) as client:
            action = client.get(f"/actions/{ref}")
            params = _parameters(client, ref)
        if as_json:
            _echo_json({"ref": action.get("ref"), "description": action.get("description"),
                        "parameters": params})
        else:
            for line in _parameter_help(action, params):
                click.echo(line)
        return
    params = _parse_pairs(parameters)
    with _client(api_url, config_file, config_dir, action_ref=ref) as client:
        execution = client.post("/executions", {"action": ref, "parameters": params})
        if run_async:
            if as_json:
                _echo_json(execution)
            else:
                click.echo(execution["id"])
            return
        live = not as_json and _console().is_terminal
        execution = _wait(client, execution, live)
    _show_execution(execution, as_json, detail)
    _exit_for(execution)


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
    with _client(api_url, config_file, config_dir) as client:
        rows = client.get("/actions", pack=pack)
    if as_json:
        _echo_json(rows)
    else:
        _table(rows, ["ref", "pack", "runner_type", "description"])


@action_group.command("get")
@click.argument("ref")
@client_options
def action_get(ref: str, as_json: bool, api_url: str | None, config_file: str | None,
               config_dir: str | None) -> None:
    """Show an action and every parameter it takes (its runner's and its own)."""
    with _client(api_url, config_file, config_dir, action_ref=ref) as client:
        action = client.get(f"/actions/{ref}")
        params = _parameters(client, ref)
    action = {**action, "parameters": params}
    if as_json:
        _echo_json(action)
    else:
        _record(action, ["id", "ref", "pack", "name", "description", "enabled",
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
    with _client(api_url, config_file, config_dir) as client:
        execution = client.get(f"/executions/{execution_id}")
    _show_execution(execution, as_json, detail)


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
    with _client(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total(
            "/executions", action=action_ref, status=status, parent=parent, limit=limit,
            include_attributes="id,action.ref,context.user,status,start_timestamp,"
                               "end_timestamp,elapsed_seconds,parent",
        )
    if as_json:
        _echo_json(rows)
        return
    if _console().is_terminal:
        _fitted_table(rows, [("id", "id", _cell), ("action.ref", "action", _cell),
                             ("status", "status", _cell),
                             ("start_timestamp", "started (UTC)", _short_time),
                             ("elapsed_seconds", "secs", _short_seconds),
                             ("context.user", "user", _cell)])
    else:
        _table(rows, ["id", "action.ref", "context.user", "status", "start_timestamp",
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
    console = _console()
    cells = [[fmt(_dig(r, field)) for field, _, fmt in columns] for r in rows]
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
    with _client(api_url, config_file, config_dir) as client:
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
        _echo_json(results)


@execution_group.command("re-run", context_settings={"ignore_unknown_options": True})
@click.argument("execution_id")
@click.argument("parameters", nargs=-1, type=click.UNPROCESSED)
@click.option("-a", "--async", "run_async", is_flag=True, help="Return at once.")
@client_options
def execution_re_run(execution_id: str, parameters: tuple[str, ...], run_async: bool,
                     as_json: bool, api_url: str | None, config_file: str | None,
                     config_dir: str | None) -> None:
    """Run an execution again, with some parameters changed (name=value)."""
    params = _parse_pairs(parameters)
    with _client(api_url, config_file, config_dir) as client:
        execution = client.post(f"/executions/{execution_id}/re_run", {"parameters": params})
        if run_async:
            _echo_json(execution) if as_json else click.echo(execution["id"])
            return
        execution = _wait(client, execution, not as_json and _console().is_terminal)
    _show_execution(execution, as_json, False)
    _exit_for(execution)


@execution_group.command("tail")
@click.argument("execution_id")
@click.option("--interval", type=float, default=0.2, show_default=True,
              help="Seconds between two looks for new output.")
@client_options
def execution_tail(execution_id: str, interval: float, as_json: bool, api_url: str | None,
                   config_file: str | None, config_dir: str | None) -> None:
    """Follow an execution's output until it ends."""
    after = -1
    with _client(api_url, config_file, config_dir) as client:
        while True:
            chunk = client.get(f"/executions/{execution_id}/output", format="json",
                               after=after)
            for line in chunk["lines"]:
                after = line["seq"]
                if as_json:
                    click.echo(json.dumps(line))
                else:
                    stream = sys.stderr if line["stream"] == "stderr" else sys.stdout
                    stream.write(line["data"])
                    stream.flush()
            if chunk["done"]:
                break
            time.sleep(interval)
    if not as_json:
        click.echo(f"Execution {execution_id} has ended: {chunk['status']}.", err=True)


# --- pack ---------------------------------------------------------------------------------


@click.group("pack")
def pack_group() -> None:
    """Packs: register them from the pack folders, list them."""


def _register(client: PlatformClient, names: list[str], config_file: str | None,
              config_dir: str | None) -> Any:
    """POST /packs/register, waiting as long as the API may take to set up virtualenvs."""
    wait = get_config(config_file, config_dir).get_int("packs", "setup_timeout") + 60
    return client.request("POST", "/packs/register", json={"packs": names},
                          timeout=float(wait)).json()


@pack_group.command("register")
@click.argument("names", nargs=-1)
@client_options
def pack_register(names: tuple[str, ...], as_json: bool, api_url: str | None,
                  config_file: str | None, config_dir: str | None) -> None:
    """Load or reload packs (all when no NAME); report each invalid action file."""
    with _client(api_url, config_file, config_dir) as client:
        report = _register(client, list(names), config_file, config_dir)
    if as_json:
        _echo_json(report)
    else:
        click.echo(f"Registered {report['actions']} action(s) from pack(s) "
                   f"{', '.join(report['packs']) or 'none'}"
                   + (f"; removed {report['removed']}." if report["removed"] else "."))
        for error in report["errors"]:
            click.echo(f"invalid: {error['file']}: {error['reason']}")
    if report["errors"]:
        sys.exit(1)


def _pack_env_settings(config_file: str | None, config_dir: str | None) -> Any:
    from levante.platform.core.pack_env import settings_from_config

    return settings_from_config(get_config(config_file, config_dir))


def _setup_env(settings: Any, name: str, path: Any, quiet: bool = False) -> dict[str, Any]:
    from levante.platform.core.pack_env import PackEnvError, needs_virtualenv, setup_virtualenv

    if not needs_virtualenv(path):
        if not quiet:
            click.echo(f"Pack {name} has no requirements.txt: it needs no virtual "
                       "environment.")
        return {"pack": name, "virtualenv": None}
    try:
        folder = setup_virtualenv(settings, name, path)
    except PackEnvError as exc:
        fail(str(exc), 1)
    if not quiet:
        click.echo(f"Set up the virtual environment of pack {name} in {folder}.")
    return {"pack": name, "virtualenv": str(folder)}


@pack_group.command("setup-virtualenv")
@click.argument("names", nargs=-1, required=True)
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")
@config_options
def pack_setup_virtualenv(names: tuple[str, ...], as_json: bool, config_file: str | None,
                          config_dir: str | None) -> None:
    """(Re)make the virtual environment of packs and install their requirements.txt
    (on this host, in [packs] virtualenvs_path)."""
    from levante.platform.core.packs import discover_packs

    config = get_config(config_file, config_dir)
    found = discover_packs(config.get_list("content", "packs_paths"))
    settings = _pack_env_settings(config_file, config_dir)
    missing = [name for name in names if name not in found]
    if missing:
        fail(f"Pack {', '.join(repr(m) for m in missing)} cannot be found in the pack "
             "folders.")
    made = [_setup_env(settings, name, found[name], quiet=as_json) for name in names]
    if as_json:
        _echo_json(made)


@pack_group.command("install")
@click.argument("source")
@click.option("--force", is_flag=True, help="Replace a pack of the same name already there.")
@client_options
def pack_install(source: str, force: bool, as_json: bool, api_url: str | None,
                 config_file: str | None, config_dir: str | None) -> None:
    """Install a pack from a local folder or a git URL: copy it into the first pack folder
    ([content] packs_paths), set up its virtual environment, register it."""
    from levante.platform.core.pack_install import PackInstallError, fetch_pack

    config = get_config(config_file, config_dir)
    paths = config.get_list("content", "packs_paths")
    if not paths:
        fail("[content] packs_paths is empty: there is no pack folder to install into.")
    try:
        name, path = fetch_pack(source, paths[0], force=force)
    except PackInstallError as exc:
        fail(str(exc))
    if not as_json:
        click.echo(f"Copied pack {name} into {path}.")
    _setup_env(_pack_env_settings(config_file, config_dir), name, path, quiet=as_json)
    with _client(api_url, config_file, config_dir) as client:
        report = _register(client, [name], config_file, config_dir)
    if as_json:
        _echo_json(report)
    else:
        click.echo(f"Registered {report['actions']} action(s) from pack {name}.")
        for error in report["errors"]:
            click.echo(f"invalid: {error['file']}: {error['reason']}")
    if report["errors"]:
        sys.exit(1)


@pack_group.command("list")
@client_options
def pack_list(as_json: bool, api_url: str | None, config_file: str | None,
              config_dir: str | None) -> None:
    """List registered packs."""
    with _client(api_url, config_file, config_dir) as client:
        rows = client.get("/packs")
    if as_json:
        _echo_json(rows)
    else:
        _table(rows, ["ref", "version", "description", "path"])


# --- apikey -------------------------------------------------------------------------------


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
    with _client(api_url, config_file, config_dir) as client:
        created = client.post("/apikeys", body)
    if as_json:
        _echo_json(created)
    else:
        click.echo(created["key"])


@apikey_group.command("list")
@client_options
def apikey_list(as_json: bool, api_url: str | None, config_file: str | None,
                config_dir: str | None) -> None:
    """List API keys (their hashes, never the keys)."""
    with _client(api_url, config_file, config_dir) as client:
        rows = client.get("/apikeys")
    if as_json:
        _echo_json(rows)
    else:
        _table(rows, ["id", "user", "created_at", "enabled", "key_hash"])


@apikey_group.command("delete")
@click.argument("key_id")
@client_options
def apikey_delete(key_id: str, as_json: bool, api_url: str | None,
                  config_file: str | None, config_dir: str | None) -> None:
    """Delete an API key by id (or by the key itself)."""
    with _client(api_url, config_file, config_dir) as client:
        client.delete(f"/apikeys/{key_id}")
    if as_json:
        _echo_json({"deleted": key_id})
    else:
        click.echo(f"API key {key_id} deleted.")


def register(group: click.Group) -> None:
    group.add_command(run_cmd)
    for sub in (action_group, execution_group, pack_group, apikey_group):
        existing = group.commands.get(sub.name or "")
        if isinstance(existing, click.Group) and existing is not sub:
            for name, command in sub.commands.items():
                existing.add_command(command, name)
        else:
            group.add_command(sub)
