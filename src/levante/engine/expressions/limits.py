"""Bounds on expressions: time (a watchdog thread) and size (YAQL quotas, Jinja sandbox).

An expression runs in the caller's thread. The watchdog raises `ExpressionTimeout` in that
thread (`PyThreadState_SetAsyncExc`) when its deadline passes; the exception lands at the
next bytecode, so pure-Python loops in YAQL or Jinja stop. Registering a deadline costs a
lock and a dict entry, so it is cheap enough to do for every expression.

An asynchronous exception cannot interrupt one long call into C that holds the interpreter
(a power of big integers, a string padded to a billion characters, a regular expression
backtracking): nothing else in the process runs meanwhile, the engine API included. So
every operation that could do so is bounded *before* it runs, by the checks below (used by
the YAQL functions and the Jinja sandbox), and regular expressions run on the `regex`
engine with the time left to the expression as their timeout (`remaining()`). Python
itself refuses int <-> str conversions of more than 4300 digits.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import string
import threading
import time
from collections.abc import Mapping
from typing import Any

# YAQL engine options: at most this many items from one iterator, at most this many bytes
# (as sys.getsizeof counts them) in one collection built by an expression.
MAX_ITERATORS = 1_000_000
MEMORY_QUOTA = 64 * 1024 * 1024
# Jinja: longest string or list that `*` may build.
MAX_REPEAT = 1_000_000

# Largest integer an expression may build (about 4200 decimal digits: more could not be
# printed nor stored), and the widest padding or precision of a format.
MAX_INT_BITS = 14_000
MAX_WIDTH = 1_000_000
# Longest string a replace, an indent or a format may build.
MAX_STRING = 16 * 1024 * 1024
# Most values (items of lists, keys and values of dicts, counted each time they appear:
# a list may hold the same list a million times) that str(), a format or json.dumps may
# walk through in C.
MAX_VALUES = 1_000_000
# Most values in the result of one expression (copied to plain JSON, then stored).
MAX_RESULT_VALUES = 10_000_000

DEFAULT_TIMEOUT = 5.0


class LimitExceeded(ValueError):
    """An expression asked for more than a bound allows; the message names the bound."""


def check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise LimitExceeded(
            f"{what} would be an integer of more than {MAX_INT_BITS} bits "
            f"(the limit of integers in expressions)")


def multiply(left: Any, right: Any) -> Any:
    """`left * right`, refused when two integers would give a too large one."""
    if type(left) is int and type(right) is int:
        check_int_bits(left.bit_length() + right.bit_length(), "the result of '*'")
    return left * right


def power(base: Any, exponent: Any, modulo: Any = None) -> Any:
    """`base ** exponent` (modulo `modulo`), refused when the result would be too large."""
    if modulo is not None:
        if isinstance(modulo, int) and isinstance(exponent, int) and isinstance(base, int):
            check_int_bits(max(abs(exponent).bit_length(), modulo.bit_length()),
                           "an argument of pow()")
        return pow(base, exponent, modulo)
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and abs(base) > 1:
        # (bit_length - 1) * exponent <= bits of the result <= bit_length * exponent
        check_int_bits((abs(base).bit_length() - 1) * exponent + 1, "the power")
    return pow(base, exponent)


def shift_left(value: int, bits: int) -> int:
    if value and bits > 0:
        check_int_bits(abs(value).bit_length() + bits, "the shift")
    return value << bits


def check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_WIDTH:
        raise LimitExceeded(f"{what} of {width} is more than the limit of {MAX_WIDTH}")


def check_length(length: int, what: str) -> None:
    if length > MAX_STRING:
        raise LimitExceeded(
            f"{what} would be a string of more than {MAX_STRING} characters (the limit)")


def check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    """`text.replace(old, new, count)` would not build a too long string."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    check_length(len(text) + found * (len(new) - len(old)), "the replace")


_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d*))?")
_DIGITS = re.compile(r"\d+")


def _numbers_in(values: Any) -> list[int]:
    if isinstance(values, dict):
        values = list(values.values())
    elif not isinstance(values, list | tuple):
        values = [values]
    return [v for v in values if type(v) is int]


def check_printf(fmt: Any, args: Any) -> None:
    """`fmt % args` has no width or precision above MAX_WIDTH (`*` reads them from args)."""
    if not isinstance(fmt, str) or "%" not in fmt:
        return
    for m in _PRINTF.finditer(fmt):
        for part in m.groups():
            if part == "*":
                for n in _numbers_in(args):
                    check_width(n, "a width or precision from the arguments of '%'")
            elif part:
                check_width(int(part), "a width or precision in '%' formatting")


def check_format(fmt: Any, args: Any = (), kwargs: Any = None) -> None:
    """`fmt.format(*args, **kwargs)` has no width or precision above MAX_WIDTH."""
    if not isinstance(fmt, str) or "{" not in fmt:
        return
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # format itself will say what is wrong
    for _, _, spec, _ in parsed:
        if not spec:
            continue
        if "{" in spec:  # the width comes from the arguments
            for n in [*_numbers_in(args), *_numbers_in(kwargs or {})]:
                check_width(n, "a width or precision from the arguments of format")
        for digits in _DIGITS.findall(spec):
            check_width(int(digits), "a width or precision in a format")


_CONTAINERS = (list, tuple, dict, set, frozenset)


def check_expanded(value: Any, what: str, limit: int | None = None) -> None:
    """`value` has at most `limit` (MAX_VALUES) values once its shared parts are counted
    each time they appear (what str(), a format or json.dumps would go through, in C).
    The walk is Python code (the time bound can stop it) and visits each distinct list or
    dict once; plain values cost nothing."""
    bound = MAX_VALUES if limit is None else limit
    kind = type(value)
    if kind is list or kind is tuple:  # the common case: a flat list of plain values
        if len(value) <= bound and _SCALAR_TYPES.issuperset(map(type, value)):
            return
    elif kind is dict:
        if 2 * len(value) <= bound and _SCALAR_TYPES.issuperset(map(type, value.values())):
            return
    elif not isinstance(value, (*_CONTAINERS, Mapping)):
        return
    sizes: dict[int, int] = {}

    def size(item: Any) -> int:
        known = sizes.get(id(item))
        if known is not None:
            return known
        sizes[id(item)] = 0  # (a list that holds itself)
        if isinstance(item, Mapping):  # (keys count, but only values can hold much)
            children: Any = list(item.values())
            total = 2 * len(children)
        else:
            children = item
            total = len(children)
        if not _SCALAR_TYPES.issuperset(map(type, children)):
            for child in children:
                if isinstance(child, (*_CONTAINERS, Mapping)):
                    total += size(child)
                    if total > bound:
                        raise LimitExceeded(
                            f"{what} would go through more than {bound} values (the "
                            "limit; a value that appears several times counts each time)")
        if total > bound:
            raise LimitExceeded(
                f"{what} would go through more than {bound} values (the limit)")
        sizes[id(item)] = total
        return total

    size(value)


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def check_sum(items: Any, start: Any) -> None:
    """`sum(items, start)` of lists or strings copies the partial result at each step."""
    if isinstance(start, int | float) and not isinstance(start, bool):
        return
    if isinstance(items, list | tuple):
        total = sum(len(i) for i in items if isinstance(i, list | tuple | str))
        if len(items) * total > 50 * MAX_VALUES:
            raise LimitExceeded(
                f"the sum of {len(items)} sequences of {total} items in all is more than "
                "the limit (it would copy the growing result at every step)")


def remaining() -> float:
    """Seconds left to the expressions that run in this thread (the default bound when
    none runs): what a regular expression may take at most."""
    deadline = watchdog.deadline(threading.get_ident())
    if deadline is None:
        return DEFAULT_TIMEOUT
    return max(0.001, deadline - time.monotonic())


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

    def deadline(self, thread_id: int) -> float | None:
        """The nearest deadline of the expressions that run in a thread (None: none)."""
        with self._lock:
            found = [float(e[1]) for e in self._active.values() if e[0] == thread_id]
        return min(found) if found else None

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
