"""The slots of interval, date and cron timers: APScheduler's cron fields and defaults,
time zones and DST changes, and the latest slot missed during a downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from levante.platform.timers import schedule
from levante.platform.timers.schedule import (
    ScheduleError,
    cron_of,
    date_of,
    interval_of,
    latest_due,
    schedule_of,
)

T0 = datetime(2026, 12, 6, 1, 59, 30, 500000, tzinfo=UTC)  # a Sunday


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_interval_slots_keep_the_phase_of_the_anchor() -> None:
    every5 = interval_of({"unit": "seconds", "delta": 5}, T0)
    assert every5.next_after(T0) == T0 + timedelta(seconds=5)
    assert every5.next_after(T0 + timedelta(seconds=5)) == T0 + timedelta(seconds=10)
    assert every5.next_after(T0 + timedelta(seconds=7)) == T0 + timedelta(seconds=10)
    assert every5.next_after(T0 - timedelta(days=1)) == T0 + timedelta(seconds=5)
    weekly = interval_of({"unit": "weeks", "delta": 2}, T0)
    assert weekly.next_after(T0) == T0 + timedelta(weeks=2)


@pytest.mark.parametrize(("params", "words"), [
    ({"unit": "fortnights", "delta": 1}, "'unit'"),
    ({"unit": "seconds", "delta": 0}, "'delta'"),
    ({"unit": "seconds", "delta": "5"}, "'delta'"),
    ({"unit": "seconds"}, "'delta'"),
])
def test_bad_interval_names_the_field(params: dict[str, object], words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        interval_of(params, T0)


def test_date_timer_in_its_time_zone_fires_once() -> None:
    paris = date_of({"date": "2026-12-31 23:59:59", "timezone": "Europe/Paris"})
    assert paris.at == utc(2026, 12, 31, 22, 59, 59)
    assert paris.next_after(T0) == paris.at
    assert paris.next_after(paris.at) is None
    assert date_of({"date": "2026-12-31T10:00:00+02:00", "timezone": "Asia/Tokyo"}).at == \
        utc(2026, 12, 31, 8)
    assert date_of({"date": "2026-12-31T10:00:00Z"}).at == utc(2026, 12, 31, 10)
    with pytest.raises(ScheduleError, match="'date'"):
        date_of({"date": "tomorrow"})
    with pytest.raises(ScheduleError, match="'timezone'"):
        date_of({"date": "2026-12-31 10:00:00", "timezone": "Mars/Olympus"})


@pytest.mark.parametrize(("params", "expected"), [
    ({"minute": "*/5"}, utc(2026, 12, 6, 2, 0, 0)),       # second defaults to 0
    ({"second": "*/10"}, utc(2026, 12, 6, 1, 59, 40)),
    ({}, utc(2026, 12, 6, 1, 59, 31)),                    # nothing given: every second
    ({"hour": 3}, utc(2026, 12, 6, 3, 0, 0)),
    ({"hour": "1-2", "minute": 59, "second": "31-40/3"}, utc(2026, 12, 6, 1, 59, 31)),
    ({"day_of_week": "mon"}, utc(2026, 12, 7)),          # Monday is 0 / mon
    ({"day_of_week": 0}, utc(2026, 12, 7)),
    ({"day_of_week": "sat-sun", "hour": 12}, utc(2026, 12, 6, 12)),
    ({"month": "feb", "day": 29}, utc(2028, 2, 29)),
    ({"day": "last"}, utc(2026, 12, 31)),
    ({"day": "last fri"}, utc(2026, 12, 25)),
    ({"day": "1st mon", "hour": 9}, utc(2026, 12, 7, 9)),
    ({"day": "2nd fri,15"}, utc(2026, 12, 11)),
    ({"week": 1, "day_of_week": "wed"}, utc(2027, 1, 6)),  # ISO week 1 of 2027
    ({"year": 2027, "month": 6}, utc(2027, 6, 1)),
    ({"minute": "58/1", "hour": 1}, utc(2026, 12, 7, 1, 58)),
])
def test_cron_next_slot(params: dict[str, object], expected: datetime) -> None:
    assert cron_of(params).next_after(T0) == expected


def test_cron_in_a_time_zone() -> None:
    weekdays = cron_of({"hour": 9, "minute": 30, "day_of_week": "mon-fri",
                        "timezone": "America/New_York"})
    assert weekdays.next_after(T0) == utc(2026, 12, 7, 14, 30)  # EST: UTC-5
    summer = weekdays.next_after(utc(2027, 6, 1, 12))
    assert summer == utc(2027, 6, 1, 13, 30)  # EDT: UTC-4


def test_dst_gap_skips_and_repeated_hour_fires_once() -> None:
    nightly = cron_of({"hour": 2, "minute": 30, "timezone": "America/New_York"})
    # 2027-03-14 02:30 does not exist in New York: that day has no slot.
    assert nightly.next_after(utc(2027, 3, 13, 12)) == utc(2027, 3, 15, 6, 30)
    early = cron_of({"hour": 1, "minute": 30, "timezone": "America/New_York"})
    first = early.next_after(utc(2026, 10, 31, 12))
    assert first == utc(2026, 11, 1, 5, 30)  # the first 01:30 (EDT)
    assert early.next_after(first) == utc(2026, 11, 2, 6, 30)  # not the second 01:30
    minutely = cron_of({"minute": "*", "timezone": "America/New_York"})
    # Started in the repeated hour's second pass: its own minutes, in order.
    assert minutely.next_after(utc(2026, 11, 1, 6, 10, 30)) == utc(2026, 11, 1, 6, 11)


def test_cron_that_never_matches_has_no_slot() -> None:
    assert cron_of({"month": 2, "day": 31}).next_after(T0) is None
    assert cron_of({"year": 2020}).next_after(T0) is None


@pytest.mark.parametrize(("params", "words"), [
    ({"minute": "61"}, "'minute'.*out of 0-59"),
    ({"day_of_week": "funday"}, "'day_of_week'"),
    ({"hour": "5-2"}, "ends before it starts"),
    ({"day": "3rd xyz"}, "'day'"),
    ({"second": "*/0"}, "step"),
    ({"hour": True}, "'hour'"),
    ({"minute": "1,,2"}, "empty part"),
    ({"timezone": "Nowhere/Else"}, "'timezone'"),
])
def test_bad_cron_names_the_field(params: dict[str, object], words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        cron_of(params)


def test_schedule_of_and_on_missed() -> None:
    assert isinstance(schedule_of(schedule.CRON, {"minute": 1}, T0), schedule.Cron)
    with pytest.raises(ScheduleError, match="not a timer"):
        schedule_of("core.st2.webhook", {}, T0)
    assert schedule.on_missed({}) == schedule.FIRE_ONCE
    assert schedule.on_missed({"on_missed": "skip"}) == schedule.SKIP
    with pytest.raises(ScheduleError, match="on_missed"):
        schedule.on_missed({"on_missed": "burst"})


def test_latest_due_after_a_downtime_is_one_slot() -> None:
    every_second = cron_of({"second": "*"})
    # Three days down: only the latest slot is due, found without walking every slot.
    assert latest_due(every_second, T0 - timedelta(days=3), T0) == utc(2026, 12, 6, 1, 59, 30)
    hourly = cron_of({"minute": 0})
    assert latest_due(hourly, T0 - timedelta(days=2), T0) == utc(2026, 12, 6, 1)
    every5 = interval_of({"unit": "seconds", "delta": 5}, T0)
    later = T0 + timedelta(hours=5, seconds=3)
    assert latest_due(every5, T0, later) == T0 + timedelta(hours=5)
    assert latest_due(every5, T0, T0 + timedelta(seconds=4)) is None
    once = date_of({"date": "2026-12-06 01:00:00"})
    assert latest_due(once, T0 - timedelta(days=1), T0) == utc(2026, 12, 6, 1)
    assert latest_due(once, utc(2026, 12, 6, 1), T0) is None


def test_problem_names_what_a_rule_gets_wrong() -> None:
    assert schedule.problem(schedule.CRON, {"minute": "*/5", "timezone": "UTC"}) is None
    assert "'minute'" in str(schedule.problem(schedule.CRON, {"minute": "99"}))
    assert "'on_missed'" in str(schedule.problem(schedule.INTERVAL, {
        "unit": "seconds", "delta": 1, "on_missed": "later"}))
    assert "'date'" in str(schedule.problem(schedule.DATE, {"date": "soon"}))
