"""Bounds on expressions: time (a watchdog thread) and size (YAQL quotas, Jinja sandbox).

An expression runs in the caller's thread. The watchdog raises `ExpressionTimeout` in that
thread (`PyThreadState_SetAsyncExc`) when its deadline passes; the exception lands at the
next bytecode, so pure-Python loops in YAQL or Jinja stop. Registering a deadline costs a
lock and a dict entry, so it is cheap enough to do for every expression.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time

# YAQL engine options: at most this many items from one iterator, at most this many bytes
# (as sys.getsizeof counts them) in one collection built by an expression.
MAX_ITERATORS = 1_000_000
MEMORY_QUOTA = 64 * 1024 * 1024
# Jinja: longest string or list that `*` may build.
MAX_REPEAT = 1_000_000

DEFAULT_TIMEOUT = 5.0


class ExpressionTimeout(BaseException):
    """Raised asynchronously in a thread whose expression ran past its deadline."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else ctypes.c_void_p(0)
    )


class _Watchdog:
    interval = 0.02
    refire = 0.25  # seconds between two exceptions raised in a thread that runs on

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, list[float | int | bool]] = {}
        self._wake = threading.Event()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def start(self, timeout: float) -> int:
        token = next(self._ids)
        with self._lock:
            # [thread, deadline, fired, when last fired]
            self._active[token] = [threading.get_ident(), time.monotonic() + timeout, False,
                                   0.0]
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="levante-expression-watchdog", daemon=True
                )
                self._thread.start()
        if not self._wake.is_set():
            self._wake.set()
        return token

    def stop(self, token: int) -> None:
        with self._lock:
            entry = self._active.pop(token, None)
            if entry is not None and entry[2]:
                # The exception may still be pending: clear it so it cannot land later.
                _set_async_exc(int(entry[0]), None)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.interval)
            with self._lock:
                if not self._active:
                    self._wake.clear()
                    continue
                now = time.monotonic()
                for entry in self._active.values():
                    # Past its deadline and still running: raise again every REFIRE
                    # seconds, for C code may swallow an exception that lands inside it
                    # (a dict lookup calling a Python __eq__, say) and run on.
                    if float(entry[1]) <= now and (
                            not entry[2] or now - float(entry[3]) >= self.refire):
                        entry[2] = True
                        entry[3] = now
                        _set_async_exc(int(entry[0]), ExpressionTimeout)


watchdog = _Watchdog()
