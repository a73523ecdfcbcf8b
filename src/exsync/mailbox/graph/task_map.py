"""Microsoft To Do's ``todoTask`` JSON and the canonical ``Task``, both ways. Pure: no I/O.

The mapping (sources: Microsoft Graph v1.0 docs, resources/todotask.md; the sandbox's ``todo.py`` notes):
- ``subject`` ↔ ``title``; ``body`` ↔ ``body.content`` (an HTML body is read as its text, and kept as
  ``body_html``); ``priority`` ↔ ``importance`` (low / normal / high, the same words).
- ``done`` ↔ ``status``: ``completed`` is done; anything else is not. Writing "not done" onto an item turns
  ``completed`` into ``notStarted`` and leaves ``inProgress``, ``waitingOnOthers`` and ``deferred`` as the
  user set them (an update is mapped onto the existing item).
- ``due`` ↔ ``dueDateTime``. To Do keeps a date only: the date the client gave, at midnight of the client's
  zone, answered in UTC (2024-10-24 written in UTC-10 comes back as 2024-10-24T10:00 UTC). So a date is
  written at midnight of the profile's zone (its Windows name, or UTC) and read back by converting to that
  zone and taking the nearest midnight: the date does not shift between zones (SCENARIOS 58), even when
  the user's app wrote it in a zone a few hours off the profile's.
- A due **time of day**, which To Do cannot hold, is written as the task's reminder on the due date at that
  time (``reminderDateTime``, ``isReminderOn``: To Do keeps a reminder's time of day, and a deadline's time
  is what the user wants to be reminded of). Read back, a reminder that is on and falls on the due date
  gives the due its time of day. So a business due "2026-04-01 17:00" survives the round trip (reporting
  "2026-04-01" instead would pass for a mailbox edit at the next change of the task and strip the time
  from the business row), and a user's reminder on the due day reads as the due time. Writing a due
  without a time switches off a reminder on the new due date (it would read as a time again); a reminder
  on another day is the user's own and stays.
- The correlation key (stamp) is the ``externalId`` of the task's linked resource whose
  ``applicationName`` is ``exsync``; To Do keeps no extended properties, and a task holds at most one
  linked resource (Graph answers 400 "Only one item in linkedResources is allowed." otherwise). A linked
  resource of another application is never read as a stamp.
- The version is the ``@odata.etag`` (To Do has no ``changeKey``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError

from exsync.connector import Entry, Record, Scope
from exsync.model import Fields, Task
from exsync.model.html import html_to_text
from exsync.model.zones import UnknownZone, iana_to_windows, zone

APPLICATION = "exsync"  # the linkedResource's applicationName that marks our stamp
DISPLAY_NAME = "exsync"  # what To Do shows on the linked-resource card
COMPLETED = "completed"
NOT_STARTED = "notStarted"
IMPORTANCES = frozenset({"low", "normal", "high"})
_WALL = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
_HALF_DAY = timedelta(hours=12)


@dataclass(frozen=True)
class LocalZone:
    """The profile's zone: how dates are written (``windows``) and read (``tz``)."""

    windows: str  # the Windows name Graph is sent ("UTC" when the profile's zone has none)
    tz: tzinfo

    @classmethod
    def of(cls, name: str) -> LocalZone:
        """The zone for an IANA (or Windows) name; "" or a zone Windows cannot name is UTC."""
        if not name:
            return UTC_ZONE
        try:
            return cls(iana_to_windows(name), zone(name))
        except UnknownZone:
            return UTC_ZONE


UTC_ZONE = LocalZone("UTC", UTC)


# -- reading ------------------------------------------------------------------------------------------------
def stamp_of(data: Mapping[str, Any]) -> str | None:
    """The correlation key our linked resource carries, if the task has one (expanded)."""
    for link in data.get("linkedResources") or ():
        if (
            isinstance(link, Mapping)
            and str(link.get("applicationName") or "").casefold() == APPLICATION
            and link.get("externalId")
        ):
            return str(link["externalId"])
    return None


def version_of(data: Mapping[str, Any]) -> str:
    return str(data.get("@odata.etag") or "")


def entry_of(data: Mapping[str, Any]) -> Entry:
    return Entry(str(data["id"]), version_of(data), stamp_of(data))


def record_of(data: Mapping[str, Any], local: LocalZone) -> Record:
    """A fetched task; one that cannot be mapped is answered unreadable (never left out)."""
    ident, version, stamp = str(data["id"]), version_of(data), stamp_of(data)
    try:
        return Record(ident, version, to_task(data, local), stamp)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        why = f"To Do task cannot be read: {reason(exc)}"
        return Record(ident, version, Task(), stamp, Scope.UNREADABLE, why)


def reason(exc: ValueError) -> str:
    """What is wrong with a value, in one line (pydantic's own message spans several)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def to_task(data: Mapping[str, Any], local: LocalZone) -> Task:
    raw = data.get("body")
    body: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    content = str(body.get("content") or "")
    html = str(body.get("contentType") or "text").lower() == "html"
    importance = str(data.get("importance") or "normal")
    return Task(
        subject=data.get("title") or "",
        body=html_to_text(content, paragraphs=True) if html else content,
        body_html=content if html else "",
        due=due_of(data, local),
        done=data.get("status") == COMPLETED,
        priority=importance if importance in IMPORTANCES else "normal",
    )


def due_of(data: Mapping[str, Any], local: LocalZone) -> str:
    """The canonical due: the date of ``dueDateTime`` in the profile's zone, with the time of a reminder
    that is on and falls on that date."""
    moment = _moment(data.get("dueDateTime"), local)
    if moment is None:
        return ""
    day = (moment + _HALF_DAY).date()  # the nearest midnight: a date written a few zones away stays put
    reminder = _moment(data.get("reminderDateTime"), local) if data.get("isReminderOn") else None
    if reminder is not None and reminder.date() == day:
        return f"{day.isoformat()} {reminder:%H:%M}"
    return day.isoformat()


def _moment(value: Any, local: LocalZone) -> datetime | None:
    """A dateTimeTimeZone as a wall time of the profile's zone (an unknown zone is taken as the profile's)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        return None
    match = _WALL.match(value["dateTime"].strip())
    if match is None:
        raise ValueError(f"not a date-time: {value['dateTime']!r}")
    day, hour, minute, second = match.groups()
    wall = datetime.combine(date.fromisoformat(day), time(int(hour or 0), int(minute or 0), int(second or 0)))
    try:
        given: tzinfo = zone(str(value.get("timeZone") or "UTC"))
    except UnknownZone:
        given = local.tz
    return wall.replace(tzinfo=given).astimezone(local.tz).replace(tzinfo=None)


# -- writing ------------------------------------------------------------------------------------------------
def linked_resource(stamp: str) -> dict[str, str]:
    return {"externalId": stamp, "applicationName": APPLICATION, "displayName": DISPLAY_NAME}


def create_body(item: Task, stamp: str, local: LocalZone) -> dict[str, Any]:
    """The POST body of a new task, our linked resource inline."""
    body: dict[str, Any] = {
        "title": item.subject,
        "body": _body(item.body, item.body_html),
        "importance": item.priority,
        "status": COMPLETED if item.done else NOT_STARTED,
        "linkedResources": [linked_resource(stamp)],
    }
    if item.due:
        body.update(_due(item.due, local))
    return body


def needs_current(patch: Fields) -> bool:
    """Whether writing ``patch`` depends on the existing item (its status, its reminder)."""
    return "done" in patch or "due" in patch


def patch_body(patch: Fields, current: Mapping[str, Any] | None, local: LocalZone) -> dict[str, Any]:
    """The PATCH body for a canonical patch, mapped onto ``current`` (the item as it is now, needed when
    ``needs_current(patch)``): fields sync does not own stay as they are. Values are normalised first;
    a value the canonical model refuses raises ``ValueError``."""
    values = Task.model_validate(patch).model_dump(mode="json", include=set(patch))
    now = current or {}
    body: dict[str, Any] = {}
    if "subject" in values:
        body["title"] = values["subject"]
    if "body" in values:
        body["body"] = _body(values["body"], values.get("body_html", ""))
    if "priority" in values:
        body["importance"] = values["priority"]
    if "done" in values:
        if values["done"]:
            body["status"] = COMPLETED
        elif now.get("status", COMPLETED) == COMPLETED:
            body["status"] = NOT_STARTED  # a user's inProgress (or waitingOnOthers…) stays as it is
    if "due" in values:
        body.update(_due(values["due"], local, now))
    return body


def _body(text: str, html: str = "") -> dict[str, str]:
    return {"content": html, "contentType": "html"} if html else {"content": text, "contentType": "text"}


def _due(due: str, local: LocalZone, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``dueDateTime`` for a canonical due, and the reminder that carries its time of day (see above)."""
    if not due:
        return {"dueDateTime": None}
    day, _, clock = due.partition(" ")
    out: dict[str, Any] = {"dueDateTime": _date_time(day, "00:00", local)}
    if clock:
        out.update(reminderDateTime=_date_time(day, clock, local), isReminderOn=True)
    elif current is not None and current.get("isReminderOn"):
        reminder = _moment(current.get("reminderDateTime"), local)
        if reminder is not None and reminder.date().isoformat() == day:
            out.update(reminderDateTime=None, isReminderOn=False)  # it would read as a due time
    return out


def _date_time(day: str, clock: str, local: LocalZone) -> dict[str, str]:
    return {"dateTime": f"{day}T{clock}:00.0000000", "timeZone": local.windows}

