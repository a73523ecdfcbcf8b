"""Meetings between sandbox mailboxes, as Exchange delivers them.

The organizer's event is the meeting. Each attendee that is a sandbox mailbox gets a copy in the default
calendar (same iCalUId, `isOrganizer: false`, `responseStatus` notResponded, shown as tentative) and an
eventMessage in the Inbox; updates reach the copies with a new meeting request, removal and cancellation mark
them cancelled; an attendee's response updates the organizer's attendee list and lands in the organizer's
Inbox. Attendees outside the sandbox get nothing. An attendee's own edits stay in the attendee's copy.

Messages are stored as items of kind "message" with their Graph properties (`@odata.type`
eventMessageRequest, eventMessage or eventMessageResponse); `hidden["event"]` links the event they are about.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from exsync.sandbox import events
from exsync.sandbox.errors import GraphError, bad_request
from exsync.sandbox.events import Instance
from exsync.sandbox.ids import new_id
from exsync.sandbox.mime import conversation_id
from exsync.sandbox.store import Item, Mailbox, Store, now_iso

if TYPE_CHECKING:
    from exsync.sandbox.context import Ctx

# What an attendee's copy takes from the organizer's event.
SHARED = (
    "subject",
    "body",
    "start",
    "end",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "isAllDay",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "iCalUId",
    "importance",
    "sensitivity",
    "type",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "onlineMeeting",
    "onlineMeetingUrl",
)
# A change to these sends the attendees an update; to the first ones a full update (the time or place moved).
RESCHEDULING = ("start", "end", "isAllDay", "recurrence", "location")
MEETING = (*RESCHEDULING, "subject", "body", "locations", "attendees", "importance", "sensitivity")
RESPONSES = {
    "accepted": ("meetingAccepted", "Accepted"),
    "tentativelyAccepted": ("meetingTenativelyAccepted", "Tentative"),  # sic: the enum's spelling
    "declined": ("meetingDeclined", "Declined"),
}
VERBS = {"accepted": "accept", "tentativelyAccepted": "tentatively accept", "declined": "decline"}
ORGANIZER_CODES = {
    "accepted": "ErrorCalendarIsOrganizerForAccept",
    "tentativelyAccepted": "ErrorCalendarIsOrganizerForTentative",
    "declined": "ErrorCalendarIsOrganizerForDecline",
}


def recipient(name: str | None, address: str) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def address_of(entry: dict[str, Any] | None) -> str:
    email = (entry or {}).get("emailAddress") or {}
    return str(email.get("address") or "").lower()


def _attendee_mailboxes(store: Store, event: Item, organizer: Mailbox) -> dict[str, Mailbox]:
    out: dict[str, Mailbox] = {}
    for attendee in event.data.get("attendees") or []:
        mailbox = store.mailbox(address_of(attendee))
        if mailbox is not None and mailbox.id != organizer.id:
            out[address_of(attendee)] = mailbox
    return out


def _copies(store: Store, mailbox: Mailbox, uid: str) -> Iterator[Item]:
    calendar = mailbox.folders.get("calendar", "")
    for item in store.children(calendar, "event"):
        if item.data.get("iCalUId") == uid and not item.data.get("isOrganizer"):
            yield item


def _copy_of(store: Store, mailbox: Mailbox, uid: str) -> Item | None:
    return next(_copies(store, mailbox, uid), None)


def _organizer_event(store: Store, copy_item: Item) -> tuple[Mailbox, Item] | None:
    mailbox = store.mailbox(address_of(copy_item.data.get("organizer")))
    if mailbox is None:
        return None
    uid = copy_item.data.get("iCalUId")
    for item in store.children(mailbox.folders.get("calendar", ""), "event"):
        if item.data.get("iCalUId") == uid and item.data.get("isOrganizer"):
            return mailbox, item
    return None


# -- the organizer's side ----------------------------------------------------------------------------------
def after_save(ctx: Ctx, event: Item, before: dict[str, Any] | None) -> None:
    """The organizer created or changed a meeting: copies and requests for attendees, cancellations for the
    ones removed. An attendee editing a copy changes nothing elsewhere."""
    if not event.data.get("isOrganizer"):
        return
    store, organizer = ctx.store, ctx.mailbox
    changed = [k for k in MEETING if before is None or before.get(k) != event.data.get(k)]
    if not changed:
        return
    rescheduled = before is None or any(k in RESCHEDULING for k in changed)
    current = _attendee_mailboxes(store, event, organizer)
    for mailbox in current.values():
        copy_item = _copy_of(store, mailbox, event.data["iCalUId"])
        request_type = "fullUpdate" if rescheduled else "informationalUpdate"
        if copy_item is None:
            copy_item, request_type = _new_copy(store, mailbox, event), "newMeetingRequest"
        else:
            _refresh(store, event, copy_item, rescheduled)
        _send(store, organizer, mailbox, event, copy_item, "request", request_type=request_type)
    if before is not None:
        previous = Item(event.id, "event", event.owner, event.parent, before)
        for address, mailbox in _attendee_mailboxes(store, previous, organizer).items():
            if address not in current:
                _cancel_copies(store, organizer, mailbox, event, None)


def after_instance_save(ctx: Ctx, inst: Instance) -> None:
    """The organizer changed one occurrence: the attendees' series get the same exception."""
    master = inst.master
    if not master.data.get("isOrganizer"):
        return
    for mailbox in _attendee_mailboxes(ctx.store, master, ctx.mailbox).values():
        copy_item = _copy_of(ctx.store, mailbox, master.data["iCalUId"])
        if copy_item is None:
            continue
        _sync_series(ctx.store, master, copy_item)
        ctx.store.changed(copy_item)
        own = Instance(copy_item, inst.day, _exception(ctx.store, copy_item, inst.day))
        _send(
            ctx.store, ctx.mailbox, mailbox, events.instance_view(inst), events.instance_view(own), "request"
        )


def after_instance_cancel(ctx: Ctx, inst: Instance, comment: str | None) -> None:
    """The organizer deleted or cancelled one occurrence: it goes from the attendees' series too."""
    master = inst.master
    if not master.data.get("isOrganizer"):
        return
    view = events.instance_view(inst)
    for mailbox in _attendee_mailboxes(ctx.store, master, ctx.mailbox).values():
        copy_item = _copy_of(ctx.store, mailbox, master.data["iCalUId"])
        if copy_item is None:
            continue
        own = events.instance_view(Instance(copy_item, inst.day))
        _sync_series(ctx.store, master, copy_item)
        ctx.store.changed(copy_item)
        _send(ctx.store, ctx.mailbox, mailbox, view, own, "cancel", comment=comment)


def before_delete(ctx: Ctx, event: Item, comment: str | None) -> None:
    """The organizer deletes or cancels a meeting: every attendee's copy is cancelled."""
    if not event.data.get("isOrganizer"):
        return
    for mailbox in _attendee_mailboxes(ctx.store, event, ctx.mailbox).values():
        _cancel_copies(ctx.store, ctx.mailbox, mailbox, event, comment)


def _new_copy(store: Store, mailbox: Mailbox, event: Item) -> Item:
    data: dict[str, Any] = copy.deepcopy(events.NEW_EVENT)
    item = Item(new_id(), "event", mailbox.id, mailbox.folders["calendar"], data)
    _take(event, item)
    store.add(item)
    _sync_series(store, event, item)
    item.hidden["series"] = item.version
    return item


def _take(event: Item, copy_item: Item) -> None:
    for key in (k for k in SHARED if k in event.data):  # an unset property keeps its default
        copy_item.data[key] = copy.deepcopy(event.data.get(key))
    for attendee in copy_item.data.get("attendees") or []:
        attendee["status"] = {"response": "none", "time": events.NO_TIME}
    copy_item.data.update(
        isOrganizer=False,
        isCancelled=False,
        showAs="tentative",
        responseStatus={"response": "notResponded", "time": events.NO_TIME},
    )


def _refresh(store: Store, event: Item, copy_item: Item, rescheduled: bool) -> None:
    response = copy_item.data.get("responseStatus")
    show_as = copy_item.data.get("showAs")
    _take(event, copy_item)
    if not rescheduled:  # a new time or place asks for a new answer; other updates keep the one given
        copy_item.data["responseStatus"], copy_item.data["showAs"] = response, show_as
    _sync_series(store, event, copy_item)
    store.changed(copy_item)
    copy_item.hidden["series"] = copy_item.version


def _sync_series(store: Store, event: Item, copy_item: Item) -> None:
    """The attendee's series gets the organizer's exceptions and cancelled occurrences."""
    for old in list(store.children(copy_item.id, "event")):
        store.remove(old)
    copy_item.hidden["cancelled"] = list(event.hidden.get("cancelled", []))
    if not events.is_master(copy_item):
        return
    for exception in store.children(event.id, "event"):
        day = date.fromisoformat(exception.hidden["day"])
        data = {
            k: copy.deepcopy(v)
            for k, v in exception.data.items()
            if k not in ("categories", "responseStatus")
        }
        hidden = {"master": copy_item.id, "day": day.isoformat()}
        store.add(
            Item(
                events.occurrence_id(copy_item.id, day),
                "event",
                copy_item.owner,
                copy_item.id,
                data,
                hidden=hidden,
            )
        )


def _exception(store: Store, master: Item, day: date) -> Item | None:
    found = store.get(events.occurrence_id(master.id, day))
    return found if found is not None and found.parent == master.id else None


def _cancel_copies(
    store: Store, organizer: Mailbox, mailbox: Mailbox, event: Item, comment: str | None
) -> None:
    for copy_item in list(_copies(store, mailbox, event.data["iCalUId"])):
        if not copy_item.data.get("isCancelled"):
            copy_item.data["isCancelled"] = True
            subject = copy_item.data.get("subject") or ""
            copy_item.data["subject"] = (
                subject if subject.startswith("Canceled: ") else f"Canceled: {subject}"
            )
            store.changed(copy_item)
            copy_item.hidden["series"] = copy_item.version
        _send(store, organizer, mailbox, event, copy_item, "cancel", comment=comment)


# -- the attendee's side -----------------------------------------------------------------------------------
def respond(ctx: Ctx, target: Item | Instance, response: str, body: dict[str, Any]) -> None:
    """accept / tentativelyAccept / decline. A response to one occurrence answers for the series."""
    event = target.master if isinstance(target, Instance) else target
    if event.data.get("isOrganizer"):
        raise GraphError(
            400,
            ORGANIZER_CODES[response],
            f"You can't {VERBS[response]} this meeting because you're the meeting organizer.",
        )
    send = body.get("sendResponse", True)
    if not isinstance(send, bool):
        raise bad_request("'sendResponse' must be true or false.", "RequestBodyRead")
    comment = body.get("comment") if isinstance(body.get("comment"), str) else ""
    if body.get("proposedNewTime") is not None and (
        not send or not event.data.get("allowNewTimeProposals", True)
    ):
        raise bad_request(
            "proposedNewTime needs sendResponse true and an event that allows new time proposals.",
            "ErrorInvalidRequest",
        )
    stamp = now_iso()
    event.data["responseStatus"] = {"response": response, "time": stamp}
    organizer = _organizer_event(ctx.store, event)
    if response == "tentativelyAccepted":
        event.data["showAs"] = "tentative"
    elif organizer is not None:
        event.data["showAs"] = organizer[1].data.get("showAs") or "busy"
    else:
        event.data["showAs"] = "busy"
    if response == "declined":
        ctx.store.remove(event)  # Exchange takes a declined meeting off the calendar (to Deleted Items)
    else:
        ctx.store.changed(event)
        event.hidden["series"] = event.version
    if not send or organizer is None:
        return  # no response message: the organizer's tracking learns nothing, as in Exchange
    organizer_mailbox, organizer_event = organizer
    me = ctx.mailbox.upn.lower()
    for attendee in organizer_event.data.get("attendees") or []:
        if address_of(attendee) == me:
            attendee["status"] = {"response": response, "time": stamp}
    ctx.store.changed(organizer_event)
    organizer_event.hidden["series"] = organizer_event.version
    _send(
        ctx.store,
        ctx.mailbox,
        organizer_mailbox,
        event,
        organizer_event,
        "response",
        response=response,
        comment=comment,
    )


# -- messages ----------------------------------------------------------------------------------------------
def _utc_moment(event: Item, key: str) -> dict[str, str] | None:
    moment = event.data.get(key)
    if not moment:
        return None
    shown = events.shown_moment(moment, "UTC", UTC, bool(event.data.get("isAllDay")))
    return {"dateTime": shown["dateTime"], "timeZone": "UTC"}


def _send(
    store: Store,
    sender: Mailbox,
    to: Mailbox,
    about: Item,
    linked: Item,
    kind: str,
    *,
    request_type: str = "fullUpdate",
    response: str = "",
    comment: str | None = None,
) -> Item:
    """An eventMessage from `sender` in `to`'s Inbox, about `about` (as the sender sees it), linked to
    `linked` (the event in the receiving mailbox, so `$expand=event` can find it)."""
    subject = about.data.get("subject") or ""
    body = copy.deepcopy(about.data.get("body") or events.NEW_EVENT["body"])
    data: dict[str, Any] = {}
    if kind == "request":
        data.update(
            {
                "@odata.type": "#microsoft.graph.eventMessageRequest",
                "meetingMessageType": "meetingRequest",
                "meetingRequestType": request_type,
                "responseRequested": about.data.get("responseRequested", True),
                "allowNewTimeProposals": about.data.get("allowNewTimeProposals", True),
            }
        )
    elif kind == "cancel":
        data.update(
            {"@odata.type": "#microsoft.graph.eventMessage", "meetingMessageType": "meetingCancelled"}
        )
        subject = subject if subject.startswith("Canceled: ") else f"Canceled: {subject}"
        if comment:
            body = {"contentType": "text", "content": comment}
    else:
        message_type, prefix = RESPONSES[response]
        data.update(
            {
                "@odata.type": "#microsoft.graph.eventMessageResponse",
                "meetingMessageType": message_type,
                "responseType": response,
            }
        )
        subject = f"{prefix}: {subject}"
        body = {"contentType": "text", "content": comment or ""}
    attendees = about.data.get("attendees") or []
    to_recipients = (
        [recipient(to.display_name, to.upn)]
        if kind == "response"
        else [
            {"emailAddress": copy.deepcopy(a["emailAddress"])}
            for a in attendees
            if a.get("type") != "optional"
        ]
    )
    cc = (
        []
        if kind == "response"
        else [
            {"emailAddress": copy.deepcopy(a["emailAddress"])}
            for a in attendees
            if a.get("type") == "optional"
        ]
    )
    stamp = now_iso()
    message_id = f"<{uuid.uuid4().hex}@{sender.upn.rsplit('@', 1)[-1]}>"
    data.update(
        {
            "subject": subject,
            "body": body,
            "bodyPreview": events.body_preview(body),
            "from": recipient(sender.display_name, sender.upn),
            "sender": recipient(sender.display_name, sender.upn),
            "toRecipients": to_recipients,
            "ccRecipients": cc,
            "bccRecipients": [],
            "replyTo": [],
            "receivedDateTime": stamp,
            "sentDateTime": stamp,
            "isRead": False,
            "isDraft": False,
            "hasAttachments": False,
            "importance": about.data.get("importance") or "normal",
            "inferenceClassification": "focused",
            "isDeliveryReceiptRequested": False,
            "isReadReceiptRequested": False,
            "internetMessageId": message_id,
            "conversationId": conversation_id(about.data.get("subject"), [], None),
            "flag": {"flagStatus": "notFlagged"},
            "startDateTime": _utc_moment(about, "start"),
            "endDateTime": _utc_moment(about, "end"),
            "location": copy.deepcopy(about.data.get("location")),
            "isAllDay": bool(about.data.get("isAllDay")),
            "isDelegated": False,
            "isOutOfDate": False,
            "type": about.data.get("type") or "singleInstance",
            "recurrence": copy.deepcopy(about.data.get("recurrence")),
        }
    )
    message = Item(new_id(), "message", to.id, to.folders["inbox"], data, created=stamp, modified=stamp)
    message.hidden["event"] = linked.id
    return store.add(message)


__all__ = [
    "address_of",
    "after_instance_cancel",
    "after_instance_save",
    "after_save",
    "before_delete",
    "recipient",
    "respond",
]
