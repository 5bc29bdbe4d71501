"""Running a local process for a runner: streamed output, timeout and cancel kill its group.

Each action process starts in a session of its own, so killing the process group also kills
whatever it started (a shell's children, a pipeline), which a plain ``kill`` would leave
running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from levante import cpu
from levante.platform.runners.base import OutputCallback

log = logging.getLogger(__name__)

CHUNK = 65536
# After the main process ends, how long its output pipes may stay open (held by children
# it left behind) before those children are killed too.
DRAIN_GRACE = 1.0
EXIT_POLL = 0.05


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) process left: exit code and all its output."""

    return_code: int
    stdout: str
    stderr: str
    timed_out: bool


async def _feed(proc: asyncio.subprocess.Process, data: bytes | None) -> None:
    """Write ``data`` to the process's stdin and close it (a task: the process may be slow
    to read, and the timeout must still apply)."""
    if data is None or proc.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    proc.stdin.close()


async def _exit_seen(proc: asyncio.subprocess.Process) -> None:
    while proc.returncode is None:
        await asyncio.sleep(EXIT_POLL)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    # The process leads its own group. (Not proc.kill(): Popen.send_signal polls, which may
    # reap the child behind the back of asyncio's watcher and lose its exit status.)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _safe(on_output: OutputCallback) -> OutputCallback:
    """The callback, made unable to break the run: its failures are logged once."""
    failed = False

    def call(stream: str, text: str) -> None:
        nonlocal failed
        try:
            on_output(stream, text)
        except Exception:
            if not failed:
                failed = True
                log.exception("output callback failed; the action keeps running")

    return call


async def _pump(
    stream: asyncio.StreamReader, name: str, sink: list[str], on_output: OutputCallback
) -> None:
    """Read a pipe to its end, handing complete lines (or long chunks) to ``on_output``."""
    pending = b""
    while True:
        data = await stream.read(CHUNK)
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", errors="replace") + "\n"
            sink.append(text)
            on_output(name, text)
        if len(pending) >= CHUNK:
            text = pending.decode("utf-8", errors="replace")
            pending = b""
            sink.append(text)
            on_output(name, text)
    if pending:
        text = pending.decode("utf-8", errors="replace")
        sink.append(text)
        on_output(name, text)


async def run_process(
    argv: Sequence[str],
    *,
    on_output: OutputCallback,
    timeout: float | None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    stdin_data: bytes | None = None,
) -> ProcessResult:
    """Run ``argv`` (no shell involved) to its end, streaming its output.

    On timeout the process group is killed and ``timed_out`` is set (return code -9).
    When the awaiting task is cancelled, the group is killed and the cancellation re-raised.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=cpu.for_children(),  # every CPU, not just this service's one
    )
    out: list[str] = []
    err: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    on_output = _safe(on_output)
    pumps: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(
        _pump(proc.stdout, "stdout", out, on_output),
        _pump(proc.stderr, "stderr", err, on_output),
    ))
    # Process.wait() only returns once the pipes are closed, which children left behind
    # can delay for ever; the exit itself is seen by polling the return code.
    exited: asyncio.Future[Any] = asyncio.ensure_future(_exit_seen(proc))
    timed_out = False
    feeder: asyncio.Future[Any] = asyncio.ensure_future(_feed(proc, stdin_data))
    try:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        done, _ = await asyncio.wait({pumps, exited}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if pumps in done:
            # Output closed: normally the process has ended or is about to.
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                await asyncio.wait_for(proc.wait(), left)
            except TimeoutError:
                timed_out = True
        elif exited in done:
            # Ended, but something it started still holds the pipes: grace, then kill.
            try:
                await asyncio.wait_for(asyncio.shield(pumps), DRAIN_GRACE)
            except TimeoutError:
                _kill_group(proc)
        else:
            timed_out = True
        if timed_out:
            _kill_group(proc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), 5.0)
        if not pumps.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pumps), DRAIN_GRACE)
    except asyncio.CancelledError:
        _kill_group(proc)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(exited), 5.0)
        raise
    finally:
        for task in (pumps, exited, feeder):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # Process.wait() ends once the transport has seen the exit and closed its pipes;
        # if something that escaped the group still holds them, let them go.
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), DRAIN_GRACE)
        except (TimeoutError, asyncio.CancelledError):
            transport = getattr(proc, "_transport", None)
            if transport is not None:
                transport.close()
    code = proc.returncode if proc.returncode is not None and not timed_out \
        else -signal.SIGKILL
    return ProcessResult(code, "".join(out), "".join(err), timed_out)


def strip_shell_chars(text: str) -> str:
    """Output without its final newline, as StackStorm reports it."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text
