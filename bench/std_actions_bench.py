"""Per-call cost of the standard actions the engine runs inline (lookup, validation, run).

Run: `.venv/bin/python bench/std_actions_bench.py`. Prints microseconds per call, the median
of a few rounds, for the inline fast path and for the awaited path.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from levante.engine.actions import ActionContext, get_action

ROUNDS = 5
CALLS = 20_000


def per_call_us(fn: Callable[[], Any], calls: int = CALLS) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def inline(name: str, input: dict[str, Any]) -> Callable[[], Any]:
    def call() -> Any:
        action = get_action(name)
        values = action.validate_input(input)
        assert action.can_run_inline(values)
        return action.run_inline(values)

    return call


def awaited(name: str, input: dict[str, Any], calls: int) -> float:
    ctx = ActionContext()

    async def loop() -> float:
        samples = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(calls):
                action = get_action(name)
                await action.run(action.validate_input(input), ctx)
            samples.append((time.perf_counter() - start) / calls * 1e6)
        return statistics.median(samples)

    return asyncio.run(loop())


def main() -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("std.noop", {}),
        ("std.echo", {"output": {"greeting": "hello", "n": [1, 2, 3]}}),
        ("std.test_dict", {"size": 10, "key_prefix": "k", "val": "v"}),
    ]
    print(f"{'action':<16} {'inline us/call':>15} {'awaited us/call':>16}")
    for name, input in cases:
        fast = per_call_us(inline(name, input))
        slow = awaited(name, input, CALLS // 4)
        print(f"{name:<16} {fast:>15.2f} {slow:>16.2f}")


if __name__ == "__main__":
    main()
