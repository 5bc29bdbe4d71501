"""The local runners: ``local-shell-cmd`` and ``local-shell-script``.

A command is run as ``bash -c <cmd>``, the way StackStorm runs it. A script gets its
parameters as separate arguments (positional ones by ``position``, the others as
``--name=value``), handed to ``execve`` as a list: a value is never parsed by a shell.

A ``secret: true`` parameter never goes on the command line, where ``ps`` and
``/proc/<pid>/cmdline`` would show it to every user of the host: the script finds it in
the environment variable ``ST2_ACTION_SECRET_<NAME>`` (the name upper-cased, any character
other than a letter, digit or ``_`` turned into ``_``); a positional secret leaves an
empty argument in its place so that the other positions do not move.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from levante.platform.core.parameters import merge_schema, positional_and_named, secret_names
from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest
from levante.platform.runners.catalog import LOCAL_SHELL_SCRIPT
from levante.platform.runners.process import ProcessResult, run_process, strip_shell_chars

# Environment a local action inherits from the platform; everything else (database URLs,
# credentials of the platform itself) stays out of the action's reach.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "USER", "LOGNAME", "SHELL",
                 "TMPDIR", "TZ", "TERM")
SECRET_ENV_PREFIX = "ST2_ACTION_SECRET_"
_NOT_ENV_CHAR = re.compile(r"[^A-Z0-9_]")


def base_env(request: RunRequest, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """The action's environment: a few inherited variables, the execution's, then ``env``."""
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["ST2_ACTION_PACK_NAME"] = request.action.pack
    env["ST2_ACTION_EXECUTION_ID"] = request.execution_id
    env["LEVANTE_EXECUTION_ID"] = request.execution_id
    env.update({str(k): str(v) for k, v in request.env_extra.items()})
    for key, value in (extra or {}).items():
        env[str(key)] = value if isinstance(value, str) else _as_arg(value)
    return env


def _as_arg(value: Any) -> str:
    """A parameter value as one command-line argument."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _sudo_prefix(params: dict[str, Any]) -> tuple[list[str], bytes | None]:
    """The ``sudo`` words to put before the command (none when already root)."""
    if params.get("sudo") is not True or os.geteuid() == 0:
        return [], None
    password = params.get("sudo_password")
    if password:
        return ["sudo", "-S", "-E", "-p", "", "--"], (str(password) + "\n").encode()
    return ["sudo", "-n", "-E", "--"], None


def shell_result(proc: ProcessResult, timeout: float | None) -> RunOutcome:
    """StackStorm's shell result and status for a finished (or killed) process."""
    succeeded = proc.return_code == 0 and not proc.timed_out
    result: dict[str, Any] = {
        "failed": not succeeded,
        "succeeded": succeeded,
        "return_code": proc.return_code,
        "stdout": strip_shell_chars(proc.stdout),
        "stderr": strip_shell_chars(proc.stderr),
    }
    if proc.timed_out:
        result["error"] = f"Action failed to complete in {_seconds(timeout)} seconds"
        return RunOutcome("timeout", result)
    return RunOutcome("succeeded" if succeeded else "failed", result)


def _seconds(timeout: float | None) -> str:
    if timeout is None:
        return "?"
    return str(int(timeout)) if float(timeout).is_integer() else str(timeout)


def _cwd(params: dict[str, Any], default: str | None) -> str | None:
    cwd = params.get("cwd")
    return str(cwd) if cwd else default


def _failure(message: str) -> RunOutcome:
    return RunOutcome("failed", {"failed": True, "succeeded": False, "return_code": 1,
                                 "stdout": "", "stderr": message, "error": message})


async def _run(request: RunRequest, argv: list[str], on_output: OutputCallback,
               cwd: str | None, env: dict[str, str], stdin_data: bytes | None) -> RunOutcome:
    if argv[0] == "sudo" and shutil.which("sudo", path=env.get("PATH")) is None:
        return _failure("sudo was asked for but is not installed on this host")
    try:
        proc = await run_process(argv, on_output=on_output, timeout=request.timeout, cwd=cwd,
                                 env=env, stdin_data=stdin_data)
    except OSError as exc:
        return _failure(f"Cannot start {argv[0]}: {exc.strerror or exc}")
    except ValueError as exc:  # e.g. a NUL byte in an argument or the environment
        return _failure(f"Cannot start {argv[0]}: {exc}")
    return shell_result(proc, request.timeout)


async def run_shell_cmd(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Run the ``cmd`` parameter with ``bash -c`` in ``cwd`` with ``env`` added."""
    params = request.parameters
    cmd = params.get("cmd")
    if not isinstance(cmd, str) or not cmd.strip():
        return _failure("Parameter 'cmd' is required for a local-shell-cmd action")
    prefix, stdin_data = _sudo_prefix(params)
    env = base_env(request, params.get("env") or {})
    cwd = _cwd(params, None)
    if cwd and not Path(cwd).is_dir():
        return _failure(f"Working folder (cwd) {cwd!r} does not exist")
    return await _run(request, [*prefix, "bash", "-c", cmd], on_output, cwd, env, stdin_data)


def interpreter(script: Path) -> list[str]:
    """How to start a script: its shebang line, else by its suffix, else bash."""
    try:
        with script.open("rb") as fh:
            first = fh.readline(512)
    except OSError:
        first = b""
    if first.startswith(b"#!"):
        words = shlex.split(first[2:].decode("utf-8", errors="replace").strip())
        if words:
            if Path(words[0]).name == "env" and len(words) > 1 and words[1] in (
                "python", "python3"
            ):
                return [sys.executable, *words[2:]]
            return words
    if script.suffix == ".py":
        return [sys.executable]
    return ["bash"]


def secret_env_name(name: str) -> str:
    """The environment variable a secret parameter reaches a script in."""
    return SECRET_ENV_PREFIX + _NOT_ENV_CHAR.sub("_", name.upper())


def _action_secrets(request: RunRequest,
                    runner_params: dict[str, dict[str, Any]]) -> set[str]:
    schema = merge_schema(runner_params, request.action.parameters)
    return secret_names(schema) - set(runner_params)


def script_argv(request: RunRequest, runner_params: dict[str, dict[str, Any]]) -> list[str]:
    """The script's arguments: positional parameters in order, then ``--name=value``.

    Secret parameters are left out (an empty argument holds a positional one's place):
    :func:`script_secret_env` hands them over instead.
    """
    params = request.parameters
    schema = merge_schema(runner_params, request.action.parameters)
    # Runner parameters configure the run; only the action's own are arguments (st2 too).
    exclude = set(runner_params)
    secrets = _action_secrets(request, runner_params)
    # Split the names (not the values) so that a secret can be told apart.
    positional, named = positional_and_named(schema, {k: k for k in params}, exclude)
    kwarg_op = str(params.get("kwarg_op") or "--")
    args = ["" if name in secrets else _as_arg(params[name]) for name in positional]
    for name in sorted(named):
        value = params[name]
        if value is None or name in secrets:
            continue
        args.append(f"{kwarg_op}{name}={_as_arg(value)}")
    return args


def script_secret_env(request: RunRequest,
                      runner_params: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``ST2_ACTION_SECRET_<NAME>`` for each secret parameter that has a value.

    ``ValueError`` when two secret names give the same variable (``a-b`` and ``a_b``).
    """
    env: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in sorted(_action_secrets(request, runner_params)):
        value = request.parameters.get(name)
        if value is None:
            continue
        var = secret_env_name(name)
        if var in owner:
            raise ValueError(f"secret parameters {owner[var]!r} and {name!r} would both be "
                             f"passed as {var}; rename one of them")
        owner[var] = name
        env[var] = _as_arg(value)
    return env


async def run_shell_script(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Run the action's ``entry_point`` script with its parameters as arguments."""
    if not request.action.entry_point:
        return _failure(f"Action {request.action.ref} has no entry_point script")
    script = Path(request.action.entry_point)
    if not script.is_file():
        return _failure(f"Script {script} of action {request.action.ref} does not exist")
    params = request.parameters
    prefix, stdin_data = _sudo_prefix(params)
    env = base_env(request, params.get("env") or {})
    try:
        env.update(script_secret_env(request, LOCAL_SHELL_SCRIPT.runner_parameters))
    except ValueError as exc:
        return _failure(f"Action {request.action.ref}: {exc}")
    cwd = _cwd(params, str(script.parent))
    if cwd and not Path(cwd).is_dir():
        return _failure(f"Working folder (cwd) {cwd!r} does not exist")
    argv = [*prefix, *interpreter(script), str(script),
            *script_argv(request, LOCAL_SHELL_SCRIPT.runner_parameters)]
    return await _run(request, argv, on_output, cwd, env, stdin_data)
