"""The ``python-script`` runner: a pack's ``Action.run`` in a process of its own."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

import levante
from levante.platform.core.pack_env import needs_virtualenv, virtualenv_python
from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest
from levante.platform.runners.local import base_env
from levante.platform.runners.process import run_process, strip_shell_chars

_RUNNER_ONLY = ("env", "timeout", "log_level")


def _read_mapping(file: Path) -> dict[str, Any]:
    if not file.is_file():
        return {}
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def pack_config(pack_path: Path | str | None) -> dict[str, Any]:
    """The pack's ``config.yaml`` (an action's ``self.config``), completed with the
    defaults of ``config.schema.yaml``; an empty mapping when the pack has neither."""
    if not pack_path:
        return {}
    config = _read_mapping(Path(pack_path) / "config.yaml")
    for key, spec in _read_mapping(Path(pack_path) / "config.schema.yaml").items():
        if isinstance(spec, dict) and "default" in spec:
            config.setdefault(key, spec["default"])
    return config


SHIM_DIR = Path(__file__).resolve().parent / "st2shim"
WRAPPER = Path(__file__).resolve().parent / "python_wrapper.py"


def _pythonpath(request: RunRequest, script: Path, in_virtualenv: bool) -> str:
    """The shim first, then the pack's ``actions/lib`` (and, with common libs, its
    ``lib/``), the script's folder; Levante itself (and the platform's own PYTHONPATH)
    only outside a pack environment."""
    parts = [str(SHIM_DIR)]
    if request.pack_path:
        pack = Path(request.pack_path)
        parts.append(str(pack / "actions" / "lib"))
        if request.common_libs:
            parts.append(str(pack / "lib"))
    parts.append(str(script.parent))
    if not in_virtualenv:
        parts.append(str(Path(levante.__file__).resolve().parent.parent))
        parts.append(os.environ.get("PYTHONPATH", ""))
    return os.pathsep.join(p for p in parts if p)


def _interpreter(request: RunRequest) -> tuple[str | None, str]:
    """The Python to run the action with (None: its pack environment is missing), and why
    not."""
    if not request.pack_path or not needs_virtualenv(request.pack_path):
        return sys.executable, ""
    if request.virtualenvs_dir is None:
        return sys.executable, ""
    python = virtualenv_python(request.virtualenvs_dir, request.action.pack)
    if python is None:
        return None, (f"The virtual environment of pack {request.action.pack!r} is missing: "
                      f"run `levante pack setup-virtualenv {request.action.pack}`")
    return str(python), ""


async def run_python_script(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Run the entry point's Action; result {result, stdout, stderr, exit_code}."""
    script = Path(request.action.entry_point) if request.action.entry_point else None
    if script is None or not script.is_file():
        message = f"Python module of action {request.action.ref} does not exist"
        return RunOutcome("failed", {"result": None, "stdout": "", "stderr": message,
                                     "exit_code": 1, "error": message})
    params = {k: v for k, v in request.parameters.items()
              if k not in _RUNNER_ONLY}
    payload = json.dumps({
        "parameters": params,
        "config": request.pack_config if request.pack_config is not None
        else pack_config(request.pack_path),
        "log_level": request.parameters.get("log_level", "DEBUG"),
    }, default=str).encode()
    env = base_env(request, request.parameters.get("env") or {})
    python, missing = _interpreter(request)
    if python is None:
        return RunOutcome("failed", {"result": None, "stdout": "", "stderr": missing,
                                     "exit_code": 1, "error": missing})
    env["PYTHONPATH"] = _pythonpath(request, script, python != sys.executable)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    folder = tempfile.mkdtemp(prefix="levante-py-")
    try:
        result_file = os.path.join(folder, "result.json")
        argv = [python, "-P", str(WRAPPER), str(script), result_file]
        try:
            proc = await run_process(argv, on_output=on_output, timeout=request.timeout,
                                     cwd=str(script.parent), env=env, stdin_data=payload)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            message = f"Cannot start Python for {request.action.ref}: {reason}"
            return RunOutcome("failed", {"result": None, "stdout": "", "stderr": message,
                                         "exit_code": 1, "error": message})
        ok, value = True, None
        try:
            with open(result_file, encoding="utf-8") as fh:
                written = json.load(fh)
            ok, value = bool(written.get("ok")), written.get("result")
        except (OSError, ValueError):
            ok = False
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {
        "result": value,
        "stdout": strip_shell_chars(proc.stdout),
        "stderr": strip_shell_chars(proc.stderr),
        "exit_code": proc.return_code,
    }
    if proc.timed_out:
        seconds = request.timeout
        result["error"] = f"Action failed to complete in {seconds:g} seconds" if seconds \
            else "Action timed out"
        return RunOutcome("timeout", result)
    succeeded = ok and proc.return_code == 0
    return RunOutcome("succeeded" if succeeded else "failed", result)
