"""Graph's ``patternedRecurrence``: validation and expansion into occurrences.

Semantics (Microsoft's "Schedule repeating appointments as recurring events" and the
recurrencePattern / recurrenceRange pages, with Exchange's stored form, MS-OXOCAL 2.2.1.44):

* The first occurrence is the first date on or after ``range.startDate`` that fits the pattern,
  whatever the master's own date. ``interval`` then counts days, weeks (starting on
  ``firstDayOfWeek``), months or years from that first occurrence: a relativeMonthly "first
  Thursday every 2 months" from 29 August runs September, November, ...
* relative* patterns take the ``index``-th (first..fourth, or last) of all the days in the month
  that are one of ``daysOfWeek``: "first Thursday or Friday" is whichever comes first.
* A ``dayOfMonth`` the month lacks (31, or 29 February) falls on the month's last day, as Outlook
  and Exchange do.
* ``endDate`` is inclusive; ``numberOfOccurrences`` counts from the first occurrence.
* Dates are calendar dates in the zone of the master's start; every occurrence starts at the
  master's wall-clock time there, so its UTC time moves across a DST change. Occurrence ends are
  start + duration in wall-clock time, as Exchange keeps start and end as offsets from midnight.
  ``range.recurrenceTimeZone`` is checked but not used: Graph fills it with the start's zone.
* A recurrence (an endDate range) with no occurrence at all is refused, as Exchange refuses it.

Expansion works on dates with dateutil's ``rrule``; a window far from the start skips whole
intervals arithmetically (every interval but the first holds the same number of occurrences), so
the cost follows the window, not the series' age.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import Any, Literal

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule

from exsync.model.zones import UnknownZone, windows_to_iana

__all__ = ["RecurrenceError", "canonical", "occurrence_starts", "series_end", "validate"]


class RecurrenceError(ValueError):
    """A ``recurrence`` Graph would refuse with 400; the message names the field and the fault."""


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # rrule's 0..6
_INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_Freq = Literal[0, 1, 2, 3]  # rrule's YEARLY, MONTHLY, WEEKLY, DAILY
_FREQ: dict[str, _Freq] = {
    "daily": DAILY,
    "weekly": WEEKLY,
    "absoluteMonthly": MONTHLY,
    "relativeMonthly": MONTHLY,
    "absoluteYearly": YEARLY,
    "relativeYearly": YEARLY,
}
# EWS documents 1-999 days and 1-99 weeks or months; years have no documented cap.
_MAX_INTERVAL = {DAILY: 999, WEEKLY: 99, MONTHLY: 99, YEARLY: None}
_RANGE_TYPES = ("endDate", "noEnd", "numbered")
_PATTERN_KEYS = frozenset(
    {"type", "interval", "month", "dayOfMonth", "daysOfWeek", "firstDayOfWeek", "index"}
)
_RANGE_KEYS = frozenset({"type", "startDate", "endDate", "recurrenceTimeZone", "numberOfOccurrences"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Graph's read form of "no end date".
_NO_DATE = "0001-01-01"
# Margin in days around a window when picking candidate dates: covers any UTC offset difference.
_SLACK_DAYS = 2
# rrule steps into the next year while expanding; stay clear of datetime's year 9999.
_LAST_DATE = date(9998, 12, 31)


@dataclass(frozen=True)
class _Series:
    """A checked recurrence: the rrule parts and the range, on dates."""

    pattern_type: str
    freq: _Freq
    interval: int
    weekdays: tuple[int, ...]
    month_days: tuple[int, ...]
    month: int
    setpos: int | None
    wkst: int
    days_of_week: tuple[str, ...]
    first_day_of_week: str
    index: str
    day_of_month: int
    range_type: str
    start: date
    until: date | None  # endDate, kept inside the years rrule handles
    end_date: date | None  # endDate as given
    count: int | None
    time_zone: str | None

    def rule(self, dtstart: date, interval: int, count: int | None = None) -> rrule:
        return rrule(
            self.freq,
            dtstart=datetime.combine(dtstart, time()),
            interval=interval,
            wkst=self.wkst,
            count=count,
            until=None if self.until is None else datetime.combine(self.until, time()),
            bysetpos=self.setpos,
            bymonth=self.month or None,
            bymonthday=self.month_days or None,
            byweekday=self.weekdays or None,
        )

    @cached_property
    def first(self) -> date:
        """The first pattern date on or after startDate, before the interval applies."""
        found = rrule(
            self.freq,
            dtstart=datetime.combine(self.start, time()),
            wkst=self.wkst,
            bysetpos=self.setpos,
            bymonth=self.month or None,
            bymonthday=self.month_days or None,
            byweekday=self.weekdays or None,
        ).after(datetime.combine(self.start, time()), inc=True)
        assert found is not None  # every pattern recurs without end
        return found.date()

    def _period(self, first: date, k: int) -> date:
        """The first day of the k-th interval, counted from the one holding the first occurrence."""
        n = self.interval
        if self.freq == DAILY:
            return first + timedelta(days=k * n)
        if self.freq == WEEKLY:
            return self._week_of(first) + timedelta(weeks=k * n)
        if self.freq == MONTHLY:
            months = first.year * 12 + first.month - 1 + k * n
            return date(months // 12, months % 12 + 1, 1)
        return date(first.year + k * n, 1, 1)

    def _periods_before(self, first: date, day: date) -> int:
        """How many whole intervals lie between the first occurrence's interval and ``day``'s."""
        n = self.interval
        if self.freq == DAILY:
            k = (day - first).days // n
        elif self.freq == WEEKLY:
            k = (day - self._week_of(first)).days // (7 * n)
        elif self.freq == MONTHLY:
            k = ((day.year - first.year) * 12 + day.month - first.month) // n
        else:
            k = (day.year - first.year) // n
        return max(k, 0)

    def _occurrences_before(self, first: date, k: int) -> int:
        """Occurrences in the first k intervals: one each, but weekly's first week may be partial."""
        if k == 0:
            return 0
        if self.freq != WEEKLY:
            return k
        week = self._week_of(first)
        in_first_week = sum(1 for d in self.weekdays if week + timedelta(days=(d - self.wkst) % 7) >= first)
        return in_first_week + (k - 1) * len(self.weekdays)

    def _week_of(self, day: date) -> date:
        return day - timedelta(days=(day.weekday() - self.wkst) % 7)

    def dates(self, lo: date, hi: date) -> list[date]:
        """The occurrence dates in [lo, hi], skipping whole intervals before lo."""
        first = self.first
        k = self._periods_before(first, lo)
        count = None if self.count is None else self.count - self._occurrences_before(first, k)
        if count is not None and count <= 0:
            return []
        rule = self.rule(self._period(first, k) if k else first, self.interval, count)
        found = rule.between(datetime.combine(lo, time()), datetime.combine(hi, time()), inc=True)
        return [d.date() for d in found]

    def last(self) -> date | None:
        """The date of the last occurrence; None without an end, or with one past year 9998."""
        first = self.first
        if self.count is not None:
            # The interval holding occurrence number `count`, then rrule for the rest.
            k = 0
            if self.freq != WEEKLY:
                k = self.count - 1
            elif self.count > self._occurrences_before(first, 1):
                k = 1 + (self.count - self._occurrences_before(first, 1) - 1) // len(self.weekdays)
            rest = self.count - self._occurrences_before(first, k)
            try:
                found = list(self.rule(self._period(first, k) if k else first, self.interval, rest))
            except (ValueError, OverflowError):  # that interval lies past year 9999
                return None
            if len(found) < rest or found[-1].date() > _LAST_DATE:
                return None
            return found[-1].date()
        if self.until is None:
            return None
        # Start one interval early: the interval holding `until` may have nothing on or before it.
        k = max(self._periods_before(first, self.until) - 1, 0)
        last = self.rule(self._period(first, k) if k else first, self.interval).before(
            datetime.combine(self.until, time()), inc=True
        )
        assert last is not None  # validate() refused ranges without occurrences
        return last.date()


def validate(recurrence: Mapping[str, Any]) -> None:
    """Raise RecurrenceError for a recurrence Graph would refuse with 400."""
    _parse(recurrence)


def occurrence_starts(
    recurrence: Mapping[str, Any],
    first_start: datetime,
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
) -> list[datetime]:
    """The starts of the occurrences overlapping [window_start, window_end), in first_start's zone, sorted.

    ``first_start`` is the series master's start, aware, in the event's zone; it gives the wall-clock
    time and the zone of every occurrence. An occurrence [start, start + duration) counts when it
    overlaps the window; a zero-length one counts when it starts inside it (window_start included).
    """
    series = _parse(recurrence)
    tz = _zone_of(first_start, "first_start")
    _zone_of(window_start, "window_start")
    _zone_of(window_end, "window_end")
    lo_utc, hi_utc = window_start.astimezone(UTC), window_end.astimezone(UTC)
    if hi_utc <= lo_utc:
        return []
    # Candidate dates: the window in the event's zone, widened by the duration and a margin.
    lo = _shift(_local_date(lo_utc, tz), -max(duration, timedelta()).days - _SLACK_DAYS)
    hi = _shift(_local_date(hi_utc, tz), _SLACK_DAYS)
    wall = first_start.time()
    starts = []
    for day in series.dates(lo, hi):
        start = _local(day, wall, tz)
        start_utc = start.astimezone(UTC)
        end_utc = max((start + duration).astimezone(UTC), start_utc)
        if start_utc >= hi_utc:
            continue
        if end_utc > lo_utc or (start_utc >= lo_utc and end_utc == start_utc):
            starts.append(start)
    return starts


def series_end(recurrence: Mapping[str, Any], first_start: datetime, duration: timedelta) -> datetime | None:
    """The end of the series' last occurrence, in first_start's zone.

    None for a noEnd range, or a numbered one that runs past year 9998. Raises RecurrenceError as
    validate() does.
    """
    series = _parse(recurrence)
    tz = _zone_of(first_start, "first_start")
    last = series.last()
    if last is None:
        return None
    return _normal(_local(last, first_start.time(), tz) + duration)


def canonical(recurrence: Mapping[str, Any], time_zone: str) -> dict[str, Any]:
    """The recurrence as Graph returns it: every property present, defaults filled, enums in Graph's case.

    ``time_zone`` is the event's start zone, Graph's ``recurrenceTimeZone`` when none was given.
    """
    s = _parse(recurrence)
    return {
        "pattern": {
            "type": s.pattern_type,
            "interval": s.interval,
            "month": s.month,
            "dayOfMonth": s.day_of_month,
            "daysOfWeek": list(s.days_of_week),
            "firstDayOfWeek": s.first_day_of_week,
            "index": s.index,
        },
        "range": {
            "type": s.range_type,
            "startDate": s.start.isoformat(),
            "endDate": s.end_date.isoformat() if s.end_date is not None else _NO_DATE,
            "recurrenceTimeZone": s.time_zone or time_zone,
            "numberOfOccurrences": s.count or 0,
        },
    }


# -- parsing ---------------------------------------------------------------------------------------


def _parse(recurrence: Mapping[str, Any]) -> _Series:
    if not isinstance(recurrence, Mapping):
        raise RecurrenceError("recurrence must be an object with a pattern and a range")
    _known_keys(recurrence, frozenset({"pattern", "range"}), "recurrence")
    pattern = _object(recurrence, "pattern")
    rng = _object(recurrence, "range")
    _known_keys(pattern, _PATTERN_KEYS, "recurrence.pattern")
    _known_keys(rng, _RANGE_KEYS, "recurrence.range")

    kind = _enum(pattern, "type", tuple(_FREQ), "recurrence.pattern")
    if kind is None:
        raise RecurrenceError("recurrence.pattern.type is required")
    freq = _FREQ[kind]
    interval = _integer(pattern, "interval", "recurrence.pattern")
    if interval is None:
        raise RecurrenceError("recurrence.pattern.interval is required")
    cap = _MAX_INTERVAL[freq]
    if interval < 1 or (cap is not None and interval > cap):
        bounds = f"between 1 and {cap}" if cap is not None else "at least 1"
        raise RecurrenceError(
            f"recurrence.pattern.interval must be {bounds} for {_a(kind)} pattern, not {interval}"
        )

    # Every property is checked even where the type ignores it, as Graph does.
    days = _days_of_week(pattern)
    first_day = _enum(pattern, "firstDayOfWeek", _DAYS, "recurrence.pattern") or "sunday"
    index = _enum(pattern, "index", tuple(_INDEXES), "recurrence.pattern") or "first"
    day_of_month = _integer(pattern, "dayOfMonth", "recurrence.pattern") or 0
    month = _integer(pattern, "month", "recurrence.pattern") or 0
    if not 0 <= day_of_month <= 31:
        raise RecurrenceError(f"recurrence.pattern.dayOfMonth must be between 1 and 31, not {day_of_month}")
    if not 0 <= month <= 12:
        raise RecurrenceError(f"recurrence.pattern.month must be between 1 and 12, not {month}")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise RecurrenceError(f"recurrence.pattern.daysOfWeek is required for {_a(kind)} pattern")
    if kind in ("absoluteMonthly", "absoluteYearly") and day_of_month == 0:
        raise RecurrenceError(f"recurrence.pattern.dayOfMonth is required for {_a(kind)} pattern")
    if kind in ("absoluteYearly", "relativeYearly") and month == 0:
        raise RecurrenceError(f"recurrence.pattern.month is required for {_a(kind)} pattern")

    weekdays: tuple[int, ...] = ()
    month_days: tuple[int, ...] = ()
    setpos: int | None = None
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        weekdays = tuple(sorted({_DAYS.index(d) for d in days}))
    if kind.startswith("relative"):
        setpos = _INDEXES[index]
    if kind.startswith("absolute"):
        # 28..d with the last that exists: day d, or the month's last day when it is shorter.
        month_days = (day_of_month,) if day_of_month <= 28 else tuple(range(28, day_of_month + 1))
        setpos = None if day_of_month <= 28 else -1

    range_type = _enum(rng, "type", _RANGE_TYPES, "recurrence.range")
    if range_type is None:
        raise RecurrenceError("recurrence.range.type is required")
    start = _date(rng, "startDate")
    if start is None:
        raise RecurrenceError("recurrence.range.startDate is required")
    if start > _LAST_DATE:
        raise RecurrenceError(f"recurrence.range.startDate must be before {_LAST_DATE}, not {start}")
    end = _date(rng, "endDate")
    occurrences = _integer(rng, "numberOfOccurrences", "recurrence.range") or 0
    if occurrences < 0:
        raise RecurrenceError(f"recurrence.range.numberOfOccurrences must be positive, not {occurrences}")
    time_zone = rng.get("recurrenceTimeZone")
    if time_zone is not None:
        if not isinstance(time_zone, str):
            raise RecurrenceError("recurrence.range.recurrenceTimeZone must be a time zone name")
        try:
            if time_zone:
                windows_to_iana(time_zone)
        except UnknownZone as exc:
            raise RecurrenceError(f"recurrence.range.recurrenceTimeZone: {exc}") from None

    until: date | None = None
    count: int | None = None
    if range_type == "endDate":
        if end is None:
            raise RecurrenceError("recurrence.range.endDate is required for an endDate range")
        if end < start:
            raise RecurrenceError(f"recurrence.range.endDate {end} is before startDate {start}")
        until = min(end, _LAST_DATE)
    elif range_type == "numbered":
        if occurrences == 0:
            raise RecurrenceError("recurrence.range.numberOfOccurrences is required for a numbered range")
        count = occurrences

    series = _Series(
        pattern_type=kind,
        freq=freq,
        interval=interval,
        weekdays=weekdays,
        month_days=month_days,
        month=month if kind.endswith("Yearly") else 0,
        setpos=setpos,
        wkst=_DAYS.index(first_day),
        days_of_week=days,
        first_day_of_week=first_day,
        index=index,
        day_of_month=day_of_month,
        range_type=range_type,
        start=start,
        until=until,
        end_date=end if range_type == "endDate" else None,
        count=count,
        time_zone=time_zone or None,
    )
    if until is not None and series.first > until:
        # Exchange refuses these (EWS: ErrorRecurrenceHasNoOccurrence).
        raise RecurrenceError(
            f"recurrence has no occurrences: the pattern's first date on or after startDate {start} "
            f"is {series.first}, after endDate {until}"
        )
    return series


def _a(kind: str) -> str:
    return f"an {kind}" if kind.startswith("absolute") else f"a {kind}"


def _known_keys(obj: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    for key in obj:
        if key not in known and not str(key).startswith("@odata."):
            raise RecurrenceError(f"{where}.{key} is not a property Graph knows")


def _object(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        raise RecurrenceError(f"recurrence.{key} is required")
    if not isinstance(value, Mapping):
        raise RecurrenceError(f"recurrence.{key} must be an object")
    return value


def _enum(obj: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str | None:
    """An enum member in Graph's spelling; Graph reads them without regard to case."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        for member in allowed:
            if member.casefold() == value.casefold():
                return member
    raise RecurrenceError(f"{where}.{key} {value!r} is not one of {', '.join(allowed)}")


def _integer(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecurrenceError(f"{where}.{key} must be a whole number, not {value!r}")
    return int(value)


def _days_of_week(pattern: Mapping[str, Any]) -> tuple[str, ...]:
    value = pattern.get("daysOfWeek")
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise RecurrenceError("recurrence.pattern.daysOfWeek must be a list of day names")
    days = []
    for item in value:
        day = _enum({"daysOfWeek": item}, "daysOfWeek", _DAYS, "recurrence.pattern")
        if day is None:
            raise RecurrenceError("recurrence.pattern.daysOfWeek must not contain null")
        if day not in days:
            days.append(day)
    return tuple(days)


def _date(rng: Mapping[str, Any], key: str) -> date | None:
    value = rng.get(key)
    if value is None:
        return None
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RecurrenceError(f"recurrence.range.{key} must be a date (YYYY-MM-DD), not {value!r}")


# -- time ------------------------------------------------------------------------------------------


def _zone_of(moment: datetime, name: str) -> tzinfo:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.tzinfo


def _local(day: date, wall: time, tz: tzinfo) -> datetime:
    return _normal(datetime.combine(day, wall, tzinfo=tz))


def _normal(moment: datetime) -> datetime:
    # Through UTC and back: a wall time the DST gap skips becomes the real time after the gap.
    return moment.astimezone(UTC).astimezone(moment.tzinfo)


def _local_date(moment: datetime, tz: tzinfo) -> date:
    try:
        return moment.astimezone(tz).date()
    except OverflowError:  # a window bound at datetime.min or datetime.max
        return date.min if moment.year == 1 else _LAST_DATE


def _shift(day: date, days: int) -> date:
    """``day`` moved by whole days, kept inside the years rrule can step through."""
    try:
        moved = day + timedelta(days=days)
    except OverflowError:
        moved = date.min if days < 0 else _LAST_DATE
    return min(moved, _LAST_DATE)
