"""Graph patternedRecurrence: validation, expansion per pattern type, ranges, windows, DST, properties."""

from __future__ import annotations

import calendar
import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from exsync.sandbox.recurrence import RecurrenceError, canonical, occurrence_starts, series_end, validate

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def rec(
    pattern: dict[str, Any], start: str, end: str | None = None, count: int | None = None
) -> dict[str, Any]:
    """A recurrence with an endDate range (end), a numbered one (count) or noEnd (neither)."""
    rng: dict[str, Any] = {"type": "noEnd", "startDate": start}
    if end is not None:
        rng = {"type": "endDate", "startDate": start, "endDate": end}
    if count is not None:
        rng = {"type": "numbered", "startDate": start, "numberOfOccurrences": count}
    return {"pattern": pattern, "range": rng}


def dates(
    recurrence: dict[str, Any],
    window: tuple[str, str],
    at: time = time(9),
    tz: ZoneInfo = BERLIN,
    duration: timedelta = HOUR,
) -> list[date]:
    """The local dates of the occurrences in a window given as two local dates [from, to)."""
    first = datetime.combine(date.fromisoformat(recurrence["range"]["startDate"]), at, tzinfo=tz)
    lo = datetime.combine(date.fromisoformat(window[0]), time(), tzinfo=tz)
    hi = datetime.combine(date.fromisoformat(window[1]), time(), tzinfo=tz)
    starts = occurrence_starts(recurrence, first, lo, hi, duration)
    assert all(s.tzinfo is tz and s.timetz() == at.replace(tzinfo=tz) for s in starts)
    return [s.date() for s in starts]


def d(*isos: str) -> list[date]:
    return [date.fromisoformat(i) for i in isos]


# -- pattern types ---------------------------------------------------------------------------------


def test_daily() -> None:
    every_day = rec({"type": "daily", "interval": 1}, "2026-03-02")
    assert dates(every_day, ("2026-03-02", "2026-03-06")) == d(
        "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"
    )
    every_third = rec({"type": "daily", "interval": 3}, "2026-03-02")
    assert dates(every_third, ("2026-03-01", "2026-03-12")) == d(
        "2026-03-02", "2026-03-05", "2026-03-08", "2026-03-11"
    )


def test_weekly_several_days() -> None:
    pattern = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday", "friday"]}
    # 2026-03-04 is a Wednesday: the Monday before it is not in the series.
    assert dates(rec(pattern, "2026-03-04"), ("2026-03-01", "2026-03-14")) == d(
        "2026-03-04", "2026-03-06", "2026-03-09", "2026-03-11", "2026-03-13"
    )


def test_weekly_interval_two_counts_weeks_from_first_day_of_week() -> None:
    # Sunday and Monday every other week from Sunday 2026-03-01 (the example in MS-OXCICAL).
    su_mo = {"type": "weekly", "interval": 2, "daysOfWeek": ["sunday", "monday"]}
    window = ("2026-03-01", "2026-03-31")
    # Weeks start on Sunday: Sun+Mon together, then a two-week gap.
    assert dates(rec({**su_mo, "firstDayOfWeek": "sunday"}, "2026-03-01"), window) == d(
        "2026-03-01", "2026-03-02", "2026-03-15", "2026-03-16", "2026-03-29", "2026-03-30"
    )
    # Weeks start on Monday: Sunday ends one week, the next Monday is two weeks on.
    assert dates(rec({**su_mo, "firstDayOfWeek": "monday"}, "2026-03-01"), window) == d(
        "2026-03-01", "2026-03-09", "2026-03-15", "2026-03-23", "2026-03-29"
    )
    # firstDayOfWeek defaults to Sunday.
    assert dates(rec(su_mo, "2026-03-01"), window) == dates(
        rec({**su_mo, "firstDayOfWeek": "sunday"}, "2026-03-01"), window
    )


def test_weekly_interval_counts_from_the_first_occurrence_not_the_start_date() -> None:
    # Start on a Wednesday, Mondays every other week: the first Monday after it, then every 2 weeks.
    pattern = {"type": "weekly", "interval": 2, "daysOfWeek": ["monday"]}
    assert dates(rec(pattern, "2026-03-04"), ("2026-03-01", "2026-04-15")) == d(
        "2026-03-09", "2026-03-23", "2026-04-06"
    )


def test_absolute_monthly() -> None:
    fifteenth = {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15}
    assert dates(rec(fifteenth, "2026-01-20"), ("2026-01-01", "2026-04-30")) == d(
        "2026-02-15", "2026-03-15", "2026-04-15"
    )
    quarterly = {"type": "absoluteMonthly", "interval": 3, "dayOfMonth": 7}
    assert dates(rec(quarterly, "2026-01-07"), ("2026-01-01", "2027-01-01")) == d(
        "2026-01-07", "2026-04-07", "2026-07-07", "2026-10-07"
    )


def test_absolute_monthly_past_the_end_of_a_month_falls_on_its_last_day() -> None:
    pattern = {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}
    assert dates(rec(pattern, "2028-01-31"), ("2028-01-01", "2028-07-01")) == d(
        "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31", "2028-06-30"
    )
    thirtieth = {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 30}
    assert dates(rec(thirtieth, "2026-01-30"), ("2026-01-01", "2026-04-01")) == d(
        "2026-01-30", "2026-02-28", "2026-03-30"
    )


def test_relative_monthly_first_and_last() -> None:
    second_wednesday = {
        "type": "relativeMonthly",
        "interval": 1,
        "daysOfWeek": ["wednesday"],
        "index": "second",
    }
    assert dates(rec(second_wednesday, "2026-03-01"), ("2026-03-01", "2026-06-01")) == d(
        "2026-03-11", "2026-04-08", "2026-05-13"
    )
    last_friday = {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"}
    assert dates(rec(last_friday, "2026-03-01"), ("2026-03-01", "2026-06-01")) == d(
        "2026-03-27", "2026-04-24", "2026-05-29"
    )
    # "first Thursday or Friday": whichever comes first in the month (May 2026 starts on a Friday).
    thu_or_fri = {
        "type": "relativeMonthly",
        "interval": 1,
        "daysOfWeek": ["thursday", "friday"],
        "index": "first",
    }
    assert dates(rec(thu_or_fri, "2026-04-01"), ("2026-04-01", "2026-06-01")) == d("2026-04-02", "2026-05-01")
    # The last weekday of the month.
    weekdays = list(DAYS[:5])
    last_weekday = {"type": "relativeMonthly", "interval": 1, "daysOfWeek": weekdays, "index": "last"}
    assert dates(rec(last_weekday, "2026-05-01"), ("2026-05-01", "2026-07-01")) == d(
        "2026-05-29", "2026-06-30"
    )


def test_relative_monthly_interval_runs_from_the_first_occurrence() -> None:
    # Graph's own example: first Thursday every other month from 29 August 2017 -> September first.
    pattern = {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["thursday"], "index": "first"}
    assert dates(rec(pattern, "2017-08-29"), ("2017-08-01", "2018-02-01")) == d(
        "2017-09-07", "2017-11-02", "2018-01-04"
    )


def test_relative_index_defaults_to_first() -> None:
    pattern = {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["monday"]}
    validate(rec(pattern, "2026-03-01"))
    assert dates(rec(pattern, "2026-03-01"), ("2026-03-01", "2026-05-01")) == d("2026-03-02", "2026-04-06")


def test_absolute_yearly() -> None:
    pattern = {"type": "absoluteYearly", "interval": 1, "month": 4, "dayOfMonth": 15}
    assert dates(rec(pattern, "2026-05-01"), ("2026-01-01", "2029-01-01")) == d("2027-04-15", "2028-04-15")
    every_third = {"type": "absoluteYearly", "interval": 3, "month": 3, "dayOfMonth": 15}
    assert dates(rec(every_third, "2026-03-15"), ("2026-01-01", "2033-01-01")) == d(
        "2026-03-15", "2029-03-15", "2032-03-15"
    )


def test_yearly_on_february_29_falls_on_the_28th_in_other_years() -> None:
    pattern = {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 29}
    assert dates(rec(pattern, "2028-02-29"), ("2028-01-01", "2033-01-01")) == d(
        "2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"
    )


def test_relative_yearly() -> None:
    # The fourth Thursday of November; the last Wednesday of November every other year.
    fourth = {
        "type": "relativeYearly",
        "interval": 1,
        "month": 11,
        "daysOfWeek": ["thursday"],
        "index": "fourth",
    }
    assert dates(rec(fourth, "2026-01-01"), ("2026-01-01", "2028-01-01")) == d("2026-11-26", "2027-11-25")
    last = {
        "type": "relativeYearly",
        "interval": 2,
        "month": 11,
        "daysOfWeek": ["wednesday"],
        "index": "last",
    }
    assert dates(rec(last, "2026-01-01"), ("2026-01-01", "2031-01-01")) == d(
        "2026-11-25", "2028-11-29", "2030-11-27"
    )


def test_enums_are_read_without_regard_to_case() -> None:
    # Graph's own examples spell days "Thursday"; its read form is lower case.
    pattern = {"type": "Weekly", "interval": 1, "daysOfWeek": ["Thursday"], "firstDayOfWeek": "Monday"}
    recurrence = {
        "pattern": pattern,
        "range": {"type": "EndDate", "startDate": "2026-03-02", "endDate": "2026-03-13"},
    }
    assert dates(recurrence, ("2026-03-01", "2026-04-01")) == d("2026-03-05", "2026-03-12")
    assert canonical(recurrence, "UTC")["pattern"]["daysOfWeek"] == ["thursday"]


# -- ranges ----------------------------------------------------------------------------------------


def test_end_date_is_inclusive() -> None:
    daily = {"type": "daily", "interval": 1}
    assert dates(rec(daily, "2026-03-02", end="2026-03-04"), ("2026-03-01", "2026-04-01")) == d(
        "2026-03-02", "2026-03-03", "2026-03-04"
    )
    # Graph's example: Mondays until 31 December 2017 (a Sunday) end on 25 December.
    mondays = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]}
    assert dates(rec(mondays, "2017-09-04", end="2017-12-31"), ("2017-12-01", "2018-02-01")) == d(
        "2017-12-04", "2017-12-11", "2017-12-18", "2017-12-25"
    )


def test_numbered_counts_from_the_series_start_not_the_window() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-03-02", count=10)
    assert dates(daily, ("2026-03-05", "2026-03-08")) == d("2026-03-05", "2026-03-06", "2026-03-07")
    assert dates(daily, ("2026-03-09", "2026-04-01")) == d("2026-03-09", "2026-03-10", "2026-03-11")
    assert dates(daily, ("2026-03-12", "2027-01-01")) == []
    weekly = rec({"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "friday"]}, "2026-03-04", count=5)
    # Fri 6, then Mon 16 / Fri 20 two weeks on, then Mon 30 / Fri 3 April: five in all.
    assert dates(weekly, ("2026-03-01", "2026-12-31")) == d(
        "2026-03-06", "2026-03-16", "2026-03-20", "2026-03-30", "2026-04-03"
    )
    assert dates(weekly, ("2026-03-25", "2026-12-31")) == d("2026-03-30", "2026-04-03")


def test_a_window_decades_away_is_cheap_and_right() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-03-02")
    assert dates(daily, ("2126-03-01", "2126-03-03")) == d("2126-03-01", "2126-03-02")
    numbered = rec({"type": "daily", "interval": 7}, "2026-03-02", count=100_000)
    # Occurrence n (from 0) is 7n days on; 36500 days = 5214 weeks + 2 days.
    assert dates(numbered, ("2126-02-01", "2126-02-20")) == d("2126-02-04", "2126-02-11", "2126-02-18")
    monthly = rec({"type": "absoluteMonthly", "interval": 5, "dayOfMonth": 31}, "2026-01-31")
    # 1200 months later is a multiple of 5: January 2126 is in the series, June and November are too.
    assert dates(monthly, ("2126-01-01", "2127-01-01")) == d("2126-01-31", "2126-06-30", "2126-11-30")


def test_the_first_occurrence_is_the_first_pattern_date_on_or_after_start_date() -> None:
    # The master's own date (a Sunday) is not a Tuesday: the series still starts on the Tuesday.
    pattern = {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"]}
    first_start = datetime(2026, 3, 1, 10, tzinfo=BERLIN)
    starts = occurrence_starts(
        rec(pattern, "2026-03-01", count=2),
        first_start,
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
        HOUR,
    )
    assert starts == [datetime(2026, 3, 3, 10, tzinfo=BERLIN), datetime(2026, 3, 10, 10, tzinfo=BERLIN)]


# -- windows ---------------------------------------------------------------------------------------


def test_window_slicing_counts_overlap() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-03-02")
    first = datetime(2026, 3, 2, 9, tzinfo=BERLIN)

    def starts(lo: datetime, hi: datetime, duration: timedelta = HOUR) -> list[datetime]:
        return occurrence_starts(daily, first, lo, hi, duration)

    # 09:00-10:00 on the 3rd straddles a window starting 09:30: it counts.
    assert starts(datetime(2026, 3, 3, 9, 30, tzinfo=BERLIN), datetime(2026, 3, 3, 12, tzinfo=BERLIN)) == [
        datetime(2026, 3, 3, 9, tzinfo=BERLIN)
    ]
    # Ending exactly at window_start does not overlap; starting exactly at window_end is outside.
    assert starts(datetime(2026, 3, 3, 10, tzinfo=BERLIN), datetime(2026, 3, 4, 9, tzinfo=BERLIN)) == []
    # A zero-length occurrence at window_start counts, one at window_end does not.
    assert starts(
        datetime(2026, 3, 3, 9, tzinfo=BERLIN), datetime(2026, 3, 4, 9, tzinfo=BERLIN), timedelta()
    ) == [datetime(2026, 3, 3, 9, tzinfo=BERLIN)]
    # Window bounds in another zone: 08:00Z is 09:00 Berlin in winter.
    assert starts(datetime(2026, 3, 3, 8, 59, tzinfo=UTC), datetime(2026, 3, 3, 9, tzinfo=UTC)) == [
        datetime(2026, 3, 3, 9, tzinfo=BERLIN)
    ]
    # A long occurrence (three days) reaches into a window that starts two days later.
    assert starts(
        datetime(2026, 3, 5, 8, tzinfo=BERLIN), datetime(2026, 3, 5, 8, 30, tzinfo=BERLIN), timedelta(days=3)
    ) == [datetime(2026, 3, d, 9, tzinfo=BERLIN) for d in (2, 3, 4)]
    # An empty or reversed window holds nothing.
    assert starts(datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)) == []
    assert starts(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)) == []


def test_naive_datetimes_are_refused() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-03-02")
    with pytest.raises(ValueError, match="first_start must be an aware datetime"):
        occurrence_starts(
            daily,
            datetime(2026, 3, 2, 9),
            datetime(2026, 3, 2, tzinfo=UTC),
            datetime(2026, 3, 3, tzinfo=UTC),
            HOUR,
        )
    with pytest.raises(ValueError, match="window_end must be an aware datetime"):
        occurrence_starts(
            daily,
            datetime(2026, 3, 2, 9, tzinfo=UTC),
            datetime(2026, 3, 2, tzinfo=UTC),
            datetime(2026, 3, 3),
            HOUR,
        )


# -- daylight saving time --------------------------------------------------------------------------


def utc_starts(recurrence: dict[str, Any], first: datetime, lo: datetime, hi: datetime) -> list[datetime]:
    return [s.astimezone(UTC) for s in occurrence_starts(recurrence, first, lo, hi, HOUR)]


def test_berlin_keeps_nine_o_clock_across_both_changes() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-03-27")
    first = datetime(2026, 3, 27, 9, tzinfo=BERLIN)
    utc = datetime
    assert utc_starts(daily, first, utc(2026, 3, 28, tzinfo=UTC), utc(2026, 3, 31, tzinfo=UTC)) == [
        utc(2026, 3, 28, 8, tzinfo=UTC),  # CET, +01:00
        utc(2026, 3, 29, 7, tzinfo=UTC),  # CEST from 29 March, +02:00
        utc(2026, 3, 30, 7, tzinfo=UTC),
    ]
    assert utc_starts(daily, first, utc(2026, 10, 24, tzinfo=UTC), utc(2026, 10, 27, tzinfo=UTC)) == [
        utc(2026, 10, 24, 7, tzinfo=UTC),
        utc(2026, 10, 25, 8, tzinfo=UTC),  # back to CET on 25 October
        utc(2026, 10, 26, 8, tzinfo=UTC),
    ]


def test_new_york_keeps_nine_o_clock_across_both_changes() -> None:
    weekly = rec({"type": "weekly", "interval": 1, "daysOfWeek": ["sunday", "monday"]}, "2026-03-01")
    first = datetime(2026, 3, 1, 9, tzinfo=NEW_YORK)
    utc = datetime
    assert utc_starts(weekly, first, utc(2026, 3, 1, tzinfo=UTC), utc(2026, 3, 10, tzinfo=UTC)) == [
        utc(2026, 3, 1, 14, tzinfo=UTC),  # EST, -05:00
        utc(2026, 3, 2, 14, tzinfo=UTC),
        utc(2026, 3, 8, 13, tzinfo=UTC),  # EDT from 8 March, -04:00
        utc(2026, 3, 9, 13, tzinfo=UTC),
    ]
    assert utc_starts(weekly, first, utc(2026, 10, 25, tzinfo=UTC), utc(2026, 11, 3, tzinfo=UTC)) == [
        utc(2026, 10, 25, 13, tzinfo=UTC),
        utc(2026, 10, 26, 13, tzinfo=UTC),
        utc(2026, 11, 1, 14, tzinfo=UTC),  # EST again from 1 November
        utc(2026, 11, 2, 14, tzinfo=UTC),
    ]


def test_a_wall_time_the_spring_gap_skips_moves_past_the_gap() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-03-28")
    first = datetime(2026, 3, 28, 2, 30, tzinfo=BERLIN)
    starts = occurrence_starts(
        daily,
        first,
        datetime(2026, 3, 28, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
        timedelta(minutes=30),
    )
    assert [s.isoformat() for s in starts] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",  # 02:30 does not exist that day
        "2026-03-30T02:30:00+02:00",
    ]


def test_occurrences_come_back_in_first_starts_zone() -> None:
    daily = rec({"type": "daily", "interval": 1}, "2026-07-01", count=1)
    first = datetime(2026, 7, 1, 9, tzinfo=NEW_YORK)
    [start] = occurrence_starts(
        daily, first, datetime(2026, 7, 1, tzinfo=BERLIN), datetime(2026, 7, 3, tzinfo=BERLIN), HOUR
    )
    assert start.tzinfo is NEW_YORK
    assert start.isoformat() == "2026-07-01T09:00:00-04:00"


# -- series_end and canonical ----------------------------------------------------------------------


def test_series_end() -> None:
    first = datetime(2026, 3, 2, 9, tzinfo=BERLIN)
    daily = {"type": "daily", "interval": 1}
    assert series_end(rec(daily, "2026-03-02"), first, HOUR) is None
    # Ten days from 25 March: the last starts 3 April, still at 09:00 after the change to summer time.
    assert series_end(rec(daily, "2026-03-25", count=10), first, HOUR) == datetime(
        2026, 4, 3, 10, tzinfo=BERLIN
    )
    mondays = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]}
    assert series_end(rec(mondays, "2017-09-04", end="2017-12-31"), first, timedelta(minutes=30)) == datetime(
        2017, 12, 25, 9, 30, tzinfo=BERLIN
    )
    weekly = {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "friday"]}
    assert series_end(rec(weekly, "2026-03-04", count=5), first, HOUR) == datetime(
        2026, 4, 3, 10, tzinfo=BERLIN
    )
    yearly = {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 29}
    assert series_end(rec(yearly, "2028-01-01", count=2), first, HOUR) == datetime(
        2029, 2, 28, 10, tzinfo=BERLIN
    )
    huge = rec({"type": "daily", "interval": 1}, "2026-01-01", count=1_000_000)
    end = series_end(huge, first, HOUR)
    assert end is not None
    assert end.date() == date(2026, 1, 1) + timedelta(days=999_999)


def test_canonical_fills_graphs_defaults() -> None:
    numbered = rec(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["Monday"]}, "2026-03-01", count=3
    )
    assert canonical(numbered, "W. Europe Standard Time") == {
        "pattern": {
            "type": "relativeMonthly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": ["monday"],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "numbered",
            "startDate": "2026-03-01",
            "endDate": "0001-01-01",
            "recurrenceTimeZone": "W. Europe Standard Time",
            "numberOfOccurrences": 3,
        },
    }
    # Graph's read form is itself valid input (the zeros and 0001-01-01 are "not set").
    validate(canonical(numbered, "W. Europe Standard Time"))
    no_end = canonical(rec({"type": "daily", "interval": 2}, "2026-03-01"), "UTC")
    assert no_end["range"]["endDate"] == "0001-01-01"
    assert no_end["range"]["numberOfOccurrences"] == 0
    validate(no_end)


# -- validation ------------------------------------------------------------------------------------

WEEKLY = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]}
NO_END = {"type": "noEnd", "startDate": "2026-03-02"}


@pytest.mark.parametrize(
    ("recurrence", "message"),
    [
        (
            {"pattern": {"type": "hourly", "interval": 1}, "range": NO_END},
            "recurrence.pattern.type 'hourly' is not one of",
        ),
        ({"pattern": {"interval": 1}, "range": NO_END}, "recurrence.pattern.type is required"),
        (
            {"pattern": {"type": "daily", "interval": 0}, "range": NO_END},
            "interval must be between 1 and 999",
        ),
        (
            {"pattern": {"type": "weekly", "interval": 100, "daysOfWeek": ["monday"]}, "range": NO_END},
            "between 1 and 99",
        ),
        ({"pattern": {"type": "daily"}, "range": NO_END}, "recurrence.pattern.interval is required"),
        ({"pattern": {"type": "daily", "interval": "1"}, "range": NO_END}, "interval must be a whole number"),
        (
            {"pattern": {"type": "daily", "interval": True}, "range": NO_END},
            "interval must be a whole number",
        ),
        (
            {"pattern": {"type": "weekly", "interval": 1}, "range": NO_END},
            "recurrence.pattern.daysOfWeek is required for a weekly pattern",
        ),
        (
            {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": []}, "range": NO_END},
            "daysOfWeek is required",
        ),
        (
            {"pattern": {"type": "relativeMonthly", "interval": 1}, "range": NO_END},
            "daysOfWeek is required for a relativeMonthly",
        ),
        (
            {"pattern": {**WEEKLY, "daysOfWeek": ["funday"]}, "range": NO_END},
            "daysOfWeek 'funday' is not one of monday",
        ),
        ({"pattern": {**WEEKLY, "daysOfWeek": "monday"}, "range": NO_END}, "daysOfWeek must be a list"),
        ({"pattern": {**WEEKLY, "firstDayOfWeek": "someday"}, "range": NO_END}, "firstDayOfWeek 'someday'"),
        ({"pattern": {**WEEKLY, "index": "fifth"}, "range": NO_END}, "index 'fifth' is not one of first"),
        (
            {"pattern": {"type": "absoluteMonthly", "interval": 1}, "range": NO_END},
            "dayOfMonth is required for an absoluteMonthly",
        ),
        (
            {"pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 32}, "range": NO_END},
            "dayOfMonth must be between 1 and 31",
        ),
        (
            {"pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 5}, "range": NO_END},
            "month is required for an absoluteYearly",
        ),
        (
            {"pattern": {"type": "relativeYearly", "interval": 1, "daysOfWeek": ["monday"]}, "range": NO_END},
            "month is required",
        ),
        (
            {
                "pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 5, "month": 13},
                "range": NO_END,
            },
            "month must be between 1 and 12",
        ),
        (
            {"pattern": {**WEEKLY, "colour": "blue"}, "range": NO_END},
            "recurrence.pattern.colour is not a property",
        ),
        ({"pattern": WEEKLY}, "recurrence.range is required"),
        ({"range": NO_END}, "recurrence.pattern is required"),
        ({"pattern": WEEKLY, "range": "noEnd"}, "recurrence.range must be an object"),
        ({"pattern": WEEKLY, "range": {"startDate": "2026-03-02"}}, "recurrence.range.type is required"),
        (
            {"pattern": WEEKLY, "range": {"type": "forever", "startDate": "2026-03-02"}},
            "range.type 'forever' is not one of",
        ),
        ({"pattern": WEEKLY, "range": {"type": "noEnd"}}, "recurrence.range.startDate is required"),
        (
            {"pattern": WEEKLY, "range": {"type": "noEnd", "startDate": "2026-3-2"}},
            "startDate must be a date (YYYY-MM-DD)",
        ),
        (
            {"pattern": WEEKLY, "range": {"type": "noEnd", "startDate": "2026-02-30"}},
            "startDate must be a date",
        ),
        (
            {"pattern": WEEKLY, "range": {"type": "noEnd", "startDate": "20260302"}},
            "startDate must be a date",
        ),
        (
            {"pattern": WEEKLY, "range": {"type": "endDate", "startDate": "2026-03-02"}},
            "endDate is required for an endDate range",
        ),
        (
            {
                "pattern": WEEKLY,
                "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-03-01"},
            },
            "recurrence.range.endDate 2026-03-01 is before startDate 2026-03-02",
        ),
        (
            {"pattern": WEEKLY, "range": {"type": "numbered", "startDate": "2026-03-02"}},
            "numberOfOccurrences is required for a numbered range",
        ),
        (
            {
                "pattern": WEEKLY,
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 0},
            },
            "numberOfOccurrences is required for a numbered range",
        ),
        (
            {
                "pattern": WEEKLY,
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": -3},
            },
            "numberOfOccurrences must be positive",
        ),
        (
            {"pattern": WEEKLY, "range": {**NO_END, "recurrenceTimeZone": "Mars Standard Time"}},
            "recurrenceTimeZone: 'Mars Standard Time' is neither a Windows nor an IANA time zone name",
        ),
        (
            # Tuesday 3 March to Saturday 7 March holds no Monday.
            {
                "pattern": WEEKLY,
                "range": {"type": "endDate", "startDate": "2026-03-03", "endDate": "2026-03-07"},
            },
            "recurrence has no occurrences",
        ),
        ("weekly", "recurrence must be an object"),
    ],
)
def test_validate_refuses(recurrence: Any, message: str) -> None:
    with pytest.raises(RecurrenceError) as caught:
        validate(recurrence)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "recurrence",
    [
        rec({"type": "daily", "interval": 1}, "2026-03-02"),
        # Ignored properties at Graph's "not set" values, and the OData type annotation.
        {
            "pattern": {
                "type": "daily",
                "interval": 1,
                "month": 0,
                "dayOfMonth": 0,
                "daysOfWeek": [],
                "index": None,
            },
            "range": {
                **NO_END,
                "endDate": "0001-01-01",
                "numberOfOccurrences": 0,
                "recurrenceTimeZone": None,
            },
            "@odata.type": "#microsoft.graph.patternedRecurrence",
        },
        rec({**WEEKLY, "firstDayOfWeek": None}, "2026-03-02", end="2026-03-02"),
        {"pattern": WEEKLY, "range": {**NO_END, "recurrenceTimeZone": "Pacific Standard Time"}},
        {"pattern": WEEKLY, "range": {**NO_END, "recurrenceTimeZone": "Europe/Berlin"}},
        rec({"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 31}, "2026-03-02", count=3),
    ],
)
def test_validate_accepts(recurrence: dict[str, Any]) -> None:
    validate(recurrence)


# -- properties ------------------------------------------------------------------------------------


def _matches(pattern: dict[str, Any], day: date) -> bool:
    """Whether ``day`` fits the pattern with interval 1: a day-by-day reading of Graph's documentation."""
    kind = pattern["type"]
    last_day = calendar.monthrange(day.year, day.month)[1]
    if kind == "daily":
        return True
    if kind == "weekly":
        return DAYS[day.weekday()] in list(pattern["daysOfWeek"])
    if kind.endswith("Yearly") and day.month != pattern["month"]:
        return False
    if kind.startswith("absolute"):
        return day.day == min(int(pattern["dayOfMonth"]), last_day)
    return day == _relative_day(
        day.year, day.month, tuple(pattern["daysOfWeek"]), pattern.get("index", "first")
    )


@functools.cache
def _relative_day(year: int, month: int, days: tuple[str, ...], index: str) -> date:
    """The index-th day of the month that is one of ``days``."""
    fits = [
        date(year, month, n)
        for n in range(1, calendar.monthrange(year, month)[1] + 1)
        if DAYS[date(year, month, n).weekday()] in days
    ]
    return fits[{"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}[index]]


def _oracle(recurrence: dict[str, Any], stop: date) -> list[date]:
    """All occurrence dates up to ``stop``, walking day by day from startDate."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    n, kind = pattern["interval"], pattern["type"]
    wkst = DAYS.index(pattern.get("firstDayOfWeek", "sunday"))
    day = date.fromisoformat(rng["startDate"])
    end = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else date.max
    first: date | None = None
    found: list[date] = []
    while day <= min(stop, end):
        if _matches(pattern, day):
            first = first or day
            if kind == "daily":
                steps = (day - first).days
            elif kind == "weekly":
                week = day - timedelta(days=(day.weekday() - wkst) % 7)
                first_week = first - timedelta(days=(first.weekday() - wkst) % 7)
                steps = (week - first_week).days // 7
            elif kind.endswith("Monthly"):
                steps = (day.year - first.year) * 12 + day.month - first.month
            else:
                steps = day.year - first.year
            if steps % n == 0:
                found.append(day)
                if rng["type"] == "numbered" and len(found) == rng["numberOfOccurrences"]:
                    break
        day += timedelta(days=1)
    return found


DAY_SETS = st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True)
PATTERNS = st.one_of(
    st.fixed_dictionaries({"type": st.just("daily"), "interval": st.integers(1, 5)}),
    st.fixed_dictionaries(
        {
            "type": st.just("weekly"),
            "interval": st.integers(1, 4),
            "daysOfWeek": DAY_SETS,
            "firstDayOfWeek": st.sampled_from(DAYS),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("absoluteMonthly"), "interval": st.integers(1, 4), "dayOfMonth": st.integers(1, 31)}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("relativeMonthly"),
            "interval": st.integers(1, 4),
            "daysOfWeek": DAY_SETS,
            "index": st.sampled_from(["first", "second", "third", "fourth", "last"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("absoluteYearly"),
            "interval": st.integers(1, 3),
            "month": st.integers(1, 12),
            "dayOfMonth": st.integers(1, 31),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("relativeYearly"),
            "interval": st.integers(1, 3),
            "month": st.integers(1, 12),
            "daysOfWeek": DAY_SETS,
            "index": st.sampled_from(["first", "second", "third", "fourth", "last"]),
        }
    ),
)
STARTS = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def recurrences(draw: st.DrawFn, patterns: st.SearchStrategy[dict[str, Any]] = PATTERNS) -> dict[str, Any]:
    pattern = draw(patterns)
    start = draw(STARTS)
    kind = draw(st.sampled_from(["noEnd", "endDate", "numbered"]))
    if kind == "endDate":
        # Far enough for at least one occurrence of any pattern (a yearly one every 3 years).
        end = start + timedelta(days=draw(st.integers(4 * 366 if "Yearly" in pattern["type"] else 400, 2000)))
        return rec(pattern, start.isoformat(), end=end.isoformat())
    if kind == "numbered":
        return rec(pattern, start.isoformat(), count=draw(st.integers(1, 40)))
    return rec(pattern, start.isoformat())


def _window(data: st.DataObject, start: date) -> tuple[datetime, datetime]:
    lo = datetime.combine(start, time(), tzinfo=UTC) + timedelta(
        hours=data.draw(st.integers(-48, 6 * 365 * 24))
    )
    return lo, lo + timedelta(hours=data.draw(st.integers(1, 400 * 24)))


@settings(max_examples=300, deadline=None)
@given(recurrence=recurrences(), data=st.data())
def test_expansion_matches_a_day_by_day_reading_of_the_rules(
    recurrence: dict[str, Any], data: st.DataObject
) -> None:
    start = date.fromisoformat(recurrence["range"]["startDate"])
    lo, hi = _window(data, start)
    first = datetime.combine(start, time(9, 15), tzinfo=BERLIN)
    starts = occurrence_starts(recurrence, first, lo, hi, HOUR)
    expected = [
        day
        for day in _oracle(recurrence, (hi + timedelta(days=2)).date())
        if lo < datetime.combine(day, time(9, 15), tzinfo=BERLIN) + HOUR
        and datetime.combine(day, time(9, 15), tzinfo=BERLIN) < hi
    ]
    assert [s.date() for s in starts] == expected
    end = series_end(recurrence, first, HOUR)
    if recurrence["range"]["type"] == "noEnd":
        assert end is None
    else:
        # At most 40 occurrences, or 2000 days: a yearly series every 3 years may run 120 years.
        years = 125 if "Yearly" in recurrence["pattern"]["type"] else 15
        last = _oracle(recurrence, date(start.year + years, 12, 31))[-1]
        assert end == datetime.combine(last, time(10, 15), tzinfo=BERLIN)


DAILY_OR_WEEKLY = st.one_of(
    st.fixed_dictionaries({"type": st.just("daily"), "interval": st.integers(1, 10)}),
    st.fixed_dictionaries(
        {
            "type": st.just("weekly"),
            "interval": st.integers(1, 5),
            "daysOfWeek": DAY_SETS,
            "firstDayOfWeek": st.sampled_from(DAYS),
        }
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    recurrence=recurrences(DAILY_OR_WEEKLY),
    zone=st.sampled_from([BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata")]),
    at=st.times(),
    minutes=st.integers(0, 3 * 24 * 60),
    data=st.data(),
)
def test_splitting_a_window_loses_and_repeats_nothing(
    recurrence: dict[str, Any], zone: ZoneInfo, at: time, minutes: int, data: st.DataObject
) -> None:
    start = date.fromisoformat(recurrence["range"]["startDate"])
    lo, hi = _window(data, start)
    cut = lo + (hi - lo) * data.draw(st.floats(0, 1))
    first = datetime.combine(start, at, tzinfo=zone)
    duration = timedelta(minutes=minutes)
    whole = occurrence_starts(recurrence, first, lo, hi, duration)
    left = occurrence_starts(recurrence, first, lo, cut, duration)
    right = occurrence_starts(recurrence, first, cut, hi, duration)
    assert whole == sorted(set(whole))
    # An occurrence straddling a cut inside the window is in both halves; nothing else may be.
    straddling = [
        s for s in whole if lo < cut < hi and s.astimezone(UTC) < cut < (s + duration).astimezone(UTC)
    ]
    assert sorted(set(left) | set(right)) == whole
    assert sorted(set(left) & set(right)) == straddling
    pattern = recurrence["pattern"]
    for s in whole:
        assert s.tzinfo is zone
        assert s.date() >= start and _matches(pattern, s.date())
        if s.time() != at.replace(fold=0):  # only a wall time inside a DST gap may move
            assert zone.utcoffset(datetime.combine(s.date(), at)) != zone.utcoffset(s.replace(tzinfo=None))
