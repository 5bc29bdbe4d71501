"""When a timer's slots fall: StackStorm's three timer trigger types, as pure functions.

- ``core.st2.IntervalTimer`` ``{unit, delta}``: every ``delta`` ``unit`` (seconds,
  minutes, hours, days, weeks) from the trigger's creation (a fixed phase, so that every
  process computes the same slots).
- ``core.st2.DateTimer`` ``{date, timezone}``: once, at ``date`` (ISO 8601; without an
  offset, in ``timezone``, UTC by default).
- ``core.st2.CronTimer`` ``{timezone, year, month, day, week, day_of_week, hour, minute,
  second}``: APScheduler's CronTrigger fields, as StackStorm passes them on. Fields less
  significant than the least significant one given default to their minimum, the others to
  ``*`` (``week`` and ``day_of_week`` always to ``*``); ``day_of_week`` counts from Monday
  (0, or ``mon``) to Sunday (6, ``sun``). Each field is a comma list of ``*``, ``*/n``,
  ``a``, ``a-b``, ``a-b/n``, ``a/n`` (names for months and days of the week); ``day`` also
  takes ``last``, ``last fri`` and ``2nd fri``. Wall-clock times in ``timezone``: a time
  that does not exist (skipped by a DST change) does not fire that day; a time that exists
  twice fires at its first occurrence.

Each timer also takes ``on_missed`` (Levante's): ``fire_once`` (default) fires the latest
slot missed during downtime once, ``skip`` records it as skipped; never a burst either way.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INTERVAL = "core.st2.IntervalTimer"
DATE = "core.st2.DateTimer"
CRON = "core.st2.CronTimer"
TIMER_TYPES = (INTERVAL, DATE, CRON)

FIRE_ONCE = "fire_once"
SKIP = "skip"
ON_MISSED = (FIRE_ONCE, SKIP)

UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}
# How far ahead a cron search looks before it says "never".
SEARCH_DAYS = 366 * 8

ON_MISSED_SCHEMA = {"type": "string", "enum": list(ON_MISSED), "default": FIRE_ONCE,
                     "description": "After downtime: fire the latest missed slot once "
                                    "(fire_once) or skip it (skip)."}


class ScheduleError(ValueError):
    """Timer parameters that are not a schedule; the message names the field."""


class Schedule(Protocol):
    def next_after(self, after: datetime) -> datetime | None:
        """The first slot strictly after ``after`` (aware, UTC), or None: no more."""


def _zone(name: Any) -> tzinfo:
    if name in (None, ""):
        return UTC
    if not isinstance(name, str):
        raise ScheduleError(f"'timezone' must be a time zone name, not {name!r}")
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"'timezone' {name!r} is not a known time zone") from None


@dataclass(frozen=True)
class Interval:
    anchor: datetime
    step: timedelta

    def next_after(self, after: datetime) -> datetime | None:
        step_us = self.step // timedelta(microseconds=1)
        passed = (after - self.anchor) // timedelta(microseconds=1)
        count = max(1, passed // step_us + 1)
        return self.anchor + timedelta(microseconds=count * step_us)


@dataclass(frozen=True)
class OneDate:
    at: datetime

    def next_after(self, after: datetime) -> datetime | None:
        return self.at if self.at > after else None


# --- cron -----------------------------------------------------------------------------

FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
DEFAULTS: dict[str, Any] = {"year": "*", "month": 1, "day": 1, "week": "*",
                            "day_of_week": "*", "hour": 0, "minute": 0, "second": 0}
BOUNDS = {"year": (1970, 2999), "month": (1, 12), "day": (1, 31), "week": (1, 53),
          "day_of_week": (0, 6), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
MONTHS = {n: i for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                      "aug", "sep", "oct", "nov", "dec"), 1)}
WEEKDAYS = {n: i for i, n in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
NAMES = {"month": MONTHS, "day_of_week": WEEKDAYS}
_RANGE = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/(\d+))?$")
_NTH = re.compile(r"^(1st|2nd|3rd|4th|5th|last)\s+([a-z]{3})$")


def _number(field: str, text: str) -> int:
    names = NAMES.get(field, {})
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"cron field {field!r}: {text!r} is not a number"
                            + (f" nor one of {', '.join(names)}" if names else ""))
    value = int(text)
    low, high = BOUNDS[field]
    if not low <= value <= high:
        raise ScheduleError(f"cron field {field!r}: {value} is out of {low}-{high}")
    return value


def _values(field: str, expr: str) -> set[int]:
    """The values one comma part of a plain field allows."""
    found = _RANGE.match(expr)
    if found is None:
        raise ScheduleError(f"cron field {field!r}: cannot read {expr!r}")
    star, first, last, step_text = found.groups()
    low, high = BOUNDS[field]
    start = low if star else _number(field, first)
    end = high if star or (last is None and step_text) else (
        _number(field, last) if last is not None else start)
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ScheduleError(f"cron field {field!r}: the step of {expr!r} must be 1 or more")
    if end < start:
        raise ScheduleError(f"cron field {field!r}: {expr!r} ends before it starts")
    return set(range(start, end + 1, step))


DayTest = Callable[[date], bool]


def _day_test(expr: str) -> DayTest:
    """``last``, ``last fri``, ``2nd fri`` (APScheduler's day expressions)."""
    if expr == "last":
        return lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
    found = _NTH.match(expr)
    if found is None or found.group(2) not in WEEKDAYS:
        raise ScheduleError(f"cron field 'day': cannot read {expr!r}")
    which, weekday = found.group(1), WEEKDAYS[found.group(2)]
    if which == "last":
        return lambda d: (d.weekday() == weekday
                          and d.day + 7 > calendar.monthrange(d.year, d.month)[1])
    nth = int(which[0])
    return lambda d: d.weekday() == weekday and (d.day - 1) // 7 + 1 == nth


def _parts(field: str, value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ScheduleError(f"cron field {field!r} must be a number or an expression, "
                            f"not {value!r}")
    parts = [p.strip().lower() for p in str(value).split(",")]
    if not all(parts):
        raise ScheduleError(f"cron field {field!r}: {value!r} has an empty part")
    return parts


@dataclass(frozen=True)
class Cron:
    zone: tzinfo
    years: frozenset[int]
    months: frozenset[int]
    days: frozenset[int]
    day_tests: tuple[DayTest, ...]
    weeks: frozenset[int]
    weekdays: frozenset[int]
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    seconds: tuple[int, ...]

    def _day_ok(self, d: date) -> bool:
        if d.month not in self.months or d.weekday() not in self.weekdays:
            return False
        if d.isocalendar()[1] not in self.weeks:
            return False
        return d.day in self.days or any(test(d) for test in self.day_tests)

    def _times(self, start: time) -> list[time]:
        """The day's times at or after ``start``, in order (lazily enough: few fire)."""
        out = []
        for h in self.hours:
            if h < start.hour:
                continue
            for m in self.minutes:
                if h == start.hour and m < start.minute:
                    continue
                for s in self.seconds:
                    if h == start.hour and m == start.minute and s < start.second:
                        continue
                    out.append(time(h, m, s))
                    if len(out) >= 3:
                        return out
        return out

    def _utc(self, wall: datetime, after: datetime) -> datetime | None:
        """The wall time as UTC after ``after``; None when it does not exist (a DST gap)
        or only an earlier occurrence exists."""
        first = wall.replace(tzinfo=self.zone, fold=0)
        as_utc = first.astimezone(UTC)
        if as_utc.astimezone(self.zone).replace(tzinfo=None) != wall:
            return None  # skipped by a DST change
        if as_utc > after:
            return as_utc
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        return second if second > after else None

    def next_after(self, after: datetime) -> datetime | None:
        local = after.astimezone(self.zone).replace(tzinfo=None, microsecond=0)
        start = local + timedelta(seconds=1)
        day = start.date()
        for _ in range(SEARCH_DAYS):
            if day.year > max(self.years):
                return None
            if day.year in self.years and self._day_ok(day):
                begin = start.time() if day == start.date() else time(0)
                while True:
                    times = self._times(begin)
                    for moment in times:
                        found = self._utc(datetime.combine(day, moment), after)
                        if found is not None:
                            return found
                    if len(times) < 3:
                        break
                    last = datetime.combine(day, times[-1]) + timedelta(seconds=1)
                    if last.date() != day:
                        break
                    begin = last.time()
            day += timedelta(days=1)
        return None


def cron_of(parameters: Mapping[str, Any]) -> Cron:
    given = {f: parameters[f] for f in FIELDS if parameters.get(f) is not None}
    exprs: dict[str, Any] = {}
    remaining = dict(given)
    fill_defaults = False
    for field in FIELDS:
        if field in remaining:
            exprs[field] = remaining.pop(field)
            fill_defaults = not remaining
        elif fill_defaults and field not in ("week", "day_of_week"):
            exprs[field] = DEFAULTS[field]
        else:
            exprs[field] = "*"
    sets: dict[str, set[int]] = {}
    tests: list[DayTest] = []
    for field in FIELDS:
        allowed: set[int] = set()
        for part in _parts(field, exprs[field]):
            if field == "day" and (part == "last" or " " in part):
                tests.append(_day_test(part))
            else:
                allowed |= _values(field, part)
        sets[field] = allowed
    return Cron(
        zone=_zone(parameters.get("timezone")),
        years=frozenset(sets["year"]), months=frozenset(sets["month"]),
        days=frozenset(sets["day"]), day_tests=tuple(tests),
        weeks=frozenset(sets["week"]), weekdays=frozenset(sets["day_of_week"]),
        hours=tuple(sorted(sets["hour"])), minutes=tuple(sorted(sets["minute"])),
        seconds=tuple(sorted(sets["second"])))


def date_of(parameters: Mapping[str, Any]) -> OneDate:
    raw = parameters.get("date")
    if not isinstance(raw, str) or not raw.strip():
        raise ScheduleError("'date' is required: the time to fire at, e.g. "
                            "'2026-12-31 23:59:59'")
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"'date' {raw!r} is not a date and time (ISO 8601, e.g. "
                            "'2026-12-31 23:59:59')") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_zone(parameters.get("timezone")))
    return OneDate(when.astimezone(UTC))


def interval_of(parameters: Mapping[str, Any], anchor: datetime) -> Interval:
    unit = parameters.get("unit")
    if unit not in UNITS:
        raise ScheduleError(f"'unit' must be one of {', '.join(UNITS)}, not {unit!r}")
    delta = parameters.get("delta")
    if isinstance(delta, bool) or not isinstance(delta, int) or delta < 1:
        raise ScheduleError(f"'delta' must be a whole number, 1 or more, not {delta!r}")
    return Interval(anchor.astimezone(UTC), timedelta(seconds=delta * UNITS[str(unit)]))


def schedule_of(type_ref: str, parameters: Mapping[str, Any] | None,
                anchor: datetime) -> Schedule:
    """The schedule of a timer trigger; ``anchor``: its creation (an interval's phase)."""
    params = dict(parameters or {})
    if type_ref == INTERVAL:
        return interval_of(params, anchor)
    if type_ref == DATE:
        return date_of(params)
    if type_ref == CRON:
        return cron_of(params)
    raise ScheduleError(f"{type_ref!r} is not a timer trigger type")


def problem(type_ref: str, parameters: Mapping[str, Any] | None) -> str | None:
    """Why a timer's parameters are not a schedule (for a rule's 400), or None."""
    try:
        schedule_of(type_ref, parameters, datetime.now(UTC))
        on_missed(parameters)
    except ScheduleError as exc:
        return str(exc)
    return None


def on_missed(parameters: Mapping[str, Any] | None) -> str:
    value = (parameters or {}).get("on_missed") or FIRE_ONCE
    if value not in ON_MISSED:
        raise ScheduleError(f"'on_missed' must be {FIRE_ONCE} or {SKIP}, not {value!r}")
    return str(value)


# Windows tried, smallest first, to find the latest slot before now without walking every
# slot of a long downtime.
_WINDOWS = tuple(timedelta(seconds=s) for s in
                 (2, 60, 3600, 86400, 32 * 86400, 366 * 86400, SEARCH_DAYS * 86400))


def latest_due(schedule: Schedule, after: datetime, now: datetime) -> datetime | None:
    """The latest slot in (``after``, ``now``], or None when none is due."""
    first = schedule.next_after(after)
    if first is None or first > now:
        return None
    found = first
    for window in _WINDOWS:
        begin = max(after, now - window)
        probe = schedule.next_after(begin)
        if probe is not None and probe <= now:
            found = max(found, probe)
            break
    while True:
        following = schedule.next_after(found)
        if following is None or following > now:
            return found
        found = following
