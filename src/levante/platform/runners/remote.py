"""The ``remote-shell-cmd`` and ``remote-shell-script`` runners: a command, or the action's
script (copied to each host over SFTP into ``dir``, run with its parameters as arguments,
then removed), over SSH on one or several hosts.

The result is keyed by host, each entry in the local shell shape, as StackStorm gives it;
the execution succeeds only when the command succeeded on every host. Hosts run one after
another unless ``parallel`` is true (StackStorm's default is false too); ``timeout`` bounds
the whole run. An ``env`` name that a shell cannot export is refused before any connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import re
import shlex
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest
from levante.platform.runners.catalog import REMOTE_SHELL_SCRIPT
from levante.platform.runners.local import script_argv, script_secret_env
from levante.platform.runners.process import strip_shell_chars
from levante.ssh_support import asyncssh

DEFAULT_PORT = 22
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Host:
    """One target: the name as given (the result's key), the address and the port."""

    key: str
    address: str
    port: int


def parse_hosts(hosts: str, default_port: int | None) -> list[Host]:
    """``a,b:2222,[::1]:22`` -> hosts; ``ValueError`` names the bad entry."""
    found: list[Host] = []
    for raw in hosts.split(","):
        entry = raw.strip()
        if not entry:
            continue
        address, port = entry, default_port or DEFAULT_PORT
        if entry.startswith("["):
            end = entry.find("]")
            if end < 0:
                raise ValueError(f"invalid host {entry!r}")
            address, rest = entry[1:end], entry[end + 1:]
            if rest:
                if not rest.startswith(":") or not rest[1:].isdigit():
                    raise ValueError(f"invalid host {entry!r}")
                port = int(rest[1:])
        elif entry.count(":") == 1:
            address, _, port_text = entry.partition(":")
            if not port_text.isdigit():
                raise ValueError(f"invalid port in host {entry!r}")
            port = int(port_text)
        if not address or not 0 < port < 65536:
            raise ValueError(f"invalid host {entry!r}")
        found.append(Host(entry, address, port))
    if not found:
        raise ValueError("no host given")
    return found


def _client_keys(params: dict[str, Any]) -> list[Any] | None:
    key = params.get("private_key")
    if not key:
        return None
    text = str(key)
    passphrase = params.get("passphrase") or None
    if "PRIVATE KEY" in text:
        return [asyncssh.import_private_key(text, passphrase)]
    return [asyncssh.read_private_key(os.path.expanduser(text), passphrase)]


def env_error(env: Any) -> str | None:
    """Why ``env`` cannot be exported by the remote shell, naming the variable, or None."""
    if not env:
        return None
    if not isinstance(env, dict):
        return "Parameter 'env' must be an object of variable name to value"
    for name in env:
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            return (f"Parameter 'env': {str(name)!r} is not a valid environment variable "
                    "name (letters, digits and _, not starting with a digit)")
    return None


def remote_command(params: dict[str, Any]) -> str:
    """The command line sent to the host: cd, environment, sudo, then ``cmd``.

    ``ValueError`` when an ``env`` name cannot be exported (see :func:`env_error`).
    """
    cmd = str(params.get("cmd") or "")
    parts: list[str] = []
    cwd = params.get("cwd")
    if cwd:
        parts.append(f"cd {shlex.quote(str(cwd))} &&")
    env = params.get("env") or {}
    problem = env_error(env)
    if problem:
        raise ValueError(problem)
    if env:
        assigns = " ".join(f"{k}={shlex.quote(_env_value(v))}" for k, v in env.items())
        parts.append(f"export {assigns} &&")
    if params.get("sudo") is True:
        flag = "-S -p ''" if params.get("sudo_password") else "-n"
        parts.append(f"sudo {flag} -E -- bash -c {shlex.quote(cmd)}")
    else:
        parts.append(cmd)
    return " ".join(p for p in parts if p)


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _shell_entry(stdout: str, stderr: str, code: int | None, error: str = "") -> dict[str, Any]:
    return_code = code if code is not None else 255
    ok = return_code == 0 and not error
    entry: dict[str, Any] = {
        "failed": not ok, "succeeded": ok, "return_code": return_code,
        "stdout": strip_shell_chars(stdout), "stderr": strip_shell_chars(stderr),
    }
    if error:
        entry["error"] = error
    return entry


async def _pump(reader: Any, name: str, sink: list[str], prefix: str,
                on_output: OutputCallback) -> None:
    async for line in reader:
        text = str(line)
        sink.append(text)
        on_output(name, prefix + text)


async def _upload(conn: Any, local: str, remote: str) -> None:
    async with conn.start_sftp_client() as sftp:
        await sftp.put(local, remote)
        await sftp.chmod(remote, 0o700)


async def _run_on_host(host: Host, params: dict[str, Any], on_output: OutputCallback,
                       prefix: str, out: list[str], err: list[str],
                       script: tuple[str, str] | None = None) -> int | None:
    options: dict[str, Any] = {"known_hosts": None, "agent_path": None}
    if params.get("username"):
        options["username"] = str(params["username"])
    if params.get("password"):
        options["password"] = str(params["password"])
        options["preferred_auth"] = "password,keyboard-interactive,publickey"
    keys = _client_keys(params)
    if keys is not None:
        options["client_keys"] = keys
    tunnel = None
    if params.get("bastion_host"):
        bastion = parse_hosts(str(params["bastion_host"]), params.get("port"))[0]
        tunnel = await asyncssh.connect(bastion.address, bastion.port, **options)
        options["tunnel"] = tunnel
    try:
        async with asyncssh.connect(host.address, host.port, **options) as conn:
            if script is not None:
                await _upload(conn, *script)
            try:
                proc = await conn.create_process(remote_command(params))
                if params.get("sudo") is True and params.get("sudo_password"):
                    proc.stdin.write(str(params["sudo_password"]) + "\n")
                proc.stdin.write_eof()
                await asyncio.gather(
                    _pump(proc.stdout, "stdout", out, prefix, on_output),
                    _pump(proc.stderr, "stderr", err, prefix, on_output),
                )
                completed = await proc.wait()
                return completed.exit_status
            finally:
                if script is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            conn.run(f"rm -f {shlex.quote(script[1])}", check=False), 10)
    finally:
        if tunnel is not None:
            tunnel.close()


async def _host_result(host: Host, params: dict[str, Any], on_output: OutputCallback,
                       prefix: str, script: tuple[str, str] | None = None) -> dict[str, Any]:
    out: list[str] = []
    err: list[str] = []
    try:
        code = await _run_on_host(host, params, on_output, prefix, out, err, script)
    except (OSError, asyncssh.Error, ValueError) as exc:
        reason = exc.reason if isinstance(exc, asyncssh.Error) else str(exc)
        message = f"SSH to {host.address}:{host.port} failed: {reason}"
        return _shell_entry("".join(out), "".join(err) or message, None, message)
    return _shell_entry("".join(out), "".join(err), code)


async def run_remote_cmd(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Run ``cmd`` on every host in ``hosts`` (at once when ``parallel``); result by host."""
    params = request.parameters
    if not params.get("cmd"):
        return RunOutcome("failed", {"error": "Parameter 'cmd' is required"})
    problem = env_error(params.get("env"))
    if problem:
        return RunOutcome("failed", {"error": problem})
    return await _run_everywhere(request, params, on_output)


async def run_remote_script(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Copy the action's script to every host (into ``dir``), run it there with the
    parameters as arguments (positional ones by ``position``, the others as
    ``<kwarg_op>name=value``; secret ones as ``ST2_ACTION_SECRET_<NAME>`` in its
    environment), then remove it; result by host."""

    script = Path(request.action.entry_point) if request.action.entry_point else None
    if script is None or not script.is_file():
        return RunOutcome("failed", {
            "error": f"Script of action {request.action.ref} does not exist"})
    params = dict(request.parameters)
    problem = env_error(params.get("env"))
    if problem:
        return RunOutcome("failed", {"error": problem})
    runner_params = REMOTE_SHELL_SCRIPT.runner_parameters
    try:
        secret_env = script_secret_env(request, runner_params)
    except ValueError as exc:
        return RunOutcome("failed", {"error": f"Action {request.action.ref}: {exc}"})
    remote = posixpath.join(str(params.get("dir") or "/tmp"),
                            f"{request.action.name}-{uuid.uuid4().hex[:12]}{script.suffix}")
    params["env"] = {**(params.get("env") or {}), **secret_env}
    params["cmd"] = " ".join(shlex.quote(word) for word in
                             [remote, *script_argv(request, runner_params)])
    return await _run_everywhere(request, params, on_output, (str(script), remote))


async def _run_everywhere(request: RunRequest, params: dict[str, Any],
                          on_output: OutputCallback,
                          script: tuple[str, str] | None = None) -> RunOutcome:
    try:
        hosts = parse_hosts(str(params.get("hosts") or ""), params.get("port"))
    except ValueError as exc:
        return RunOutcome("failed", {"error": f"Parameter 'hosts': {exc}"})
    prefix = len(hosts) > 1
    results: dict[str, dict[str, Any]] = {}

    async def one(host: Host) -> None:
        shown = f"[{host.key}] " if prefix else ""
        results[host.key] = await _host_result(host, params, on_output, shown, script)

    async def every_host() -> None:
        if params.get("parallel") is True:
            await asyncio.gather(*(one(host) for host in hosts))
        else:
            for host in hosts:
                await one(host)

    task = asyncio.create_task(every_host())
    try:
        done, _ = await asyncio.wait({task}, timeout=request.timeout)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    timed_out = task not in done
    if timed_out:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    result: dict[str, Any] = {}
    for host in hosts:
        if host.key in results:
            result[host.key] = results[host.key]
        else:
            result[host.key] = _shell_entry("", "", -9, f"Action failed to complete in "
                                                        f"{request.timeout:g} seconds")
    if timed_out:
        return RunOutcome("timeout", result)
    ok = all(entry["succeeded"] for entry in result.values())
    return RunOutcome("succeeded" if ok else "failed", result)
