"""Events as Exchange keeps them: times in the client's own wall clock and zone, shown in the zone the client
prefers; recurring series whose occurrences are computed, never stored; exceptions and cancellations.

Stored events are single instances and series masters (children of a calendar) and exceptions (children of
their series master, holding only what differs from the occurrence). An occurrence is a view: the master's
properties at the occurrence's date, with an id that encodes the master's id and that date, so a client can
read, change or delete it by id like any other event.
"""

from __future__ import annotations

import base64
import binascii
import copy
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from exsync.model.zones import UnknownZone, zone
from exsync.sandbox import recurrence
from exsync.sandbox.errors import GraphError, bad_request
from exsync.sandbox.mime import html_to_text
from exsync.sandbox.store import Item, Store

if TYPE_CHECKING:
    from exsync.sandbox.context import Ctx

NO_TIME = "0001-01-01T00:00:00Z"  # Graph's "never" in responseStatus.time
# What Graph gives a new event for what the client left out (Create event's documented response).
NEW_EVENT: dict[str, Any] = {
    "reminderMinutesBeforeStart": 15,
    "isReminderOn": True,
    "hasAttachments": False,
    "importance": "normal",
    "sensitivity": "normal",
    "isAllDay": False,
    "isCancelled": False,
    "isDraft": False,
    "isOrganizer": True,
    "responseRequested": True,
    "showAs": "busy",
    "allowNewTimeProposals": True,
    "hideAttendees": False,
    "isOnlineMeeting": False,
    "onlineMeetingProvider": "unknown",
    "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
    "body": {"contentType": "html", "content": ""},
}
PREVIEW_LENGTH = 255
# What Graph shows for an event without a location.
EMPTY_LOCATION: dict[str, Any] = {
    "displayName": "",
    "locationType": "default",
    "uniqueIdType": "unknown",
    "address": {},
    "coordinates": {},
}
_OCCURRENCE_MARK = b"\x00oc"
_ICAL_CLASS = "040000008200E00074C5B7101A82E008"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


# -- time --------------------------------------------------------------------------------------------------
def time_zone(name: str) -> tzinfo:
    """A zone by Windows or IANA name; Graph's 400 for one it does not know."""
    try:
        return zone(name)
    except (UnknownZone, ValueError):
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            "A valid TimeZone value must be specified. "
            f"The following TimeZone value is not supported: '{name}'.",
        ) from None


def graph_datetime(moment: datetime) -> str:
    """`2026-03-29T09:00:00.0000000`: Graph's form of a dateTimeTimeZone's dateTime."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond:06d}0"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(value: Any, name: str) -> dict[str, str]:
    """A client's dateTimeTimeZone, checked and stored as given: wall time in its own zone."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise bad_request(
            f"'{name}' must be an object with a 'dateTime' string and a 'timeZone'.", "ErrorInvalidRequest"
        )
    zone_name = value.get("timeZone") or "UTC"
    if not isinstance(zone_name, str):
        raise bad_request(f"'{name}.timeZone' must be a time zone name.", "ErrorInvalidRequest")
    tz = time_zone(zone_name)
    try:
        moment = datetime.fromisoformat(value["dateTime"].strip())
    except ValueError:
        raise bad_request(
            f"Cannot convert the literal '{value['dateTime']}' to the expected type 'Edm.DateTime'.",
            "ErrorInvalidRequest",
        ) from None
    if moment.tzinfo is not None:  # an offset in the text wins; keep the wall time of the named zone
        moment = moment.astimezone(tz).replace(tzinfo=None)
    return {"dateTime": graph_datetime(moment), "timeZone": zone_name}


def aware(moment: dict[str, Any]) -> datetime:
    """A stored dateTimeTimeZone as an aware datetime (a wall time the DST gap skips moves past it)."""
    tz = time_zone(str(moment.get("timeZone") or "UTC"))
    local = datetime.fromisoformat(str(moment["dateTime"])).replace(tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz)


def parse_instant(text: str, name: str) -> datetime:
    """A query parameter's date-time: its own offset, else UTC (Prefer: outlook.timezone does not apply)."""
    raw = text.strip().replace(" ", "+")  # an unencoded "+01:00" arrives as " 01:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(
            f"The value '{text}' of parameter '{name}' is invalid.", "ErrorInvalidParameter"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def preferred_zone(ctx: Ctx) -> tuple[str, tzinfo]:
    """The zone answers give times in: `Prefer: outlook.timezone="…"`, UTC without (or for an unknown one)."""
    name = ctx.req.prefer().get("outlook.timezone", "")
    if name:
        try:
            return name, zone(name)
        except (UnknownZone, ValueError):
            pass
    return "UTC", UTC


def shown_moment(moment: dict[str, Any], zone_name: str, tz: tzinfo, all_day: bool) -> dict[str, str]:
    if all_day:  # an all-day event is a run of dates: midnight of its own dates in any zone
        day = datetime.fromisoformat(str(moment["dateTime"])).date()
        return {"dateTime": f"{day.isoformat()}T00:00:00.0000000", "timeZone": zone_name}
    return {
        "dateTime": graph_datetime(aware(moment).astimezone(tz).replace(tzinfo=None)),
        "timeZone": zone_name,
    }


def span(data: dict[str, Any]) -> tuple[datetime, datetime] | None:
    if not data.get("start") or not data.get("end"):
        return None
    return aware(data["start"]), aware(data["end"])


def overlaps(start: datetime, end: datetime, lo: datetime, hi: datetime) -> bool:
    """calendarView's rule: the event overlaps the window; a zero-length one counts when it starts in it."""
    if end <= start:
        return lo <= start < hi
    return start < hi and end > lo


# -- identifiers -------------------------------------------------------------------------------------------
def ical_uid() -> str:
    """Exchange's iCalUId: the Outlook class id, a creation FILETIME and a random GUID, in upper-case hex."""
    ticks = int((datetime.now(UTC) - _FILETIME_EPOCH).total_seconds() * 10_000_000)
    return (
        _ICAL_CLASS
        + "00000000"
        + struct.pack("<Q", ticks).hex().upper()
        + "0" * 16
        + "10000000"
        + os.urandom(16).hex().upper()
    )


def occurrence_id(master_id: str, day: date) -> str:
    """An occurrence's id: its series master's (immutable) id and its original date, decodable."""
    raw = _OCCURRENCE_MARK + day.toordinal().to_bytes(4, "big") + master_id.encode()
    return "AAMkA" + base64.urlsafe_b64encode(raw).decode()


def parse_occurrence_id(key: str) -> tuple[str, date] | None:
    if not key.startswith("AAMkA"):
        return None
    try:
        raw = base64.urlsafe_b64decode(key[5:].encode())
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_OCCURRENCE_MARK) or len(raw) < 8:
        return None
    try:
        day = date.fromordinal(int.from_bytes(raw[3:7], "big"))
        master_id = raw[7:].decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return master_id, day


def occurrence_marker(master_shown_id: str, day: date) -> str:
    """The `OID.{seriesMasterId}.{date}` form Graph lists cancelledOccurrences in."""
    return f"OID.{master_shown_id}.{day.isoformat()}"


def web_link(shown_id: str) -> str:
    return (
        f"https://outlook.office365.com/owa/?itemid={quote(shown_id, safe='')}&exvsurl=1&path=/calendar/item"
    )


def body_preview(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        return ""
    text = body["content"]
    if str(body.get("contentType", "")).lower() == "html":
        text = html_to_text(text)
    return " ".join(text.split())[:PREVIEW_LENGTH]


# -- series ------------------------------------------------------------------------------------------------
def is_master(item: Item) -> bool:
    return item.data.get("type") == "seriesMaster" and bool(item.data.get("recurrence"))


def series_version(master: Item) -> int:
    """Bumped when the master's own properties change (what every occurrence shows), not when an occurrence
    is cancelled or made an exception: those change the master's change key only."""
    return int(master.hidden.get("series", master.version))


def cancelled_days(master: Item) -> set[str]:
    return set(master.hidden.get("cancelled", []))


def occurrence_days(master: Item, lo: datetime, hi: datetime) -> list[datetime]:
    """The original starts (in the master's zone) of the series' occurrences overlapping [lo, hi)."""
    times = span(master.data)
    if times is None or not master.data.get("recurrence"):
        return []
    start, end = times
    return recurrence.occurrence_starts(master.data["recurrence"], start, lo, hi, end - start)


def original_start(master: Item, day: date) -> datetime | None:
    """The occurrence of the series on `day` (its original start), or None if the series has none then."""
    times = span(master.data)
    if times is None:
        return None
    tz = times[0].tzinfo
    assert tz is not None
    lo = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    for start in occurrence_days(master, lo - timedelta(days=1), lo + timedelta(days=2)):
        if start.date() == day:
            return start
    return None


def first_occurrence(master: Item) -> datetime | None:
    """The first occurrence on or after the range's start date (Exchange moves the master's times there)."""
    times = span(master.data)
    rec = master.data.get("recurrence")
    if times is None or not rec:
        return None
    start, end = times
    tz = start.tzinfo
    assert tz is not None
    begin = datetime.combine(date.fromisoformat(rec["range"]["startDate"]), start.timetz()).astimezone(UTC)
    for years in (1, 10, 100):
        found = recurrence.occurrence_starts(
            rec, start, begin - timedelta(days=1), begin + timedelta(days=366 * years), end - start
        )
        found = [s for s in found if s.date() >= date.fromisoformat(rec["range"]["startDate"])]
        if found:
            return found[0]
    return None


def align_master(master: Item) -> None:
    """Exchange keeps a series master's start and end on the first occurrence."""
    times = span(master.data)
    first = first_occurrence(master)
    if times is None or first is None:
        return
    start, end = times
    if first == start:
        return
    end_tz = end.tzinfo
    assert end_tz is not None
    new_end = (first + (end - start)).astimezone(end_tz)
    master.data["start"] = {
        "dateTime": graph_datetime(first.replace(tzinfo=None)),
        "timeZone": master.data["start"]["timeZone"],
    }
    master.data["end"] = {
        "dateTime": graph_datetime(new_end.replace(tzinfo=None)),
        "timeZone": master.data["end"]["timeZone"],
    }


def refit(store: Store, master: Item) -> None:
    """After the series' times or pattern changed: drop exceptions and cancellations that no longer fall on
    an occurrence (all of them when the event stopped recurring), as Exchange does."""
    recurring = is_master(master)
    for exception in list(store.children(master.id, "event")):
        day = date.fromisoformat(exception.hidden["day"])
        if not recurring or original_start(master, day) is None:
            store.remove(exception)
    kept = [
        d
        for d in master.hidden.get("cancelled", [])
        if recurring and original_start(master, date.fromisoformat(d))
    ]
    master.hidden["cancelled"] = kept


@dataclass
class Instance:
    """One instance of a series: the master, the original date and, when it was changed, its exception."""

    master: Item
    day: date
    exception: Item | None = None

    @property
    def id(self) -> str:
        return occurrence_id(self.master.id, self.day)

    @property
    def version(self) -> int:
        own = self.exception.version if self.exception is not None else 0
        return max(series_version(self.master), own)


def instance_view(inst: Instance) -> Item:
    """The occurrence or exception as a transient item: the master's properties at the occurrence's date,
    then what the exception changed."""
    master = inst.master
    start = original_start(master, inst.day)
    times = span(master.data)
    data = copy.deepcopy(master.data)
    for key in ("recurrence", "transactionId"):
        data.pop(key, None)
    data["type"] = "occurrence"
    if start is not None and times is not None:
        end_tz = times[1].tzinfo
        assert end_tz is not None
        end = (start + (times[1] - times[0])).astimezone(end_tz)
        data["start"] = {
            "dateTime": graph_datetime(start.replace(tzinfo=None)),
            "timeZone": master.data["start"]["timeZone"],
        }
        data["end"] = {
            "dateTime": graph_datetime(end.replace(tzinfo=None)),
            "timeZone": master.data["end"]["timeZone"],
        }
        data["originalStart"] = utc_text(start)
    if inst.exception is not None:
        data.update(copy.deepcopy(inst.exception.data))
        data["type"] = "exception"
    hidden = {"master": master.id, "day": inst.day.isoformat(), "view": True}
    view = Item(inst.id, "event", master.owner, master.parent, data, inst.version, hidden=hidden)
    view.created = inst.exception.created if inst.exception is not None else master.created
    view.modified = inst.exception.modified if inst.exception is not None else master.modified
    return view


def instances(store: Store, master: Item, lo: datetime, hi: datetime) -> list[Instance]:
    """The instances of a series that overlap [lo, hi): occurrences and exceptions, not cancelled ones."""
    if not is_master(master):
        return []
    exceptions = {e.hidden["day"]: e for e in store.children(master.id, "event")}
    cancelled = cancelled_days(master)
    found: list[Instance] = []
    for start in occurrence_days(master, lo, hi):
        key = start.date().isoformat()
        if key not in cancelled and key not in exceptions:
            found.append(Instance(master, start.date()))
    for key, exception in exceptions.items():  # an exception may have moved into or out of the window
        inst = Instance(master, date.fromisoformat(key), exception)
        times = span(instance_view(inst).data)
        if key not in cancelled and times is not None and overlaps(*times, lo, hi):
            found.append(inst)
    return found


def calendar_view(store: Store, calendar: Item, lo: datetime, hi: datetime) -> Iterator[Item | Instance]:
    """What a calendarView window shows: single instances, occurrences and exceptions (never masters)."""
    for item in store.children(calendar.id, "event"):
        if is_master(item):
            yield from instances(store, item, lo, hi)
        else:
            times = span(item.data)
            if times is not None and overlaps(*times, lo, hi):
                yield item


def resolve(store: Store, key: str, owner: str) -> Item | Instance | None:
    """An event id as a client gives it: a stored event, or an occurrence of a series of this mailbox."""
    found = store.get(key)
    if found is not None:
        if found.owner != owner or found.kind != "event":
            return None
        if found.hidden.get("master"):
            master = store.get(found.hidden["master"])
            return (
                Instance(master, date.fromisoformat(found.hidden["day"]), found)
                if master is not None
                else None
            )
        return found
    decoded = parse_occurrence_id(key)
    if decoded is None:
        return None
    master = store.get(decoded[0])
    if master is None or master.owner != owner or not is_master(master):
        return None
    day = decoded[1]
    if day.isoformat() in cancelled_days(master) or original_start(master, day) is None:
        return None
    return Instance(master, day)


def view_of(target: Item | Instance) -> Item:
    return instance_view(target) if isinstance(target, Instance) else target


def decorate(ctx: Ctx, item: Item, out: dict[str, Any]) -> None:
    """An event's computed properties: times in the preferred zone, preview, links between series items."""
    if item.hidden.get("master") and not item.hidden.get("view"):
        # a stored exception holds only what it changed: show it as the whole instance
        master = ctx.store.get(item.hidden["master"])
        if master is not None:
            item = instance_view(Instance(master, date.fromisoformat(item.hidden["day"]), item))
            out.update(copy.deepcopy(item.data))
            out["changeKey"] = item.change_key
            out["@odata.etag"] = f'W/"{item.change_key}"'
    zone_name, tz = preferred_zone(ctx)
    all_day = bool(item.data.get("isAllDay"))
    for key in ("start", "end"):
        if item.data.get(key):
            out[key] = shown_moment(item.data[key], zone_name, tz, all_day)
    out["bodyPreview"] = body_preview(item.data.get("body"))
    out["webLink"] = web_link(out["id"])
    master_id = item.hidden.get("master")
    if master_id:
        master = ctx.store.get(master_id)
        out["seriesMasterId"] = ctx.shown_id(master) if master is not None else master_id
        out["cancelledOccurrences"] = []
    elif is_master(item):
        shown = ctx.shown_id(item)
        days = sorted(cancelled_days(item))
        out["cancelledOccurrences"] = [occurrence_marker(shown, date.fromisoformat(d)) for d in days]
        out["seriesMasterId"] = None
