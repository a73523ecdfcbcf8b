"""Per-part settings: one frozen model per part, with the built-in defaults of DESIGN.md.

These models are the single list of keys: the partial "override" tables of ``[defaults]`` and
``[profiles.CODE]`` are derived from them (``exsync.settings.overrides``), so every rule here must
live in the field annotations (``Annotated`` validators, ``Field`` constraints), never in a
``field_validator`` or ``model_validator`` the derived tables would not carry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from exsync.model import Part
from exsync.settings.durations import format_duration, parse_duration

Direction = Literal["both", "to-mailbox", "to-business", "off"]
MailDirection = Literal["to-business", "off"]  # mail only ever flows into the business archive
Flavour = Literal["merge", "replicate"]
ConflictPolicy = Literal["business-wins", "mailbox-wins", "record-only"]

MIN_INTERVAL = timedelta(minutes=1)


def _at_least_a_minute(value: timedelta) -> timedelta:
    # Graph allows 10,000 requests per 10 minutes per mailbox; sub-minute polling burns that budget.
    if value < MIN_INTERVAL:
        raise ValueError(
            f"{format_duration(value)} is under 1 minute, the shortest interval. "
            'Fix: write "1m" or longer'
        )
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'{value!r} is not a time zone name. Fix: use an IANA name such as "Europe/London" or "UTC"'
        ) from None
    return value


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


Interval = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    AfterValidator(_at_least_a_minute),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Names = tuple[Name, ...]
Filter = Annotated[str, StringConstraints(strip_whitespace=True)]
Since = Annotated[date | None, BeforeValidator(_empty_is_none)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Guard(_Frozen):
    """Stop a (profile, part) that would delete more than both limits allow."""

    max_deletes: int = Field(default=25, ge=0)
    max_delete_share: float = Field(default=0.1, ge=0, le=1)


class Window(_Frozen):
    """Calendar items outside [today - past_days, today + future_days] are not looked at."""

    past_days: int = Field(default=90, ge=0)
    future_days: int = Field(default=730, ge=0)


class PartSettings(_Frozen):
    """What every part has. Subclasses override the defaults (field order is kept for display)."""

    part: ClassVar[Part]
    # Keys that decide which items are in scope and how the sides are listed: when one changes,
    # stored delta tokens no longer describe the same set of items (see ``fingerprint``).
    scope_keys: ClassVar[tuple[str, ...]]

    direction: Direction = "both"
    interval: Interval = timedelta(minutes=15)
    filter: Filter = ""  # an expression over the business record, kept as text here


class SyncedPartSettings(PartSettings):
    """A part that can write both ways: contacts, calendar, tasks (not mail)."""

    flavour: Flavour = "merge"
    conflict: ConflictPolicy = "business-wins"
    delete_in_mailbox: bool = True
    delete_in_business: bool = False
    guard: Guard = Guard()


class ContactsSettings(SyncedPartSettings):
    part: ClassVar[Part] = "contacts"
    scope_keys: ClassVar[tuple[str, ...]] = ("direction", "flavour", "filter", "folder", "category")

    direction: Direction = "to-mailbox"
    interval: Interval = timedelta(minutes=15)
    folder: Name = "Firm Contacts"  # or "default": the main Contacts folder, items marked `category`
    category: Name = "Firm"


class CalendarSettings(SyncedPartSettings):
    part: ClassVar[Part] = "calendar"
    scope_keys: ClassVar[tuple[str, ...]] = (
        "direction", "flavour", "filter", "types", "series", "window", "copy_to_staff_attendees",
    )

    direction: Direction = "both"
    interval: Interval = timedelta(minutes=5)
    types: Names = ("Meeting", "Hearing", "Appointment")
    series: Names = ()  # empty: any series
    new_item_type: Name = "Appointment"
    window: Window = Window()
    send_invitations: bool = False
    copy_to_staff_attendees: bool = True


class TasksSettings(SyncedPartSettings):
    part: ClassVar[Part] = "tasks"
    scope_keys: ClassVar[tuple[str, ...]] = ("direction", "flavour", "filter", "types", "series", "list")

    direction: Direction = "both"
    interval: Interval = timedelta(minutes=15)
    types: Names = ("To-do", "Deadline")
    series: Names = ()  # empty: any series
    new_item_type: Name = "To-do"
    list: Name = "Firm Tasks"


class MailSettings(PartSettings):
    part: ClassVar[Part] = "mail"
    scope_keys: ClassVar[tuple[str, ...]] = ("direction", "filter", "folders", "via", "since")

    direction: MailDirection = "to-business"
    interval: Interval = timedelta(minutes=10)
    folders: Names = ("inbox", "sentitems")  # Graph well-known names; over IMAP: INBOX and \Sent
    via: Literal["graph", "imap"] = "graph"
    since: Since = None  # first-run cut-off date; "" in the file (None): everything already there


class ProfileSettings(_Frozen):
    """The effective settings of one profile (or, with no profile, the defaults)."""

    time_zone: TimeZone = "UTC"
    contacts: ContactsSettings = ContactsSettings()
    calendar: CalendarSettings = CalendarSettings()
    tasks: TasksSettings = TasksSettings()
    mail: MailSettings = MailSettings()

    def part(self, name: Part) -> PartSettings:
        settings: PartSettings = getattr(self, name)
        return settings


PART_MODELS: dict[Part, type[PartSettings]] = {
    model.part: model for model in (ContactsSettings, CalendarSettings, TasksSettings, MailSettings)
}


def fingerprint(settings: PartSettings) -> str:
    """A stable hash of the keys that decide a part's scope (filter, types, window, folder, …).

    The engine keeps it with the delta tokens: a different fingerprint means the tokens describe
    another set of items, so the next run lists everything. Interval, guard, conflict policy and
    the like do not change it.
    """
    scope = settings.model_dump(mode="json", include=set(settings.scope_keys))
    payload = json.dumps({"part": settings.part, **scope}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
