"""Microsoft Graph ``event`` JSON and the canonical ``Event``, both ways. Pure: no I/O.

The mapping (sources: Graph v1.0 resources event, dateTimeTimeZone, patternedRecurrence, recurrencePattern,
recurrenceRange, attendee, responseStatus; "Schedule repeating appointments as recurring events"):

- Times. Events are read with ``Prefer: outlook.timezone="UTC"``: every ``dateTimeTimeZone`` is then an
  instant, which is converted to the event's own zone, ``originalStartTimeZone`` (a Windows name, mapped to
  IANA by CLDR; an unknown or custom zone falls back to UTC with a warning, SCENARIOS 57; none at all, as in
  Microsoft's delta examples, is the profile's zone). The canonical ``end`` is a wall time of that zone too,
  so a flight's different end zone is read as the same instant; an update that moves the end writes it in
  the event's own end zone again. Written times are wall times in the event's zone (its Windows name), never
  UTC, so a weekly 09:00 stays at 09:00 across DST (SCENARIOS 56).
- All-day events are dates: Graph shows them at midnight of their own dates with an exclusive end; the
  canonical ``end`` is the last day, inclusive (SCENARIOS 55).
- ``recurrence`` ↔ an RFC 5545 RRULE value: daily, weekly (``BYDAY``, ``WKST`` ↔ ``firstDayOfWeek``),
  absolute/relative monthly and yearly (``BYMONTHDAY``, ``BYMONTH``, ``BYDAY=2TU`` or ``BYDAY=…;BYSETPOS=n``
  ↔ ``index``), ``COUNT`` ↔ numbered, ``UNTIL`` ↔ ``endDate`` (the last day in the event's zone; read back
  as 23:59:59 of that day in UTC, or a date for all-day series). Rules Graph cannot hold (HOURLY, BYWEEKNO,
  several ordinals, ...) raise ``Unmappable``: the write is rejected, nothing is approximated.
- A series' ``exceptions``: instances of type ``exception`` (keyed by ``originalStart`` in the series' zone;
  ``subject``/``location`` only where they differ from the master's) and the dates of
  ``cancelledOccurrences`` (``OID.{seriesMasterId}.{date}``) at the series' time of day.
- ``attendees`` ↔ ``attendees`` (``type`` is the role, ``status.response`` the response: ``notResponded`` is
  none, ``tentativelyAccepted`` tentative); ``ical_uid`` ↔ ``iCalUId``; ``organizer`` ↔
  ``organizer.emailAddress.address``; ``is_organizer`` ↔ ``isOrganizer``.
- ``reminder_minutes`` ↔ ``reminderMinutesBeforeStart`` while ``isReminderOn`` (off: none);
  ``private`` ↔ ``sensitivity`` private (or confidential); ``status``: ``isCancelled`` is cancelled,
  ``showAs`` tentative is tentative (on the organizer's own events: an attendee's copy shows the attendee's
  answer there), anything else confirmed.
- ``body`` is the text of ``body`` (an HTML body is read as its text and kept as ``body_html``).

Values Graph cannot hold the way the business side gave them travel in a second extended property of
exsync's property set, ``exsync-held`` (JSON), and are read back only while the event still holds an
equivalent value, so a user's edit in Outlook always wins:
- ``attendees`` not written as real attendees (no invitations: DESIGN rule 5), while the event has none;
- ``recurrence`` as the business spelled it (``FREQ=MONTHLY`` for ``…;BYMONTHDAY=15``), while Graph's
  recurrence still means the same rule;
- ``time_zone`` when its Windows zone maps back to another IANA name (Europe/Zurich → W. Europe Standard
  Time → Europe/Berlin), while the event is still in that Windows zone;
- ``status`` cancelled, which Graph cannot set on an event (``isCancelled`` is read-only): written as
  ``showAs`` free, read as cancelled while the event still shows as free.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from dateutil.rrule import rrulestr

from exsync.mailbox.graph.client import KEY_PROPERTY
from exsync.model import Attendee, Event, Fields, Occurrence
from exsync.model.hashing import digest
from exsync.model.html import html_to_text
from exsync.model.zones import UnknownZone, iana_to_windows, windows_to_iana, zone

log = logging.getLogger(__name__)

HELD_PROPERTY = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-held"
# Read every event this way: instants in UTC, the body as text where the server converts it.
READ_PREFER = ('outlook.timezone="UTC"', 'outlook.body-content-type="text"')
EXPAND = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}' or id eq '{HELD_PROPERTY}')"
# What an instance listing needs to read exceptions (and to find an occurrence's id).
INSTANCE_SELECT = "id,type,changeKey,originalStart,start,end,subject,location,isAllDay,seriesMasterId"
# transactionId namespace: a retried create of the same item with the same stamp is the same transaction.
_TRANSACTIONS = uuid.UUID("36829ccc-57e4-472e-9abb-e4b4dd725601")

_WALL = "%Y-%m-%d %H:%M"
_DAY = timedelta(days=1)
_WEEK = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    "monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH",
    "friday": "FR", "saturday": "SA", "sunday": "SU",
}  # fmt: skip
_GRAPH_DAYS = {code: name for name, code in _DAY_NAMES.items()}
_INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_INDEX_NAMES = {n: name for name, n in _INDEXES.items()}
_FREQS = {
    "daily": "DAILY", "weekly": "WEEKLY", "absoluteMonthly": "MONTHLY", "relativeMonthly": "MONTHLY",
    "absoluteYearly": "YEARLY", "relativeYearly": "YEARLY",
}  # fmt: skip
_RULE_PARTS = frozenset(
    {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "COUNT", "UNTIL", "WKST"}
)
_ORDINAL_DAY = re.compile(r"^([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)$")
_RESPONSES = {
    "accepted": "accepted", "declined": "declined", "tentativelyaccepted": "tentative",
    "organizer": "accepted", "none": "none", "notresponded": "none",
}  # fmt: skip
_ROLES = frozenset({"required", "optional", "resource"})
_PRIVATE = frozenset({"private", "confidential"})
SHOW_AS = {"confirmed": "busy", "tentative": "tentative", "cancelled": "free"}
# Canonical fields an update writes through the event's times.
TIMING = frozenset({"start", "end", "all_day", "time_zone", "recurrence"})


class Unmappable(ValueError):
    """A canonical value Graph cannot hold (an RRULE feature, a time the zone lacks)."""


# -- small readers -------------------------------------------------------------------------------------------
def change_key(data: Mapping[str, Any]) -> str:
    """The event's changeKey (delta answers may carry only the ``@odata.etag`` it is quoted in)."""
    key = data.get("changeKey")
    if key:
        return str(key)
    etag = str(data.get("@odata.etag") or "")
    return etag[3:-1] if etag.startswith('W/"') and etag.endswith('"') else etag


def etag(data: Mapping[str, Any]) -> str:
    """What If-Match takes for this event."""
    return str(data.get("@odata.etag") or f'W/"{change_key(data)}"')


def version_of(
    data: Mapping[str, Any], exceptions: Iterable[Mapping[str, Any]] = (), cancelled: Iterable[str] = ()
) -> str:
    """A single event's or a series' version: the master's changeKey, the changeKeys of the exceptions seen in
    the window and the cancelled occurrences. Stable while none of them changes."""
    keys = sorted(f"{e.get('id')}:{change_key(e)}" for e in exceptions)
    return digest(json.dumps([change_key(data), keys, sorted(cancelled)]).encode())


def extended(data: Mapping[str, Any]) -> dict[str, str]:
    """The expanded single-value extended properties, by id (compared without regard to case)."""
    out: dict[str, str] = {}
    for prop in data.get("singleValueExtendedProperties") or ():
        if isinstance(prop, Mapping) and prop.get("id") and prop.get("value") is not None:
            out[str(prop["id"]).casefold()] = str(prop["value"])
    return out


def stamp_of(data: Mapping[str, Any]) -> str | None:
    return extended(data).get(KEY_PROPERTY.casefold()) or None


def held_of(data: Mapping[str, Any]) -> dict[str, Any]:
    raw = extended(data).get(HELD_PROPERTY.casefold())
    if not raw:
        return {}
    try:
        held = json.loads(raw)
    except ValueError:
        log.warning("event %s: the exsync-held property is not JSON; ignored", data.get("id"))
        return {}
    return held if isinstance(held, dict) else {}


def series_master_id(data: Mapping[str, Any]) -> str | None:
    """The series an occurrence or exception belongs to (None for single events and masters)."""
    master = data.get("seriesMasterId")
    return str(master) if master else None


def is_series(data: Mapping[str, Any]) -> bool:
    return data.get("type") == "seriesMaster" or (bool(data.get("recurrence")) and not series_master_id(data))


def is_private(data: Mapping[str, Any]) -> bool:
    return str(data.get("sensitivity") or "").casefold() in _PRIVATE


def has_attendees(data: Mapping[str, Any]) -> bool:
    return any(_address(a) for a in data.get("attendees") or ())


def organised_by_me(data: Mapping[str, Any]) -> bool:
    """``isOrganizer``; an event that does not say (Microsoft's delta examples) counts as the user's own."""
    value = data.get("isOrganizer")
    return True if value is None else bool(value)


def transaction_id(stamp: str, item: Event) -> str:
    """The create's ``transactionId``: the same item sent again with the same stamp (a retry after a lost
    answer) is the same transaction, so Graph answers with the event it made; another item carrying the
    stamp (a copy) is a new one."""
    content = json.dumps(item.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return str(uuid.uuid5(_TRANSACTIONS, f"{stamp}\n{content}"))


# -- zones and times -----------------------------------------------------------------------------------------
def windows_zone(name: str) -> str:
    """The zone name Graph is sent: the Windows name, or the IANA name for a zone Windows cannot name."""
    try:
        return iana_to_windows(name)
    except UnknownZone:
        return name


def event_zone(data: Mapping[str, Any], default: str, held: Mapping[str, Any] | None = None) -> str:
    """The IANA zone of an event: its ``originalStartTimeZone`` (or the business's own spelling of it)."""
    name = str(data.get("originalStartTimeZone") or "")
    if not name:
        return default or "UTC"
    try:
        iana = windows_to_iana(name)
    except UnknownZone:
        log.warning("event %s: time zone %r has no IANA equivalent; read in UTC", data.get("id"), name)
        return "UTC"
    kept = str((held or {}).get("time_zone") or "")
    if kept and kept != iana and _same_windows_zone(kept, iana):
        return kept
    return iana


def _same_windows_zone(a: str, b: str) -> bool:
    try:
        return iana_to_windows(a) == iana_to_windows(b)
    except UnknownZone:
        return False


def _instant(moment: Any) -> datetime | None:
    """A dateTimeTimeZone as an aware instant (an unknown zone is taken as UTC)."""
    if not isinstance(moment, Mapping) or not isinstance(moment.get("dateTime"), str):
        return None
    wall = datetime.fromisoformat(moment["dateTime"].strip())
    if wall.tzinfo is not None:
        return wall
    try:
        tz: tzinfo = zone(str(moment.get("timeZone") or "UTC"))
    except UnknownZone:
        tz = UTC
    return wall.replace(tzinfo=tz)


def _day_of(moment: Any) -> date | None:
    if not isinstance(moment, Mapping) or not isinstance(moment.get("dateTime"), str):
        return None
    return date.fromisoformat(moment["dateTime"].strip()[:10])


def span(data: Mapping[str, Any], tz: tzinfo = UTC) -> tuple[datetime, datetime] | None:
    """An event's start and end as instants; an all-day event from midnight to midnight of its dates in
    ``tz`` (its own zone: Graph shows such events at midnight in whatever zone it is asked for)."""
    if data.get("isAllDay"):
        first, after = _day_of(data.get("start")), _day_of(data.get("end"))
        if first is None or after is None:
            return None
        return datetime.combine(first, time(), tz), datetime.combine(after, time(), tz)
    start, end = _instant(data.get("start")), _instant(data.get("end"))
    if start is None or end is None:
        return None
    return start, end


def overlaps(times: tuple[datetime, datetime], lo: datetime, hi: datetime) -> bool:
    """calendarView's rule: the event overlaps the window; a zero-length one counts when it starts in it."""
    start, end = times
    if end <= start:
        return lo <= start < hi
    return start < hi and end > lo


def _walls(data: Mapping[str, Any], tz: tzinfo, all_day: bool) -> tuple[str, str]:
    """Canonical start and end of an event or instance: wall times in ``tz``, or dates (end inclusive)."""
    if all_day:
        first, after = _day_of(data.get("start")), _day_of(data.get("end"))
        if first is None:
            return "", ""
        last = after - _DAY if after is not None and after > first else first
        return first.isoformat(), last.isoformat()
    start, end = _instant(data.get("start")), _instant(data.get("end"))
    return (
        start.astimezone(tz).strftime(_WALL) if start is not None else "",
        end.astimezone(tz).strftime(_WALL) if end is not None else "",
    )


def _local(wall: str, tz: tzinfo) -> datetime:
    return datetime.fromisoformat(wall).replace(tzinfo=tz)


def _graph_time(moment: datetime, zone_name: str) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone_name}


def times_body(item: Event, end_zone: str | None = None) -> dict[str, Any]:
    """``start``, ``end`` and ``isAllDay`` for the item, in its own zone (the end in ``end_zone`` if given:
    a flight keeps its arrival zone)."""
    name = windows_zone(item.time_zone)
    if item.all_day:
        first = date.fromisoformat(item.start[:10])
        last = date.fromisoformat((item.end or item.start)[:10])
        after = max(last, first) + _DAY
        return {
            "isAllDay": True,
            "start": _graph_time(datetime.combine(first, time()), name),
            "end": _graph_time(datetime.combine(after, time()), name),
        }
    tz = zone(item.time_zone)
    start = datetime.fromisoformat(item.start)
    end = datetime.fromisoformat(item.end) if item.end else start
    end_name = name
    if end_zone and not _same_windows_zone(end_zone, item.time_zone):
        try:
            end = end.replace(tzinfo=tz).astimezone(zone(end_zone)).replace(tzinfo=None)
            end_name = end_zone
        except UnknownZone:
            pass
    return {"isAllDay": False, "start": _graph_time(start, name), "end": _graph_time(end, end_name)}


# -- recurrence ----------------------------------------------------------------------------------------------
def rrule_from_graph(recurrence: Mapping[str, Any], tz: tzinfo, all_day: bool) -> str:
    """The RRULE value for a patternedRecurrence, in a fixed spelling: FREQ, INTERVAL (not 1), BYMONTH,
    BYMONTHDAY / BYDAY (/ BYSETPOS), WKST (when it matters), then COUNT or UNTIL."""
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    kind = str(pattern.get("type") or "")
    if kind not in _FREQS:
        raise ValueError(f"recurrence pattern type {kind!r} is unknown")
    parts = [f"FREQ={_FREQS[kind]}"]
    interval = int(pattern.get("interval") or 1)
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    days = sorted(
        (
            _DAY_NAMES[str(d).casefold()]
            for d in pattern.get("daysOfWeek") or ()
            if str(d).casefold() in _DAY_NAMES
        ),
        key=_WEEK.index,
    )
    if kind.endswith("Yearly"):
        parts.append(f"BYMONTH={int(pattern.get('month') or 1)}")
    if kind.startswith("absolute"):
        parts.append(f"BYMONTHDAY={int(pattern.get('dayOfMonth') or 1)}")
    elif kind.startswith("relative"):
        index = _INDEXES.get(str(pattern.get("index") or "first"), 1)
        if len(days) == 1:
            parts.append(f"BYDAY={index}{days[0]}")
        else:
            parts.append(f"BYDAY={','.join(days)};BYSETPOS={index}")
    elif kind == "weekly" and days:
        parts.append(f"BYDAY={','.join(days)}")
        first = _DAY_NAMES.get(str(pattern.get("firstDayOfWeek") or "sunday").casefold(), "SU")
        if interval > 1 and len(days) > 1 and first != "MO":
            parts.append(f"WKST={first}")
    range_type = rng.get("type")
    if range_type == "numbered":
        parts.append(f"COUNT={int(rng.get('numberOfOccurrences') or 1)}")
    elif range_type == "endDate" and rng.get("endDate") and rng["endDate"] != "0001-01-01":
        last = date.fromisoformat(str(rng["endDate"]))
        if all_day:
            parts.append(f"UNTIL={last:%Y%m%d}")
        else:
            until = datetime.combine(last, time(23, 59, 59), tz).astimezone(UTC)
            parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    return ";".join(parts)


def parse_rrule(rule: str) -> dict[str, str]:
    """``FREQ=WEEKLY;BYDAY=MO`` → {"FREQ": "WEEKLY", "BYDAY": "MO"}; ``Unmappable`` for parts Graph lacks."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts: dict[str, str] = {}
    for piece in filter(None, (p.strip() for p in text.split(";"))):
        key, equals, value = piece.partition("=")
        key = key.strip().upper()
        if not equals or not value.strip():
            raise Unmappable(f"recurrence {rule!r}: {piece!r} is not NAME=VALUE")
        if key not in _RULE_PARTS:
            raise Unmappable(f"recurrence {rule!r}: Outlook recurrences have no {key}")
        parts[key] = value.strip().upper()
    if "FREQ" not in parts:
        raise Unmappable(f"recurrence {rule!r} has no FREQ")
    if "COUNT" in parts and "UNTIL" in parts:
        raise Unmappable(f"recurrence {rule!r} has both COUNT and UNTIL")
    return parts


def _integer(parts: Mapping[str, str], key: str, rule: str) -> int | None:
    if key not in parts:
        return None
    try:
        return int(parts[key])
    except ValueError:
        raise Unmappable(f"recurrence {rule!r}: {key}={parts[key]} is not a number") from None


def _weekdays(value: str, rule: str) -> tuple[list[str], int | None]:
    """BYDAY as Graph day names and the one ordinal they share (None: no ordinal)."""
    days: list[str] = []
    ordinals: set[int | None] = set()
    for token in value.split(","):
        match = _ORDINAL_DAY.match(token.strip())
        if match is None:
            raise Unmappable(f"recurrence {rule!r}: BYDAY={value} is not a list of days")
        ordinals.add(int(match.group(1)) if match.group(1) else None)
        days.append(_GRAPH_DAYS[match.group(2)])
    if len(ordinals) > 1:
        raise Unmappable(f"recurrence {rule!r}: Outlook cannot repeat on days with different ordinals")
    return days, ordinals.pop()


def _index(n: int | None, rule: str) -> str:
    if n not in _INDEX_NAMES:
        raise Unmappable(f"recurrence {rule!r}: Outlook counts the first to fourth or the last day only")
    return _INDEX_NAMES[n]


def graph_recurrence(rule: str, start: date, tz: tzinfo, time_zone: str) -> dict[str, Any]:
    """The patternedRecurrence for an RRULE value of a series starting on ``start`` (its local date)."""
    parts = parse_rrule(rule)
    freq = parts["FREQ"]
    interval = _integer(parts, "INTERVAL", rule) or 1
    if interval < 1:
        raise Unmappable(f"recurrence {rule!r}: INTERVAL must be positive")
    days, ordinal = _weekdays(parts["BYDAY"], rule) if "BYDAY" in parts else ([], None)
    setpos = _integer(parts, "BYSETPOS", rule)
    month_day = _integer(parts, "BYMONTHDAY", rule) if "," not in parts.get("BYMONTHDAY", "") else 0
    month = _integer(parts, "BYMONTH", rule) if "," not in parts.get("BYMONTH", "") else 0
    if month_day == 0 or month == 0:
        raise Unmappable(f"recurrence {rule!r}: Outlook repeats on one day of the month and one month only")
    pattern: dict[str, Any] = {"interval": interval}
    if freq == "DAILY" and not days:
        pattern["type"] = "daily"
    elif freq in ("DAILY", "WEEKLY"):
        if ordinal is not None or setpos is not None or (freq == "DAILY" and interval != 1):
            raise Unmappable(f"recurrence {rule!r} has no Outlook equivalent")
        week_start = _GRAPH_DAYS.get(parts.get("WKST", "MO"))
        if week_start is None:
            raise Unmappable(f"recurrence {rule!r}: WKST={parts['WKST']} is not a day")
        pattern.update(
            type="weekly",
            daysOfWeek=days or [_GRAPH_DAYS[_WEEK[start.weekday()]]],
            firstDayOfWeek=week_start,
        )
    elif freq in ("MONTHLY", "YEARLY"):
        prefix = "Monthly" if freq == "MONTHLY" else "Yearly"
        if freq == "YEARLY":
            pattern["month"] = month or start.month
        elif month is not None:
            raise Unmappable(f"recurrence {rule!r}: a monthly rule with BYMONTH has no Outlook equivalent")
        if days:
            if month_day is not None:
                raise Unmappable(f"recurrence {rule!r}: BYDAY with BYMONTHDAY has no Outlook equivalent")
            if ordinal is None and setpos is None:
                raise Unmappable(
                    f"recurrence {rule!r}: every such weekday of the month has no Outlook equivalent"
                )
            if ordinal is not None and setpos is not None:
                raise Unmappable(
                    f"recurrence {rule!r}: BYDAY ordinals with BYSETPOS have no Outlook equivalent"
                )
            pattern.update(type=f"relative{prefix}", daysOfWeek=days, index=_index(ordinal or setpos, rule))
        else:
            if setpos is not None:
                raise Unmappable(f"recurrence {rule!r}: BYSETPOS without BYDAY has no Outlook equivalent")
            day = month_day or start.day
            if day == -1:
                day = 31  # Outlook's day 31 is the month's last day
            if not 1 <= day <= 31:
                raise Unmappable(f"recurrence {rule!r}: Outlook repeats on days 1 to 31 (or -1) only")
            pattern.update(type=f"absolute{prefix}", dayOfMonth=day)
    else:
        raise Unmappable(f"recurrence {rule!r}: Outlook has no {freq} recurrence")
    rng: dict[str, Any] = {"startDate": start.isoformat(), "recurrenceTimeZone": time_zone}
    count = _integer(parts, "COUNT", rule)
    if count is not None:
        if count < 1:
            raise Unmappable(f"recurrence {rule!r}: COUNT must be positive")
        rng.update(type="numbered", numberOfOccurrences=count)
    elif "UNTIL" in parts:
        rng.update(type="endDate", endDate=_until_date(parts["UNTIL"], tz, rule).isoformat())
    else:
        rng["type"] = "noEnd"
    return {"pattern": pattern, "range": rng}


def _until_date(value: str, tz: tzinfo, rule: str) -> date:
    """UNTIL as the last local date of the series (a UTC instant is converted to the event's zone)."""
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(tz).date()
        return datetime.strptime(value, "%Y%m%dT%H%M%S").date()
    except ValueError:
        raise Unmappable(f"recurrence {rule!r}: UNTIL={value} is not a date") from None


def canonical_rrule(rule: str, start: date, tz: tzinfo, all_day: bool) -> str:
    """The RRULE as Graph would give it back (``Unmappable`` if Graph cannot hold it)."""
    return rrule_from_graph(graph_recurrence(rule, start, tz, "UTC"), tz, all_day)


def series_last_start(item: Event) -> datetime | None:
    """The start (local wall time) of a series' last occurrence; None for a series without end."""
    if not item.recurrence:
        return None
    parts = parse_rrule(item.recurrence)
    start = datetime.fromisoformat(item.start)
    if "UNTIL" in parts:
        last = _until_date(parts["UNTIL"], zone(item.time_zone), item.recurrence)
        return datetime.combine(last, start.time())
    if "COUNT" not in parts:
        return None
    rule = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("UNTIL",))
    found = list(rrulestr(f"RRULE:{rule}", dtstart=start))
    return found[-1] if found else start


# -- reading -------------------------------------------------------------------------------------------------
def _address(attendee: Any) -> str:
    email = attendee.get("emailAddress") if isinstance(attendee, Mapping) else None
    return str(email.get("address") or "") if isinstance(email, Mapping) else ""


def attendees_of(data: Mapping[str, Any]) -> list[Attendee]:
    out = []
    for raw in data.get("attendees") or ():
        address = _address(raw)
        if not address:
            continue
        role = str(raw.get("type") or "required").casefold()
        status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
        response = _RESPONSES.get(str(status.get("response") or "none").casefold(), "none")
        name = raw["emailAddress"].get("name") or ""
        role = role if role in _ROLES else "required"
        shown = name if name != address else ""  # Graph shows the address where a name was not given
        out.append(
            Attendee.model_validate({"email": address, "name": shown, "role": role, "response": response})
        )
    return out


def _text_body(data: Mapping[str, Any]) -> tuple[str, str]:
    raw = data.get("body")
    body: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    content = str(body.get("content") or "")
    if str(body.get("contentType") or "text").casefold() == "html":
        return html_to_text(content, paragraphs=True), content
    return content, ""


def _location(data: Mapping[str, Any]) -> str:
    place = data.get("location")
    return str(place.get("displayName") or "") if isinstance(place, Mapping) else ""


def _status(data: Mapping[str, Any], held: Mapping[str, Any]) -> str:
    show_as = str(data.get("showAs") or "").casefold()
    if data.get("isCancelled") or (held.get("status") == "cancelled" and show_as == "free"):
        return "cancelled"
    if not organised_by_me(data):  # an attendee's showAs is the attendee's own answer, not the meeting's
        return "confirmed"
    return "tentative" if show_as == "tentative" else "confirmed"


def _reminder(data: Mapping[str, Any]) -> int | None:
    if not data.get("isReminderOn"):
        return None
    minutes = data.get("reminderMinutesBeforeStart")
    return int(minutes) if minutes is not None else None


def _recurrence(
    data: Mapping[str, Any], held: Mapping[str, Any], tz: tzinfo, all_day: bool, start: str
) -> str:
    recurrence = data.get("recurrence")
    if not isinstance(recurrence, Mapping) or not recurrence.get("pattern"):
        return ""
    rule = rrule_from_graph(recurrence, tz, all_day)
    kept = str(held.get("recurrence") or "")
    if kept and kept != rule and start:
        try:
            if canonical_rrule(kept, date.fromisoformat(start[:10]), tz, all_day) == rule:
                return kept
        except Unmappable:
            pass
    return rule


def original_start(instance: Mapping[str, Any], tz: tzinfo, all_day: bool) -> str:
    """An instance's original start as a canonical wall time (a date for all-day series)."""
    raw = instance.get("originalStart")
    if isinstance(raw, str) and raw:
        moment = datetime.fromisoformat(raw.strip())
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        local = moment.astimezone(tz)
        return local.date().isoformat() if all_day else local.strftime(_WALL)
    return _walls(instance, tz, all_day)[0]  # an occurrence not yet moved starts where it always did


def cancelled_dates(data: Mapping[str, Any]) -> list[date]:
    """The dates of ``cancelledOccurrences`` (``OID.{seriesMasterId}.{YYYY-MM-DD}``)."""
    out = []
    for marker in data.get("cancelledOccurrences") or ():
        tail = str(marker).rsplit(".", 1)[-1]
        try:
            out.append(date.fromisoformat(tail[:10]))
        except ValueError:
            log.warning("event %s: cancelled occurrence %r has no date; ignored", data.get("id"), marker)
    return sorted(set(out))


def exceptions_of(
    master: Mapping[str, Any], instances: Iterable[Mapping[str, Any]], tz: tzinfo, all_day: bool
) -> list[Occurrence]:
    """A series' changed occurrences (from its instances) and cancelled ones (from the master)."""
    subject, location = master.get("subject") or "", _location(master)
    clock = _walls(master, tz, all_day)[0][10:]  # " HH:MM" of the series, "" for all-day
    found: dict[str, Occurrence] = {}
    for instance in instances:
        if instance.get("type") != "exception":
            continue
        key = original_start(instance, tz, all_day)
        start, end = _walls(instance, tz, all_day)
        found[key] = Occurrence(
            original_start=key,
            start=start,
            end=end,
            subject=own if (own := instance.get("subject") or "") != subject else "",
            location=_location(instance) if _location(instance) != location else "",
        )
    for day in cancelled_dates(master):
        key = f"{day.isoformat()}{clock}"
        found[key] = Occurrence(original_start=key, cancelled=True)
    return list(found.values())


def to_event(
    data: Mapping[str, Any], instances: Iterable[Mapping[str, Any]] = (), *, default_zone: str = "UTC"
) -> Event:
    """The canonical event for an event (a series master with its ``instances``), read in UTC."""
    held = held_of(data)
    zone_name = event_zone(data, default_zone, held)
    tz = zone(zone_name)
    all_day = bool(data.get("isAllDay"))
    start, end = _walls(data, tz, all_day)
    recurrence = _recurrence(data, held, tz, all_day, start)
    body, body_html = _text_body(data)
    attendees: list[Any] = attendees_of(data)
    if not attendees and isinstance(held.get("attendees"), list):
        attendees = held["attendees"]
    organizer = data.get("organizer") if isinstance(data.get("organizer"), Mapping) else {}
    return Event.model_validate(
        {
            "subject": data.get("subject") or "",
            "body": body,
            "body_html": body_html,
            "location": _location(data),
            "start": start,
            "end": end,
            "all_day": all_day,
            "time_zone": zone_name,
            "recurrence": recurrence,
            "exceptions": exceptions_of(data, instances, tz, all_day) if recurrence else [],
            "attendees": attendees,
            "reminder_minutes": _reminder(data),
            "private": is_private(data),
            "status": _status(data, held),
            "ical_uid": data.get("iCalUId") or "",
            "organizer": _address(organizer),
            "is_organizer": organised_by_me(data),
        }
    )


# -- writing -------------------------------------------------------------------------------------------------
def _body(text: str, html: str = "") -> dict[str, str]:
    return {"contentType": "html", "content": html} if html else {"contentType": "text", "content": text}


def graph_attendees(attendees: Sequence[Attendee]) -> list[dict[str, Any]]:
    # Graph keeps the responses an organizer's copy tracks itself; a client's `status` is not written.
    return [
        {"emailAddress": {"address": a.email, "name": a.name or a.email}, "type": a.role} for a in attendees
    ]


def held_values(item: Event, *, real_attendees: bool) -> dict[str, Any]:
    """What of ``item`` Graph cannot hold as given (see the module docstring)."""
    held: dict[str, Any] = {}
    if item.attendees and not real_attendees:
        held["attendees"] = [a.model_dump(mode="json") for a in item.attendees]
    if item.recurrence and item.start:
        first = date.fromisoformat(item.start[:10])
        canonical = canonical_rrule(item.recurrence, first, zone(item.time_zone), item.all_day)
        if canonical != item.recurrence:
            held["recurrence"] = item.recurrence
    try:
        if windows_to_iana(iana_to_windows(item.time_zone)) != item.time_zone:
            held["time_zone"] = item.time_zone
    except UnknownZone:
        pass
    if item.status == "cancelled":
        held["status"] = "cancelled"
    return held


def held_property(held: Mapping[str, Any]) -> dict[str, str]:
    return {
        "id": HELD_PROPERTY,
        "value": json.dumps(held, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
    }


def _recurrence_body(item: Event) -> dict[str, Any] | None:
    if not item.recurrence:
        return None
    return graph_recurrence(
        item.recurrence,
        date.fromisoformat(item.start[:10]),
        zone(item.time_zone),
        windows_zone(item.time_zone),
    )


def _checked(item: Event) -> Event:
    if not item.start:
        raise Unmappable("an event needs a start")
    try:
        zone(item.time_zone)
    except UnknownZone as exc:
        raise Unmappable(str(exc)) from None
    return item


def create_body(item: Event, stamp: str, *, invite: bool) -> dict[str, Any]:
    """The POST body of a new event carrying ``stamp``; attendees are real (invited) only when ``invite``."""
    _checked(item)
    body: dict[str, Any] = {
        "subject": item.subject,
        "body": _body(item.body, item.body_html),
        "location": {"displayName": item.location},
        **times_body(item),
        "isReminderOn": item.reminder_minutes is not None,
        "sensitivity": "private" if item.private else "normal",
        "showAs": SHOW_AS[item.status],
        "transactionId": transaction_id(stamp, item),
    }
    if item.reminder_minutes is not None:
        body["reminderMinutesBeforeStart"] = item.reminder_minutes
    recurrence = _recurrence_body(item)
    if recurrence is not None:
        body["recurrence"] = recurrence
    real = invite and bool(item.attendees)
    if real:
        body["attendees"] = graph_attendees(item.attendees)
    properties = [{"id": KEY_PROPERTY, "value": stamp}]
    held = held_values(item, real_attendees=real)
    if held:
        properties.append(held_property(held))
    body["singleValueExtendedProperties"] = properties
    return body


def update_body(
    data: Mapping[str, Any],
    current: Event,
    patch: Fields,
    *,
    write_attendees: bool,
) -> dict[str, Any]:
    """The PATCH body for ``patch`` onto the event as it is (``data``, read as ``current``): only what the
    patch names, mapped onto the existing event. ``write_attendees``: the patch's attendees go into
    ``attendees`` (else they are held). Raises ``Unmappable`` or ``ValueError`` for values Graph or the
    model refuse."""
    changed = current.with_changes(patch)
    assert isinstance(changed, Event)
    new = _checked(changed)
    names = set(patch)
    out: dict[str, Any] = {}
    if "subject" in names:
        out["subject"] = new.subject
    if names & {"body", "body_html"}:
        out["body"] = _body(new.body, new.body_html)
    if "location" in names:
        out["location"] = {"displayName": new.location}
    if names & TIMING:
        end_zone = None if "time_zone" in names else str(data.get("originalEndTimeZone") or "") or None
        out.update(times_body(new, end_zone))
        if new.recurrence or is_series(data):
            out["recurrence"] = _recurrence_body(new)
    if "reminder_minutes" in names:
        out["isReminderOn"] = new.reminder_minutes is not None
        if new.reminder_minutes is not None:
            out["reminderMinutesBeforeStart"] = new.reminder_minutes
    if "private" in names and new.private != is_private(data):
        out["sensitivity"] = "private" if new.private else "normal"
    if "status" in names and new.status != current.status:
        out["showAs"] = SHOW_AS[new.status]
    real = has_attendees(data) or write_attendees
    if "attendees" in names and write_attendees:
        out["attendees"] = graph_attendees(new.attendees)
    held = held_values(new, real_attendees=real)
    if held != held_of(data):
        out["singleValueExtendedProperties"] = [held_property(held)]
    return out


# -- occurrences ---------------------------------------------------------------------------------------------
def occurrence_writes(
    master: Mapping[str, Any], instances: Sequence[Mapping[str, Any]], desired: Event
) -> tuple[list[tuple[str, str, dict[str, Any] | None]], list[str]]:
    """The writes that give a series (``master`` as Graph shows it now, with its ``instances`` over the
    exceptions' dates) the exceptions of ``desired``: (method, instance id, PATCH body or None for DELETE),
    and what cannot be done, in words (a deleted occurrence cannot be restored through Graph)."""
    tz = zone(desired.time_zone)
    all_day = desired.all_day
    current = {o.original_start: o for o in exceptions_of(master, instances, tz, all_day)}
    by_start = {original_start(i, tz, all_day): i for i in instances}
    wanted = {o.original_start: o for o in desired.exceptions}
    writes: list[tuple[str, str, dict[str, Any] | None]] = []
    problems: list[str] = []
    for key in sorted(wanted.keys() | current.keys()):
        want, have = wanted.get(key), current.get(key)
        if want == have:
            continue
        if have is not None and have.cancelled:
            problems.append(f"the occurrence of {key} was deleted in the mailbox and cannot be restored")
            continue
        instance = by_start.get(key)
        if instance is None:
            problems.append(f"the series has no occurrence starting {key}")
            continue
        if want is not None and want.cancelled:
            writes.append(("DELETE", str(instance["id"]), None))
            continue
        target = want or _unchanged(key, desired)
        body = _occurrence_body(instance, target, desired, tz, all_day)
        if body:
            writes.append(("PATCH", str(instance["id"]), body))
    return writes, problems


def _unchanged(key: str, series: Event) -> Occurrence:
    """The occurrence at ``key`` as the series itself has it: what a dropped exception returns to."""
    if series.all_day:
        first, last = date.fromisoformat(series.start[:10]), date.fromisoformat(series.end[:10])
        day = date.fromisoformat(key[:10])
        return Occurrence(original_start=key, start=day.isoformat(), end=(day + (last - first)).isoformat())
    length = datetime.fromisoformat(series.end) - datetime.fromisoformat(series.start)
    start = datetime.fromisoformat(key)
    return Occurrence(original_start=key, start=key, end=(start + length).strftime(_WALL))


def _occurrence_body(
    instance: Mapping[str, Any], want: Occurrence, series: Event, tz: tzinfo, all_day: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    start, end = _walls(instance, tz, all_day)
    if (want.start and want.start != start) or (want.end and want.end != end):
        moved = series.model_copy(update={"start": want.start or start, "end": want.end or end})
        times = times_body(moved)
        body.update(start=times["start"], end=times["end"])
    subject = want.subject or series.subject
    if subject != (instance.get("subject") or ""):
        body["subject"] = subject
    location = want.location or series.location
    if location != _location(instance):
        body["location"] = {"displayName": location}
    return body


def occurrence_span(item: Event, hi: datetime) -> tuple[datetime, datetime]:
    """The instants to list a series' instances over: from its first occurrence to its end (or ``hi`` for a
    series without end), and at least every original start ``item``'s exceptions name."""
    tz = zone(item.time_zone)
    first = _local(item.start if not item.all_day else item.start[:10], tz)
    last = series_last_start(item)
    end = _local(last.isoformat(), tz) + 2 * _DAY if last is not None else hi
    named = [_local(o.original_start, tz) for o in item.exceptions]
    return min([first - _DAY, *named]), max([end, *(n + 2 * _DAY for n in named)])
