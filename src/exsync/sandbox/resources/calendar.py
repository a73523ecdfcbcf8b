"""Calendars and events: `/users/{id}/calendar[s]`, events under `/users/{id}/events` and
`/users/{id}/calendar/events`, calendarView and its delta, a series' instances, the delta of events, and the
meeting actions (accept, tentativelyAccept, decline, cancel) — meetings reach other sandbox mailboxes through
`meetings`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from exsync.sandbox import events, recurrence
from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import GraphError, bad_request, not_found
from exsync.sandbox.events import Instance
from exsync.sandbox.http import Response
from exsync.sandbox.ids import new_id
from exsync.sandbox.listing import DeltaSource, Entry, collection, delta, page_size
from exsync.sandbox.render import DECORATORS, full, merge_into
from exsync.sandbox.resources import common, meetings
from exsync.sandbox.router import route
from exsync.sandbox.store import Item

PART = "calendar"
PREFIXES = ("/users/{user-id}", "/users/{user-id}/calendar")
EVENT = "/events/{event-id}"
# Computed by the server: a client's value (often echoed back from a GET) is ignored, as Graph does.
COMPUTED = frozenset(
    {
        "type",
        "seriesMasterId",
        "iCalUId",
        "cancelledOccurrences",
        "bodyPreview",
        "isOrganizer",
        "responseStatus",
        "originalStart",
        "hasAttachments",
        "webLink",
        "originalStartTimeZone",
        "originalEndTimeZone",
        "isCancelled",
    }
)
ENUMS = {
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
}
ATTENDEE_TYPES = ("required", "optional", "resource")
LOCATION_TYPES = (
    "default",
    "conferenceRoom",
    "homeAddress",
    "businessAddress",
    "geoCoordinates",
    "streetAddress",
    "hotel",
    "restaurant",
    "localBusiness",
    "postalAddress",
)
TIMING = ("start", "end", "recurrence", "isAllDay")

DECORATORS["event"] = events.decorate


def _invalid() -> GraphError:
    # What Graph answers for an all-day event off midnight or an end before the start.
    return GraphError(400, "ErrorPropertyValidationFailure", "At least one property failed validation.")


def _window_missing() -> GraphError:
    return GraphError(
        400,
        "ErrorInvalidParameter",
        "This request requires a time window specified by the query string parameters "
        "StartDateTime and EndDateTime.",
    )


# -- lookups -----------------------------------------------------------------------------------------------
def _calendar(ctx: Ctx) -> Item:
    found = ctx.store.get(ctx.mailbox.folders["calendar"])
    assert found is not None
    return found


def _target(ctx: Ctx) -> Item | Instance:
    found = events.resolve(ctx.store, ctx.params["event-id"], ctx.mailbox.id)
    if found is None:
        raise not_found()
    return found


def _query(ctx: Ctx, name: str) -> str | None:
    """A function parameter; Graph reads their names without regard to case (`startdatetime` works)."""
    return next((v for k, v in ctx.req.query.items() if k.lower() == name.lower()), None)


def _window(ctx: Ctx) -> tuple[datetime, datetime]:
    start, end = _query(ctx, "startDateTime"), _query(ctx, "endDateTime")
    if not start or not end:
        raise _window_missing()
    return events.parse_instant(start, "StartDateTime"), events.parse_instant(end, "EndDateTime")


def _start_of(view: Item) -> datetime:
    times = events.span(view.data)
    return times[0] if times is not None else datetime.min.replace(tzinfo=UTC)


def _views(targets: Iterable[Item | Instance]) -> list[Item]:
    return sorted((events.view_of(t) for t in targets), key=_start_of)


# -- reading and writing an event --------------------------------------------------------------------------
def _writable(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k not in COMPUTED}
    if not creating:
        out.pop("transactionId", None)  # set once, at creation
    return out


def _enum(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if isinstance(value, str):
        for member in allowed:
            if member.casefold() == value.casefold():
                return member
    raise bad_request(
        f"Invalid value '{value}' for '{name}': expected one of {', '.join(allowed)}.", "RequestBodyRead"
    )


def _location(value: Any) -> dict[str, Any]:
    if value is None:
        return copy.deepcopy(events.EMPTY_LOCATION)
    if not isinstance(value, dict):
        raise bad_request("'location' must be an object.", "RequestBodyRead")
    out = dict(value)
    name = out.get("displayName") or ""
    out["displayName"] = name
    out["locationType"] = _enum(out.get("locationType") or "default", LOCATION_TYPES, "location.locationType")
    if name:
        out.setdefault("uniqueId", name)
    out.setdefault("uniqueIdType", "private" if name else "unknown")
    return out


def _attendees(value: Any, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attendees as given; the response an organizer's copy tracks stays with the address (a client's echo
    of `status` does not overwrite it)."""
    if not isinstance(value, list):
        raise bad_request("'attendees' must be an array.", "RequestBodyRead")
    known = {meetings.address_of(a): a.get("status") for a in before}
    out = []
    for attendee in value:
        if not isinstance(attendee, dict) or not isinstance(attendee.get("emailAddress"), dict):
            raise bad_request("Each attendee needs an 'emailAddress' object.", "ErrorInvalidRequest")
        if not isinstance(attendee["emailAddress"].get("address"), str):
            raise bad_request("Each attendee's emailAddress needs an 'address'.", "ErrorInvalidRecipients")
        entry = copy.deepcopy(attendee)
        entry["type"] = _enum(entry.get("type") or "required", ATTENDEE_TYPES, "attendee.type")
        entry["status"] = known.get(meetings.address_of(entry)) or {
            "response": "none",
            "time": events.NO_TIME,
        }
        out.append(entry)
    return out


def _normalize(data: dict[str, Any], body: dict[str, Any], before: dict[str, Any]) -> None:
    """The client's values, checked and in Graph's stored form (only what the body set)."""
    for key in ("start", "end"):
        if key in body:
            data[key] = events.parse_moment(body[key], key)
            data[f"original{key.capitalize()}TimeZone"] = data[key]["timeZone"]
    for key, allowed in ENUMS.items():
        if body.get(key) is not None:
            data[key] = _enum(body[key], allowed, key)
    if "body" in body:
        value = body["body"] or {}
        if not isinstance(value, dict):
            raise bad_request("'body' must be an itemBody object.", "RequestBodyRead")
        kind = _enum(value.get("contentType") or "text", ("text", "html"), "body.contentType")
        data["body"] = {"contentType": kind, "content": value.get("content") or ""}
    if isinstance(body.get("locations"), list):
        data["locations"] = [_location(place) for place in body["locations"]]
    if "location" in body:
        data["location"] = _location(body["location"])
        if "locations" not in body:
            name = data["location"]["displayName"]
            data["locations"] = (
                [{"displayName": name, "locationType": "default", "uniqueIdType": "unknown"}] if name else []
            )
    if "attendees" in body:
        data["attendees"] = _attendees(body["attendees"] or [], before.get("attendees") or [])


def _check_times(data: dict[str, Any]) -> None:
    if not data.get("start") or not data.get("end"):
        raise bad_request("An event needs both a 'start' and an 'end'.", "ErrorInvalidRequest")
    times = events.span(data)
    assert times is not None
    start, end = times
    if end < start:
        raise _invalid()
    if data.get("isAllDay"):
        walls = [datetime.fromisoformat(data[k]["dateTime"]) for k in ("start", "end")]
        if any(w.time() != datetime.min.time() for w in walls) or walls[1] <= walls[0]:
            raise _invalid()


def _settle(ctx: Ctx, item: Item, body: dict[str, Any], before: dict[str, Any], creating: bool) -> None:
    """Fill what Graph computes, check the times, apply the recurrence."""
    data = item.data
    if creating:
        for key, value in events.NEW_EVENT.items():
            data.setdefault(key, copy.deepcopy(value))
        if not data.get("organizer"):
            data["organizer"] = meetings.recipient(ctx.mailbox.display_name, ctx.mailbox.upn)
        data["iCalUId"] = events.ical_uid()
        data.setdefault("location", copy.deepcopy(events.EMPTY_LOCATION))
        body = {"body": events.NEW_EVENT["body"], **body}
    _normalize(data, body, before)
    _check_times(data)
    if "recurrence" in body and body["recurrence"] is not None:
        data["recurrence"] = recurrence.canonical(body["recurrence"], data["start"]["timeZone"])
    elif "recurrence" in body or creating:
        data["recurrence"] = None
    elif data.get("recurrence") and "start" in body:  # the series moves with its master's new date
        start_day = datetime.fromisoformat(data["start"]["dateTime"]).date()
        if start_day.isoformat() != before.get("start", {}).get("dateTime", "")[:10]:
            data["recurrence"]["range"]["startDate"] = start_day.isoformat()
    if data.get("recurrence"):
        data["type"] = "seriesMaster"
        events.align_master(item)
    else:
        data["type"] = "singleInstance"


def _scratch(item: Item) -> Item:
    return Item(
        item.id,
        item.kind,
        item.owner,
        item.parent,
        copy.deepcopy(item.data),
        hidden=copy.deepcopy(item.hidden),
    )


def _create(ctx: Ctx) -> Response:
    body = ctx.json()
    transaction = body.get("transactionId")
    if isinstance(transaction, str) and transaction:
        for existing in ctx.store.children(_calendar(ctx).id, "event"):
            if existing.data.get("transactionId") == transaction:
                return ctx.single(existing, 201)  # a retried create: the event it made, not a second one
    body = _writable(body, creating=True)
    item = Item(new_id(), "event", ctx.mailbox.id, _calendar(ctx).id, {})
    merge_into(item, body)
    _settle(ctx, item, body, {}, creating=True)
    ctx.store.add(item)
    item.hidden["series"] = item.version
    meetings.after_save(ctx, item, None)
    return ctx.single(item, 201)


def _update_stored(ctx: Ctx, item: Item, body: dict[str, Any]) -> Item:
    before = copy.deepcopy(item.data)
    scratch = _scratch(item)
    merge_into(scratch, body)
    _settle(ctx, scratch, body, before, creating=False)
    item.data = scratch.data
    ctx.store.changed(item)
    item.hidden["series"] = item.version
    if any(before.get(k) != item.data.get(k) for k in (*TIMING, "type")):
        events.refit(ctx.store, item)
    meetings.after_save(ctx, item, before)
    return item


def _update_instance(ctx: Ctx, inst: Instance, body: dict[str, Any]) -> Item:
    if body.get("recurrence") is not None:
        raise bad_request("The recurrence of a single occurrence cannot be set.", "ErrorInvalidRequest")
    body.pop("recurrence", None)
    master = inst.master
    before = events.instance_view(inst).data
    hidden = {"master": master.id, "day": inst.day.isoformat()}
    scratch = Item(inst.id, "event", master.owner, master.id, {}, hidden=hidden)
    if inst.exception is not None:
        scratch.data = copy.deepcopy(inst.exception.data)
    merge_into(scratch, body)
    _normalize(scratch.data, body, before)
    _check_times(events.instance_view(Instance(master, inst.day, scratch)).data)
    if inst.exception is None:
        exception = ctx.store.add(scratch)
    else:
        exception = inst.exception
        exception.data = scratch.data
        ctx.store.changed(exception)
    ctx.store.changed(master)  # Exchange keeps exceptions inside their master: its change key moves
    updated = Instance(master, inst.day, exception)
    meetings.after_instance_save(ctx, updated)
    return events.instance_view(updated)


def cancel_instance(ctx: Ctx, inst: Instance) -> None:
    """A deleted occurrence: listed in the master's cancelledOccurrences, gone from views."""
    if inst.exception is not None:
        ctx.store.remove(inst.exception)
    cancelled = inst.master.hidden.setdefault("cancelled", [])
    if inst.day.isoformat() not in cancelled:
        cancelled.append(inst.day.isoformat())
    ctx.store.changed(inst.master)


# -- calendars ---------------------------------------------------------------------------------------------
@route("GET", "/users/{user-id}/calendar", PART)
def get_calendar(ctx: Ctx) -> Response:
    context = f"{ctx.req.base_url}/v1.0/$metadata#users('{ctx.params['user-id']}')/calendar/$entity"
    return Response(200, {"@odata.context": context, **ctx.render(_calendar(ctx))})


@route("GET", "/users/{user-id}/calendars", PART)
def list_calendars(ctx: Ctx) -> Response:
    return common.listing(ctx, "calendar", ctx.store.owned(ctx.mailbox.id, "calendar"))


@route("GET", "/users/{user-id}/calendars/{calendar-id}", PART)
def get_calendar_by_id(ctx: Ctx) -> Response:
    return ctx.single(ctx.item("calendar-id", "calendar"))


# -- events ------------------------------------------------------------------------------------------------
def list_events(ctx: Ctx) -> Response:
    """Single instances and series masters (occurrences and exceptions only through views)."""
    return common.listing(ctx, "event", ctx.store.children(_calendar(ctx).id, "event"))


def create_event(ctx: Ctx) -> Response:
    return _create(ctx)


def get_event(ctx: Ctx) -> Response:
    return ctx.single(events.view_of(_target(ctx)))


def update_event(ctx: Ctx) -> Response:
    target = _target(ctx)
    ctx.check_if_match(events.view_of(target))
    body = _writable(ctx.json(), creating=False)
    if isinstance(target, Instance):
        return ctx.single(_update_instance(ctx, target, body))
    return ctx.single(_update_stored(ctx, target, body))


def delete_event(ctx: Ctx) -> Response:
    target = _target(ctx)
    ctx.check_if_match(events.view_of(target))
    if isinstance(target, Instance):
        cancel_instance(ctx, target)
        meetings.after_instance_cancel(ctx, target, None)
    else:
        meetings.before_delete(ctx, target, None)
        ctx.store.remove(target)
    return Response(204)


def list_instances(ctx: Ctx) -> Response:
    target = _target(ctx)
    lo, hi = _window(ctx)
    found = events.instances(ctx.store, target, lo, hi) if isinstance(target, Item) else []
    return collection(ctx, "event", (full(ctx, v) for v in _views(found)))


def calendar_view(ctx: Ctx) -> Response:
    lo, hi = _window(ctx)
    views = _views(events.calendar_view(ctx.store, _calendar(ctx), lo, hi))
    context = f"{ctx.req.base_url}/v1.0/$metadata#users('{ctx.params['user-id']}')/calendarView"
    return collection(ctx, "event", (full(ctx, v) for v in views), context)


def _renderer(ctx: Ctx, target: Item | Instance) -> Callable[[], dict[str, Any]]:
    return lambda: full(ctx, events.view_of(target))


def calendar_view_delta(ctx: Ctx) -> Response:
    """Delta over a calendarView window: the window comes with the first request and is kept in the token;
    `$select` is not supported there (Graph returns what calendarView returns)."""
    options: dict[str, Any] = {"select": None, "expand": None, "page_size": page_size(ctx)}
    resuming = "$skiptoken" in ctx.req.query or ctx.req.query.get("$deltatoken", "latest").lower() != "latest"
    if not resuming:
        lo, hi = _window(ctx)
        options["window"] = [lo.isoformat(), hi.isoformat()]
    calendar = _calendar(ctx)

    def source(options: dict[str, Any]) -> DeltaSource:
        def entries(options: dict[str, Any]) -> list[Entry]:
            # read here, not in source(): a token of another collection has no window and meets a 410 first
            lo, hi = (datetime.fromisoformat(t) for t in options["window"])
            out: list[Entry] = []
            for target in events.calendar_view(ctx.store, calendar, lo, hi):
                if isinstance(target, Instance):
                    out.append((target.id, target.version, target.id, _renderer(ctx, target)))
                else:
                    out.append((target.id, target.version, ctx.shown_id(target), _renderer(ctx, target)))
            return out

        return DeltaSource(f"calendarView:{calendar.id}", "#microsoft.graph.event", entries)

    return delta(ctx, source, options)


def events_delta(ctx: Ctx) -> Response:
    """Delta over the events of the calendar (Graph beta documents it): single instances and series masters,
    with only id, type, start and end; an optional startDateTime keeps events ending after it."""
    options: dict[str, Any] = {"select": None, "expand": None, "page_size": page_size(ctx), "start": None}
    start = _query(ctx, "startDateTime")
    if start:
        options["start"] = events.parse_instant(start, "StartDateTime").isoformat()
    calendar = _calendar(ctx)

    def brief(item: Item) -> Callable[[], dict[str, Any]]:
        def render() -> dict[str, Any]:
            out = full(ctx, item)
            return {k: out[k] for k in ("@odata.etag", "id", "type", "start", "end") if k in out}

        return render

    def source(options: dict[str, Any]) -> DeltaSource:
        since = datetime.fromisoformat(options["start"]) if options.get("start") else None

        def entries(_: dict[str, Any]) -> list[Entry]:
            return [
                (item.id, item.version, ctx.shown_id(item), brief(item))
                for item in ctx.store.children(calendar.id, "event")
                if since is None or _ends_after(item, since)
            ]

        return DeltaSource(f"events:{calendar.id}", "#microsoft.graph.event", entries)

    return delta(ctx, source, options)


def _ends_after(item: Item, since: datetime) -> bool:
    times = events.span(item.data)
    if times is None:
        return True
    if not events.is_master(item):
        return times[1] > since
    end = recurrence.series_end(item.data["recurrence"], times[0], times[1] - times[0])
    return end is None or end > since


# -- meeting actions ---------------------------------------------------------------------------------------
def _action_body(ctx: Ctx) -> dict[str, Any]:
    return ctx.json() if ctx.req.body.strip() else {}


def _responder(response: str) -> Callable[[Ctx], Response]:
    def respond(ctx: Ctx) -> Response:
        meetings.respond(ctx, _target(ctx), response, _action_body(ctx))
        return Response(202)

    respond.__name__ = f"respond_{response}"
    return respond


def cancel_event(ctx: Ctx) -> Response:
    target = _target(ctx)
    body = _action_body(ctx)
    comment = next((v for k, v in body.items() if k.lower() == "comment" and isinstance(v, str)), None)
    master = target.master if isinstance(target, Instance) else target
    if not master.data.get("isOrganizer"):
        raise bad_request(
            "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            "ErrorInvalidRequest",
        )
    if isinstance(target, Instance):
        cancel_instance(ctx, target)
        meetings.after_instance_cancel(ctx, target, comment)
    else:
        meetings.before_delete(ctx, target, comment)
        ctx.store.remove(target)  # Exchange moves it to Deleted Items: gone from the calendar either way
    return Response(202)


for _prefix in PREFIXES:
    route("GET", f"{_prefix}/events", PART)(list_events)
    route("POST", f"{_prefix}/events", PART)(create_event)
    route("GET", f"{_prefix}/events/delta", PART)(events_delta)
    route("GET", f"{_prefix}{EVENT}", PART)(get_event)
    route("PATCH", f"{_prefix}{EVENT}", PART)(update_event)
    route("DELETE", f"{_prefix}{EVENT}", PART)(delete_event)
    route("GET", f"{_prefix}{EVENT}/instances", PART)(list_instances)
    route("GET", f"{_prefix}/calendarView", PART)(calendar_view)
    route("GET", f"{_prefix}/calendarView/delta", PART)(calendar_view_delta)
    route("POST", f"{_prefix}{EVENT}/cancel", PART)(cancel_event)
    for _action, _response in (
        ("accept", "accepted"),
        ("tentativelyAccept", "tentativelyAccepted"),
        ("decline", "declined"),
    ):
        route("POST", f"{_prefix}{EVENT}/{_action}", PART)(_responder(_response))
