"""The canonical items both sides are mapped to: Contact, Event, Task, MailMessage.

Every value is normalised when an item is built (pydantic "before" validators), so what is
compared, hashed and written is always the normalised form. ``COMPARED`` names the fields that
make up an item's projection: the fields sync owns, merges field by field and writes as patches.
Other attributes (an event's ``ical_uid``, whether this mailbox organises a meeting, an HTML body)
travel with the item on create but never count as a change.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from exsync.model import normalise

Text = Annotated[str, BeforeValidator(normalise.text)]
Subject = Annotated[str, BeforeValidator(partial(normalise.text, max_length=255))]
Email = Annotated[str, BeforeValidator(normalise.email)]
Emails = Annotated[list[str], BeforeValidator(normalise.emails)]
Texts = Annotated[list[str], BeforeValidator(normalise.texts)]
Tags = Annotated[list[str], BeforeValidator(normalise.tags)]
Flag = Annotated[bool, BeforeValidator(normalise.flag)]
Int = Annotated[int | None, BeforeValidator(normalise.integer)]
Day = Annotated[str, BeforeValidator(normalise.day)]
WallTime = Annotated[str, BeforeValidator(normalise.wall_time)]

Value = Any  # a normalised, JSON-compatible field value
Fields = dict[str, Value]

PART_NAMES = ("contacts", "calendar", "tasks", "mail")
Part = Literal["contacts", "calendar", "tasks", "mail"]


class Canonical(BaseModel):
    """Base of the canonical items."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    PART: ClassVar[str]
    COMPARED: ClassVar[tuple[str, ...]]

    def projection(self) -> Fields:
        """The normalised values of the compared fields, JSON-compatible."""
        return self.model_dump(mode="json", include=set(self.COMPARED))

    def carried(self) -> Fields:
        """Attributes that travel on create but are never compared."""
        return self.model_dump(mode="json", exclude=set(self.COMPARED))

    def with_changes(self, patch: Fields) -> Canonical:
        """A copy with ``patch`` applied (values are normalised again).

        ``body_html`` is the formatted form of ``body``: a patch that changes ``body`` without giving
        ``body_html`` replaces the formatted body too, as writing a text body does in Graph (scenario 65).
        """
        data = self.model_dump(mode="json")
        data.update(patch)
        item = type(self).model_validate(data)
        if (
            "body_html" in data
            and "body_html" not in patch
            and getattr(item, "body", None) != getattr(self, "body", None)
        ):
            item = item.model_copy(update={"body_html": ""})
        return item

    def identity(self) -> str | None:
        """A natural identity both sides share (an event's iCalendar UID), if any."""
        return None

    def mailbox_read_only(self) -> bool:
        """True when sync must never edit or delete this mailbox item (rule 5)."""
        return False

    def removal_unlinks(self) -> bool:
        """True when a logical delete must only unlink, not remove (a meeting with attendees)."""
        return False


class Contact(Canonical):
    PART: ClassVar[str] = "contacts"
    COMPARED: ClassVar[tuple[str, ...]] = (
        "first_name", "last_name", "title", "job_title", "department", "company",
        "emails", "business_phones", "mobile_phone", "home_phone",
        "street", "city", "region", "postal_code", "country",
        "birthday", "notes", "categories",
    )  # fmt: skip

    first_name: Text = ""
    last_name: Text = ""
    title: Text = ""
    job_title: Text = ""
    department: Text = ""
    company: Text = ""
    emails: Emails = Field(default_factory=list)
    business_phones: Texts = Field(default_factory=list)
    mobile_phone: Text = ""
    home_phone: Text = ""
    street: Text = ""
    city: Text = ""
    region: Text = ""
    postal_code: Text = ""
    country: Text = ""
    birthday: Day = ""
    notes: Text = ""
    categories: Tags = Field(default_factory=list)


Role = Literal["required", "optional", "resource"]
Response = Literal["none", "accepted", "declined", "tentative"]


class Attendee(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: Email
    name: Text = ""
    role: Role = "required"
    response: Response = "none"


class Occurrence(BaseModel):
    """A changed or cancelled occurrence of a series, keyed by its original start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    original_start: WallTime
    cancelled: Flag = False
    start: WallTime = ""
    end: WallTime = ""
    subject: Subject = ""
    location: Subject = ""


class Event(Canonical):
    PART: ClassVar[str] = "calendar"
    COMPARED: ClassVar[tuple[str, ...]] = (
        "subject", "body", "location", "start", "end", "all_day", "time_zone",
        "recurrence", "exceptions", "attendees", "reminder_minutes", "private", "status",
    )  # fmt: skip

    subject: Subject = ""
    body: Text = ""
    location: Subject = ""
    start: WallTime = ""
    end: WallTime = ""  # all-day: the last day, inclusive
    all_day: Flag = False
    time_zone: Text = "UTC"
    recurrence: Text = ""  # RRULE value without the "RRULE:" prefix
    exceptions: list[Occurrence] = Field(default_factory=list)
    attendees: list[Attendee] = Field(default_factory=list)
    reminder_minutes: Int = None
    private: Flag = False
    status: Literal["confirmed", "tentative", "cancelled"] = "confirmed"
    # carried, not compared
    ical_uid: Text = ""
    organizer: Email = ""
    is_organizer: Flag = True
    body_html: str = ""

    @field_validator("attendees", mode="after")
    @classmethod
    def _attendees_in_order(cls, v: list[Attendee]) -> list[Attendee]:
        return sorted(v, key=lambda a: a.email.casefold())

    @field_validator("exceptions", mode="after")
    @classmethod
    def _exceptions_in_order(cls, v: list[Occurrence]) -> list[Occurrence]:
        return sorted(v, key=lambda o: o.original_start)

    def identity(self) -> str | None:
        return self.ical_uid or None

    def mailbox_read_only(self) -> bool:
        return bool(self.attendees) and not self.is_organizer

    def removal_unlinks(self) -> bool:
        return bool(self.attendees)


class Task(Canonical):
    PART: ClassVar[str] = "tasks"
    COMPARED: ClassVar[tuple[str, ...]] = ("subject", "body", "due", "done", "priority")

    subject: Subject = ""
    body: Text = ""
    due: WallTime = ""  # a floating date, or a wall time in the profile's zone
    done: Flag = False
    priority: Literal["low", "normal", "high"] = "normal"
    body_html: str = ""


class Recipient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["to", "cc", "bcc"] = "to"
    address: Email
    name: Text = ""


class MailMessage(Canonical):
    """An archived message: one-way to the business side, never merged back."""

    PART: ClassVar[str] = "mail"
    COMPARED: ClassVar[tuple[str, ...]] = (
        "internet_message_id", "subject", "sender_email", "sender_name", "recipients",
        "sent_at", "received_at", "body_text", "has_attachments",
    )  # fmt: skip

    internet_message_id: Text = ""
    subject: Text = ""
    sender_email: Email = ""
    sender_name: Text = ""
    recipients: list[Recipient] = Field(default_factory=list)
    sent_at: Text = ""  # UTC ISO-8601
    received_at: Text = ""
    body_text: Text = ""
    has_attachments: Flag = False
    # carried
    body_html: str = ""
    size_bytes: Int = None
    conversation_id: Text = ""
    in_reply_to: Text = ""
    folder: Text = ""
    direction: Literal["received", "sent"] = "received"


MODELS: dict[str, type[Canonical]] = {m.PART: m for m in (Contact, Event, Task, MailMessage)}


def model_for(part: str) -> type[Canonical]:
    return MODELS[part]
