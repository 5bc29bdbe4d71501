"""Entry point of a ``python-script`` action's process (run with the platform's Python).

Usage: ``python -m levante.platform.runners.python_wrapper <module file> <result file>``; the
parameters and the pack config arrive as JSON on stdin (never on the command line, where
``ps`` would show secrets). The result goes as JSON to a dedicated file in a private folder,
so the action's own prints on stdout cannot be mistaken for it.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import os
import sys
import traceback
import types
from typing import Any

from levante.platform.runners.python_action import Action

LEVELS = {"AUDIT": logging.DEBUG, "CRITICAL": logging.CRITICAL, "ERROR": logging.ERROR,
          "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG}


def _install_st2_shim() -> None:
    """Let StackStorm packs' ``from st2common.runners.base_action import Action`` work."""
    if "st2common" in sys.modules:
        return
    names = ["st2common", "st2common.runners", "st2common.runners.base_action"]
    for name in names:
        module = types.ModuleType(name)
        module.__path__ = []
        sys.modules[name] = module
    sys.modules["st2common.runners.base_action"].Action = Action  # type: ignore[attr-defined]
    sys.modules["st2common"].runners = sys.modules["st2common.runners"]  # type: ignore[attr-defined]
    sys.modules["st2common.runners"].base_action = (  # type: ignore[attr-defined]
        sys.modules["st2common.runners.base_action"]
    )


def _load_action_class(path: str) -> type[Action]:
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
    found = [
        obj for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Action) and obj is not Action
        and obj.__module__ == module.__name__
    ]
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
    _install_st2_shim()
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
