"""Entry point of a ``python-script`` action's process.

Usage: ``python -P <this file> <module file> <result file>``, with the ``st2shim`` folder
first on ``PYTHONPATH``: the file runs as a script with the interpreter of the pack's
virtual environment (where Levante is not installed), so it needs only the standard library
and the shim's ``st2common.runners.base_action``. The parameters and the pack config
(``{"parameters": {...}, "config": {...}, "log_level": ...}``; ``config`` defaults to ``{}``)
arrive as JSON on stdin (never on the command line, where ``ps`` would show secrets). The
result goes as JSON to a dedicated file in a private folder, so the action's own prints on
stdout cannot be mistaken for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import logging
import os
import sys
import traceback
from typing import Any

LEVELS = {"AUDIT": logging.DEBUG, "CRITICAL": logging.CRITICAL, "ERROR": logging.ERROR,
          "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG}


def _is_action_class(obj: Any, module_name: str) -> bool:
    """A class of the module derived from the action base class (the shim's, whichever
    import path the pack used for it)."""
    if not inspect.isclass(obj) or obj.__module__ != module_name:
        return False
    if obj.__dict__.get("_levante_action_base"):
        return False
    return any(base.__dict__.get("_levante_action_base") for base in obj.__mro__[1:])


def _load_action_class(path: str) -> type[Any]:
    folder = os.path.dirname(os.path.abspath(path))
    for extra in (os.path.join(folder, "lib"), folder):
        if extra not in sys.path:
            sys.path.insert(0, extra)
    spec = importlib.util.spec_from_file_location("levante_pack_action", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load Python module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    found = [obj for obj in vars(module).values() if _is_action_class(obj, module.__name__)]
    if not found:
        raise RuntimeError(f"no Action subclass found in {path}")
    if len(found) > 1:
        names = ", ".join(sorted(c.__name__ for c in found))
        raise RuntimeError(f"several Action subclasses in {path}: {names}")
    return found[0]


def main(argv: list[str]) -> int:
    path, result_file = argv[0], argv[1]
    payload = json.loads(sys.stdin.read() or "{}")
    params: dict[str, Any] = payload.get("parameters") or {}
    config: dict[str, Any] = payload.get("config") or {}
    logging.basicConfig(
        stream=sys.stderr, level=LEVELS.get(str(payload.get("log_level")), logging.DEBUG),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    importlib.import_module("st2common.runners.base_action")  # the shim: fail early
    try:
        action = _load_action_class(path)(config=config)
        value = action.run(**params)
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    ok = True
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        ok, value = value
    try:
        text = json.dumps({"ok": ok, "result": value}, default=str)
    except ValueError as exc:  # e.g. a circular structure
        text = json.dumps({"ok": False, "result": f"result is not JSON: {exc}"})
        ok = False
    with open(result_file, "w", encoding="utf-8") as out:
        out.write(text)
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
