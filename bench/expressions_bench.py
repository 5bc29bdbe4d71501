"""Micro-benchmark of the language and expressions: prints operations per second.

    .venv/bin/python bench/expressions_bench.py [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from levante.engine.expressions import evaluate
from levante.engine.languages.mistral_v2 import WorkflowSpec, parse_workflows

DATA: dict[str, Any] = {
    "x": 1,
    "name": "world",
    "xs": list(range(500)),
    "d": {"a": {"b": [1, 2, 3]}},
}


class Ctx:
    def env(self) -> dict[str, Any]:
        return {"region": "eu"}

    def execution(self) -> dict[str, Any]:
        return {"id": "wf1"}

    def task(self, name: str | None) -> dict[str, Any] | None:
        return {"name": name or "cur", "result": {"out": 1}, "state": "SUCCESS"}

    def tasks(self, wf_ex_id: str | None, recursive: bool,
              state: str | None) -> list[dict[str, Any]]:
        return []

    def global_var(self, name: str) -> Any:
        return None


def chain_definition(n: int) -> str:
    lines = ["version: '2.0'", "chain:", "  input: [a]", "  tasks:"]
    for i in range(n):
        lines.append(f"    t{i}:")
        lines.append("      action: std.echo output=<% $.a %>")
        lines.append(f"      publish: {{r{i}: <% task().result %>}}")
        if i + 1 < n:
            lines.append(f"      on-success: t{i + 1}")
    return "\n".join(lines) + "\n"


def rate(label: str, func: Callable[[], Any], seconds: float) -> None:
    func()  # warm caches
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            func()
        count += 20
        now = time.perf_counter()
        if now >= deadline:
            break
    per_second = count / (now - start)
    print(f"{label:<48} {per_second:>12,.0f} /s  {1e6 / per_second:>9.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="time per case")
    args = parser.parse_args()
    s = args.seconds
    ctx = Ctx()
    task_input = {"output": "Hello", "count": 3, "opts": {"a": 1, "b": [1, 2]}}
    print("expressions")
    rate("no expression (dict of 3)", lambda: evaluate(task_input, DATA, ctx), s)
    rate("no expression (plain string)", lambda: evaluate("hello", DATA, ctx), s)
    rate("yaql path  <% $.x %>", lambda: evaluate("<% $.x %>", DATA, ctx), s)
    rate("yaql task().result", lambda: evaluate("<% task().result %>", DATA, ctx), s)
    rate("yaql interpolation", lambda: evaluate("Hi <% $.name %>!", DATA, ctx), s)
    rate("yaql <% $.x + 1 %>", lambda: evaluate("<% $.x + 1 %>", DATA, ctx), s)
    rate("yaql guard <% $.x = 1 %>", lambda: evaluate("<% $.x = 1 %>", DATA, ctx), s)
    rate("yaql <% $.xs.len() %> (500 items)", lambda: evaluate("<% $.xs.len() %>", DATA, ctx), s)
    rate("yaql <% $.d.a.b.select($ * 2) %> (fast path)",
         lambda: evaluate("<% $.d.a.b.select($ * 2) %>", DATA, ctx), s)
    rate("yaql <% $.d.a.b.orderBy(-$) %> (YAQL engine)",
         lambda: evaluate("<% $.d.a.b.orderBy(-$) %>", DATA, ctx), s)
    rate("jinja {{ _.x }}", lambda: evaluate("{{ _.x }}", DATA, ctx), s)
    rate("jinja {{ _.x + 1 }}", lambda: evaluate("{{ _.x + 1 }}", DATA, ctx), s)
    rate("jinja template", lambda: evaluate("Hi {{ _.name }}!", DATA, ctx), s)
    items = [{**DATA, "item": i} for i in range(500)]
    item_input = {"output": "<% $.item %>", "note": "n=<% $.item %>"}

    def with_items() -> None:
        for data in items:
            evaluate(item_input, data, ctx)

    rate("with-items input over 500 items (per run)", with_items, s)
    print("language")
    chain = chain_definition(100)
    rate("parse 100-task chain", lambda: parse_workflows(chain), s)
    spec = parse_workflows(chain)[0]
    stored = json.dumps(spec.to_dict())
    rate("rebuild 100-task chain from JSON", lambda: WorkflowSpec.from_dict(json.loads(stored)), s)
    text = spec.to_json()
    rate("WorkflowSpec.from_json (cached) 100 tasks",
         lambda: WorkflowSpec.from_json(text[:1] + text[1:]), s)
    small = parse_workflows(chain_definition(3))[0]
    small_json = json.dumps(small.to_dict())
    rate("rebuild 3-task chain from JSON", lambda: WorkflowSpec.from_dict(json.loads(small_json)),
         s)
    rate("start_tasks() of 100-task chain", spec.start_tasks, s)


if __name__ == "__main__":
    main()
