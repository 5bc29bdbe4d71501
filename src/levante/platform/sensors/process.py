"""One sensor's process under its container: started, fed, logged, restarted with backoff.

:class:`SensorProcess` starts the wrapper (``wrapper.py``) with the pack's interpreter,
answers the sensor's requests one at a time in order (:mod:`.calls`: a dispatched instance
is committed before the answer), logs every line of the sensor's output under its ref, and
when the process ends without being asked to, starts it again after a delay that doubles
from ``initial_backoff`` up to ``max_backoff`` (back to the start once it ran for
``backoff_reset`` seconds). A sensor whose ``run`` returned (exit 0) is not restarted, as
in StackStorm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from levante.contract.delivery import Backoff as Delays
from levante.platform.core.executions import pack_config
from levante.platform.core.pack_env import needs_virtualenv, virtualenv_python
from levante.platform.runners.python_runner import SHIM_DIR
from levante.platform.sensors import store
from levante.platform.sensors.calls import SensorCalls
from levante.platform.triggers import store as trigger_store
from levante.platform.triggers.builtin import SENSOR_EXIT, SENSOR_SPAWN

log = logging.getLogger("levante.platform.sensors")

WRAPPER = Path(__file__).resolve().parent / "wrapper.py"
LINE_LIMIT = 16 * 1024 * 1024  # the longest line (a dispatched payload) read from a sensor
_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt|Warning)\b")
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


@dataclass(frozen=True)
class Settings:
    """The ``[sensorcontainer]`` options one container runs with."""

    lease_seconds: float = 15.0
    renew_interval: float = 3.0
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    backoff_reset: float = 60.0
    stop_timeout: float = 5.0
    max_sensors: int = 0
    validate_trigger_payload: bool = True
    log_level: str = "INFO"
    virtualenvs_dir: Path | None = None
    common_libs: bool = False


@dataclass
class Backoff:
    """Delays between restarts: ``initial``, doubled after each failure up to ``maximum``;
    a run that lasted ``reset_after`` seconds or more starts the count again."""

    initial: float
    maximum: float
    reset_after: float
    failures: int = 0

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= self.reset_after:
            self.failures = 0
        self.failures += 1
        return Delays(self.initial, self.maximum).delay(self.failures)


def sensor_view_for_wrapper(trigger: dict[str, Any]) -> dict[str, Any]:
    """A trigger as a sensor's ``add_trigger`` receives it (StackStorm's TriggerAPI)."""
    return {"id": trigger["id"], "uid": f"trigger:{trigger['pack']}:{trigger['name']}",
            "ref": trigger["ref"], "pack": trigger["pack"], "name": trigger["name"],
            "type": trigger["type"], "parameters": trigger["parameters"] or {},
            "description": trigger["description"] or ""}


def log_line(ref: str, line: str, previous: int = logging.INFO) -> int:
    """One line of a sensor's output in the container's log, under the sensor's ref, at
    the level the sensor's logger gave it (its first word, then dropped); the lines of a
    traceback at the level of the record they belong to (``previous``). Returns the level
    used."""
    text = line.rstrip("\n")
    if not text.strip():
        return previous
    first, _, rest = text.partition(" ")
    if first in _LEVELS:
        level, text = _LEVELS[first], rest  # (the container's line says the level)
    elif text.startswith((" ", "\t", "Traceback")) or (
            previous > logging.INFO and _EXCEPTION_LINE.match(text)):
        level = previous
    else:
        level = logging.INFO
    log.log(level, "[%s] %s", ref, text)
    return level


@dataclass
class SensorProcess:
    """The process of one sensor (a row of ``sensors``), as long as its container runs it."""

    row: dict[str, Any]
    db: Engine
    calls: SensorCalls
    settings: Settings
    hold: Callable[[], float]  # seconds the container's lease still covers
    backoff: Backoff = field(init=False)
    proc: asyncio.subprocess.Process | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False  # its run returned: not restarted
    starts: int = 0
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.backoff = Backoff(self.settings.initial_backoff, self.settings.max_backoff,
                               self.settings.backoff_reset)

    @property
    def ref(self) -> str:
        return str(self.row["ref"])

    # -- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Run the sensor until :meth:`stop` (restarting it when it fails)."""
        while not self.stopping.is_set():
            started = time.monotonic()
            code = await self._run_once()
            if self.stopping.is_set():
                break
            if code == 0:
                log.info("[%s] sensor ended (its run method returned); not restarted",
                         self.ref)
                self.finished = True
                break
            delay = self.backoff.next_delay(time.monotonic() - started)
            log.warning("[%s] restarting the sensor in %g s (failure %d in a row)", self.ref,
                        delay, self.backoff.failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def _run_once(self) -> int | None:
        try:
            argv, env, cwd, start = await asyncio.to_thread(self._prepare)
        except Exception as exc:
            log.error("[%s] cannot start the sensor: %s", self.ref, exc)
            return None
        if self.stopping.is_set():
            return None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd, limit=LINE_LIMIT,
                start_new_session=True)
        except OSError as exc:
            log.error("[%s] cannot start the sensor: %s", self.ref, exc.strerror or exc)
            return None
        self.proc = proc
        if self.stopping.is_set():  # stop() came while the process was being started
            self._signal(signal.SIGTERM)
            asyncio.get_running_loop().call_later(self.settings.stop_timeout, self._signal,
                                                  signal.SIGKILL)
        self.starts += 1
        log.info("[%s] sensor started (pid %s)%s", self.ref, proc.pid,
                 f", start {self.starts}" if self.starts > 1 else "")
        await self._record(SENSOR_SPAWN, {"id": self.row["class_name"],
                                           "timestamp": int(time.time()), "pid": proc.pid,
                                           "cmd": " ".join(argv)})
        await self.send(start)
        errors = asyncio.create_task(self._read_output())
        try:
            await self._serve_requests()
            code = await proc.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(errors, 2)
            self.proc = None
        log.log(logging.INFO if code == 0 else logging.WARNING,
                "[%s] sensor exited with code %s", self.ref, code)
        await self._record(SENSOR_EXIT, {"id": self.row["class_name"],
                                          "timestamp": int(time.time()), "exit_code": code})
        return code

    def _prepare(self) -> tuple[list[str], dict[str, str], str, dict[str, Any]]:
        """The command, environment, folder and first message of the sensor's process."""
        pack = str(self.row["pack"])
        pack_path = store.pack_paths(self.db, [pack]).get(pack)
        if pack_path is None:
            raise RuntimeError(f"pack {pack!r} is not registered")
        source = Path(pack_path) / str(self.row["entry_point"])
        if not source.is_file():
            raise RuntimeError(f"its Python file {source} does not exist")
        python = sys.executable
        in_env = False
        if needs_virtualenv(pack_path) and self.settings.virtualenvs_dir is not None:
            found = virtualenv_python(self.settings.virtualenvs_dir, pack)
            if found is None:
                raise RuntimeError(f"the virtual environment of pack {pack!r} is missing: "
                                   f"run `levante pack setup-virtualenv {pack}`")
            python, in_env = str(found), True
        parts = [str(SHIM_DIR)]
        if self.settings.common_libs:
            parts.append(str(Path(pack_path) / "lib"))
        parts.append(str(source.parent))
        if not in_env:
            parts.append(os.environ.get("PYTHONPATH", ""))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in parts if p),
               "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        triggers = store.triggers_of_types(self.db, list(self.row["trigger_types"] or []))
        self.triggers = {t["ref"]: t for t in triggers}
        start = {"op": "start", "ref": self.ref, "file": str(source),
                 "class_name": self.row["class_name"],
                 "poll_interval": self.row["poll_interval"],
                 "config": pack_config(self.db, pack),
                 "triggers": [sensor_view_for_wrapper(t) for t in triggers],
                 "log_level": self.settings.log_level, "hold": self.hold(),
                 "stop_timeout": self.settings.stop_timeout}
        return [python, "-P", str(WRAPPER), self.ref], env, str(pack_path), start

    async def _record(self, trigger: str, payload: dict[str, Any]) -> None:
        """A built-in sensor trigger (process_spawn, process_exit), when its type exists."""
        def record() -> None:
            if store.trigger_type_exists(self.db, trigger):
                trigger_store.dispatch(self.db, trigger, payload)
        try:
            await asyncio.to_thread(record)
        except Exception as exc:
            log.warning("[%s] %s not recorded: %s", self.ref, trigger, exc)

    async def _serve_requests(self) -> None:
        """Answer the sensor's requests, one at a time in order, until its output ends."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                log.error("[%s] a request longer than %d bytes; stopping the sensor",
                          self.ref, LINE_LIMIT)
                self._signal(signal.SIGKILL)
                return
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                log_line(self.ref, line.decode("utf-8", "replace"))
                continue
            if not isinstance(message, dict):
                continue
            reply = await asyncio.to_thread(self.calls.answer, message, log)
            await self.send(reply)

    async def _read_output(self) -> None:
        proc = self.proc
        assert proc is not None and proc.stderr is not None
        level = logging.INFO
        while True:
            try:
                line = await proc.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            level = log_line(self.ref, line.decode("utf-8", "replace"), level)

    # -- from the container --------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            return
        try:
            proc.stdin.write(json.dumps(message, default=str).encode() + b"\n")
            await proc.stdin.drain()
        except (OSError, RuntimeError):
            pass  # it ended meanwhile: its exit is handled by the loop

    async def sync_triggers(self, current: list[dict[str, Any]]) -> None:
        """Tell the sensor which of its triggers were created, changed or deleted."""
        if self.proc is None:
            return
        now = {t["ref"]: t for t in current}
        for ref, trigger in now.items():
            old = self.triggers.get(ref)
            if old is None:
                await self.send({"op": "add_trigger", "trigger": sensor_view_for_wrapper(trigger)})
            elif old["parameters"] != trigger["parameters"]:
                await self.send({"op": "update_trigger",
                                 "trigger": sensor_view_for_wrapper(trigger)})
        for ref, trigger in self.triggers.items():
            if ref not in now:
                await self.send({"op": "remove_trigger",
                                 "trigger": sensor_view_for_wrapper(trigger)})
        self.triggers = now

    def _signal(self, sig: int) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    async def stop(self) -> None:
        """Stop the sensor: ``cleanup()`` runs in it (SIGTERM); killed after
        ``stop_timeout`` seconds."""
        self.stopping.set()
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.settings.stop_timeout)
        except TimeoutError:
            log.warning("[%s] sensor did not stop within %g s; killing it", self.ref,
                        self.settings.stop_timeout)
            self._signal(signal.SIGKILL)
            await proc.wait()
