"""Keeping a service process's threads on one CPU (`[core] cpu_affinity`).

A Levante service is one Python process: its event loop and the threads that run database
work take turns on the GIL, and every hand-over between them (a query sent to a worker
thread, its answer back to the loop) wakes another thread. When those threads sit on
different CPUs each wake-up crosses CPUs, which costs more than the work handed over on
a workflow's critical path. Pinning the process's threads to one CPU keeps them close;
the processes of actions it starts get every CPU back (see `for_children`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("levante.cpu")

_original: set[int] | None = None  # the CPUs allowed before pinning (None: not pinned)
_lock = threading.Lock()


def _allowed() -> set[int] | None:
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None
    try:
        return set(getter(0))
    except OSError:
        return None


def choose(setting: str, allowed: set[int], pid: int) -> int | None:
    """The CPU to keep to, or None: `auto` picks one of `allowed` by process id (several
    processes on one host spread out) when there are two or more; a number must be
    allowed."""
    value = setting.strip().lower()
    if value in ("off", "none", "no", "false", ""):
        return None
    ordered = sorted(allowed)
    if value == "auto":
        return ordered[pid % len(ordered)] if len(ordered) >= 2 else None
    try:
        cpu = int(value)
    except ValueError:
        raise ValueError(f"[core] cpu_affinity: expected auto, off or a CPU number, got "
                         f"{setting!r}") from None
    if cpu not in allowed:
        raise ValueError(f"[core] cpu_affinity: CPU {cpu} is not one this process may use "
                         f"(allowed: {', '.join(map(str, ordered))})")
    return cpu


def pin_process(setting: str) -> int | None:
    """Keep this process's threads (those started from now on, and the calling one) on
    the CPU `setting` names; call before the service starts its threads. Returns the CPU,
    or None when nothing was changed (off, one CPU, or not supported)."""
    global _original
    allowed = _allowed()
    if allowed is None:
        return None
    cpu = choose(setting, allowed, os.getpid())
    if cpu is None:
        return None
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        log.warning("could not keep to CPU %d ([core] cpu_affinity): %s", cpu, exc)
        return None
    with _lock:
        _original = allowed
    return cpu


def for_children() -> Callable[[], None] | None:
    """What a child process runs before its program (``preexec_fn``) so that it may use
    every CPU again, not only this service's one; None when this process is not pinned.
    (It makes one system call, no allocation that another thread's lock could block.)"""
    original = _original
    if original is None:
        return None
    cpus = frozenset(original)

    def widen() -> None:
        os.sched_setaffinity(0, cpus)

    return widen
