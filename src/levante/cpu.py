"""Keeping a service process's threads on one CPU of its own (`[core] cpu_affinity`).

A Levante service is one Python process: its event loop and the threads that run database
work take turns on the GIL, and every hand-over between them wakes another thread. When
those threads sit on different CPUs each wake-up crosses CPUs, which costs a little on a
workflow's critical path. Pinning the process's threads to one CPU keeps them close, but a
pinned process cannot move away from a busy neighbour: on a shared host that starves it.
So nothing is pinned unless asked (`off`, the default).

When asked (`auto` or a CPU number), a process claims its CPU with an exclusive lock on a
file per CPU in a folder shared by the Levante processes of the host (`lock_dir`): two
Levante processes never keep to one CPU. The lock goes with the process, however it ends.
`auto` takes the least busy free CPU (measured over a tenth of a second) and pins nothing
when every CPU is taken; a number that another process holds is refused, naming the
holder. The processes of actions get every CPU back (see `for_children`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("levante.cpu")

OFF = ("off", "none", "no", "false", "")


def lock_dir() -> Path:
    """The folder of the CPU lock files, one per user of the host (every Levante process
    of that user sees the others' claims)."""
    return Path(tempfile.gettempdir()) / f"levante-cpus-{os.getuid()}"


def _allowed() -> set[int] | None:
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None
    try:
        return set(getter(0))
    except OSError:
        return None


# The CPUs this process was allowed when it started (read at import, before any pinning:
# `levante serve` imports this module first): what the processes of actions get back.
STARTING_CPUS: frozenset[int] | None = (
    frozenset(found) if (found := _allowed()) is not None else None)


def parse(setting: str, allowed: set[int]) -> str | int | None:
    """None (no pinning), "auto", or the CPU number `setting` names (one of `allowed`)."""
    value = setting.strip().lower()
    if value in OFF:
        return None
    if value == "auto":
        return "auto"
    try:
        cpu = int(value)
    except ValueError:
        raise ValueError(f"[core] cpu_affinity: expected off, auto or a CPU number, got "
                         f"{setting!r}") from None
    if cpu not in allowed:
        raise ValueError(f"[core] cpu_affinity: CPU {cpu} is not one this process may use "
                         f"(allowed: {', '.join(map(str, sorted(allowed)))})")
    return cpu


def busy(cpus: Iterable[int], seconds: float = 0.1) -> dict[int, float]:
    """Share of time each CPU was busy over `seconds` (from /proc/stat; 0 where unknown)."""
    def sample() -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        try:
            lines = Path("/proc/stat").read_text().splitlines()
        except OSError:
            return found
        for line in lines:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                ticks = [int(f) for f in fields]
                idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
                found[int(name[3:])] = (sum(ticks), idle)
        return found

    first = sample()
    time.sleep(seconds)
    second = sample()
    shares: dict[int, float] = {}
    for cpu in cpus:
        if cpu in first and cpu in second:
            total = second[cpu][0] - first[cpu][0]
            idle = second[cpu][1] - first[cpu][1]
            shares[cpu] = (total - idle) / total if total > 0 else 0.0
        else:
            shares[cpu] = 0.0
    return shares


def claim(cpu: int, folder: Path) -> int | None:
    """An open descriptor holding the lock of `cpu` in `folder` (this process's pid
    written in it), or None when another process holds it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / f"cpu-{cpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def holder(cpu: int, folder: Path) -> str:
    """The pid written by the process that holds `cpu` ("?" when unreadable)."""
    try:
        return (folder / f"cpu-{cpu}.lock").read_text().strip() or "?"
    except OSError:
        return "?"


def choose(setting: str, allowed: set[int], folder: Path,
           load: Callable[[Iterable[int]], dict[int, float]] = busy
           ) -> tuple[int, int] | None:
    """(CPU, descriptor holding its lock) for `setting`, or None for no pinning: `off`;
    `auto` on one CPU or when every CPU is held by another Levante process; otherwise
    `auto` takes the least busy free CPU. A number held by another process is an error."""
    wanted = parse(setting, allowed)
    if wanted is None:
        return None
    if isinstance(wanted, int):
        fd = claim(wanted, folder)
        if fd is None:
            raise ValueError(f"[core] cpu_affinity: CPU {wanted} is already kept by another "
                             f"Levante process (pid {holder(wanted, folder)}); choose "
                             f"another, auto or off")
        return wanted, fd
    if len(allowed) < 2:
        return None
    shares = load(allowed)
    for cpu in sorted(allowed, key=lambda c: (shares.get(c, 0.0), c)):
        fd = claim(cpu, folder)
        if fd is not None:
            return cpu, fd
    log.warning("[core] cpu_affinity = auto: every CPU is kept by another Levante process; "
                "this one is not pinned")
    return None


def pin_process(setting: str, folder: Path | None = None) -> int | None:
    """Keep this process's threads (those started from now on, and the calling one) on
    the CPU `setting` asks for, claimed for as long as the process lives (its lock file
    stays open until the process ends); call before the service starts its threads.
    Returns the CPU, or None when nothing was changed (off, one CPU, every CPU taken, or
    not supported)."""
    allowed = _allowed()
    if allowed is None:
        return None
    chosen = choose(setting, allowed, folder or lock_dir())
    if chosen is None:
        return None
    cpu, fd = chosen
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        os.close(fd)
        log.warning("could not keep to CPU %d ([core] cpu_affinity): %s", cpu, exc)
        return None
    return cpu


def for_children() -> Callable[[], None] | None:
    """What a child process runs before its program (``preexec_fn``) so that it may use
    every CPU again, not only this service's one; None when this process is not pinned
    (it keeps the CPUs it started with). (It makes one system call, no allocation that
    another thread's lock could block.)"""
    cpus = STARTING_CPUS
    if cpus is None or _allowed() == cpus:
        return None

    def widen() -> None:
        os.sched_setaffinity(0, cpus)

    return widen
