"""Helpers for runner tests: build requests, collect output, check processes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from levante.platform.core.packs import ActionMeta
from levante.platform.core.parameters import validate_parameters
from levante.platform.runners import RunRequest, get_runner

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_action(runner: str, params: dict[str, dict[str, Any]] | None = None,
                entry_point: str = "", ref: str = "test.act") -> ActionMeta:
    pack, _, name = ref.partition(".")
    return ActionMeta(ref=ref, pack=pack, name=name, description="", runner_type=runner,
                      entry_point=entry_point, enabled=True, parameters=params or {})


def request(action: ActionMeta, given: dict[str, Any], timeout: float | None = 10,
            pack_path: Path | None = None, allow_sudo: bool = False,
            env_extra: dict[str, str] | None = None) -> RunRequest:
    """A request whose parameters went through validation, as the service does it."""
    params = validate_parameters(action, get_runner(action.runner_type).runner_parameters,
                                 given)
    return RunRequest("exec-1", action, params, timeout, pack_path, allow_sudo,
                      env_extra or {})


class Output:
    """Collects on_output calls and lets a test wait for a given text."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, str]] = []
        self._event = asyncio.Event()

    def __call__(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text))
        self._event.set()

    def text(self, stream: str = "stdout") -> str:
        return "".join(t for s, t in self.chunks if s == stream)

    async def wait_for(self, needle: str, timeout: float = 5.0) -> None:
        async def loop() -> None:
            while needle not in self.text() + self.text("stderr"):
                self._event.clear()
                await self._event.wait()
        await asyncio.wait_for(loop(), timeout)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_dead(pid: int, timeout: float = 3.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while alive(pid):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
