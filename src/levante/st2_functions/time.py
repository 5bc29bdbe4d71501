"""`to_human_time_from_seconds`, as StackStorm's."""

from __future__ import annotations

import datetime
import math
from typing import Any


def to_human_time_from_seconds(seconds: Any) -> str:
    """Seconds as `1y2d3h4m5s`, from the first unit that is not zero (`0s` for none;
    `0.5μs`-like text for less than a second, as StackStorm writes it).

    As StackStorm computes it (from a date that many seconds after 1 January of the year
    1), the days are the day of the month minus one: months are dropped, so 40 days
    read `9d0h0m0s`. Anything but a number raises AssertionError, as StackStorm's.
    """
    if not isinstance(seconds, int | float):
        raise AssertionError(f"to_human_time_from_seconds expects a number of seconds, "
                             f"not a value of type {type(seconds).__name__!r}")
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds}\u03bcs"
    if isinstance(seconds, float):
        seconds = math.floor(seconds + 0.5)  # (rounded half up, as Python 2 did)
    moment = datetime.datetime(1, 1, 1) + datetime.timedelta(seconds=seconds)
    parts = [moment.year - 1, moment.day - 1, moment.hour, moment.minute, moment.second]
    first = next((i for i, part in enumerate(parts) if part), None)
    if first is None:
        return "0s"
    units = ("y", "d", "h", "m", "s")
    return "".join(f"{part}{unit}" for part, unit in zip(parts[first:], units[first:],
                                                         strict=True))
