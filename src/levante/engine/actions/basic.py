"""Small standard actions: no-op, echo, fail, sleep, test_dict, and the JavaScript stand-in."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

from levante.engine.actions.base import REQUIRED, ActionContext, ActionError, StdAction

FAIL_MESSAGE = "Fail action expected exception."
NO_JAVASCRIPT = (
    "{name} cannot run: no JavaScript runtime is available in this engine "
    "(Levante does not evaluate JavaScript; use a YAQL or Jinja expression instead)"
)


def _seconds(action: StdAction, values: dict[str, Any], pname: str) -> float:
    raw = values[pname]
    if raw is None or raw == "":
        return 0.0
    if isinstance(raw, bool):
        raise action.input_error(pname, f"must be a number of seconds, got {raw!r}")
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise action.input_error(pname, f"must be a number of seconds, got {raw!r}") from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise action.input_error(pname, f"must be a finite number of seconds, got {raw!r}")
    return max(seconds, 0.0)


class NoOp(StdAction):
    name = "std.noop"
    description = "Does nothing; the result is null. For tests and placeholders."
    inline_ok = True

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        return None


class AsyncNoOp(NoOp):
    name = "std.async_noop"
    description = (
        "Does nothing and completes only when its result is reported by "
        "PUT /v2/action_executions/<id>."
    )
    is_async = True


class Echo(StdAction):
    name = "std.echo"
    description = "Returns its output unchanged, after an optional delay in seconds."
    input_spec = [("output", REQUIRED), ("delay", 0)]
    inline_ok = True

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        values["delay"] = _seconds(self, values, "delay")
        return values

    def can_run_inline(self, input: Mapping[str, Any]) -> bool:
        return not input.get("delay")

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        return input["output"]

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        delay = input.get("delay") or 0
        if delay:
            await asyncio.sleep(delay)
        return input["output"]


class Fail(StdAction):
    name = "std.fail"
    description = "Always fails, with error_data as its error when given."
    input_spec = [("error_data", None)]
    inline_ok = True

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        error_data = input.get("error_data")
        raise ActionError(error_data if error_data else FAIL_MESSAGE)


class Sleep(StdAction):
    name = "std.sleep"
    description = "Waits the given number of seconds; the result is null."
    input_spec = [("seconds", 1)]

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        values["seconds"] = _seconds(self, values, "seconds")
        return values

    def can_run_inline(self, input: Mapping[str, Any]) -> bool:
        return not input.get("seconds")

    def waits_for(self, input: Mapping[str, Any]) -> float:
        return float(input.get("seconds") or 0)

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        return None

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        seconds = input.get("seconds") or 0
        if seconds:
            await asyncio.sleep(seconds)
        return None


class TestDict(StdAction):
    name = "std.test_dict"
    description = "Returns a dict of size keys key_prefix0.. each mapped to val. For tests."
    input_spec = [("size", 0), ("key_prefix", ""), ("val", "")]
    inline_ok = True

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        size = values["size"]
        if isinstance(size, bool):
            raise self.input_error("size", f"must be a whole number, got {size!r}")
        try:
            values["size"] = int(size)
        except (TypeError, ValueError):
            raise self.input_error("size", f"must be a whole number, got {size!r}") from None
        if values["size"] < 0:
            raise self.input_error("size", f"must not be negative, got {size!r}")
        if values["size"] > 1_000_000:
            raise self.input_error("size", "must be at most 1000000")
        return values

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        prefix = "" if input["key_prefix"] is None else str(input["key_prefix"])
        val = input["val"]
        return {f"{prefix}{i}": val for i in range(input["size"])}


class JavaScript(StdAction):
    name = "std.javascript"
    description = "Would evaluate JavaScript; always fails here: no JavaScript runtime."
    input_spec = [("script", REQUIRED), ("context", None)]
    inline_ok = True

    def run_inline(self, input: Mapping[str, Any]) -> Any:
        raise ActionError(NO_JAVASCRIPT.format(name=self.name))


class JS(JavaScript):
    name = "std.js"
