"""The calendar part over Microsoft Graph: the profile's main calendar, through ``calendarView/delta``.

Listing (sources: Graph "event: delta", "Get incremental changes to events in a calendar view", "List
instances", "event resource type"):
- One delta chain per rolling window (``calendar.window`` around today, in whole UTC days, so it moves once a
  day). The token remembers the window, the deltaLink and the series seen in the window; when the window has
  moved, the next call starts a new chain: a full listing.
- calendarView delta returns single events, occurrences and exceptions, never series masters. Occurrences are
  grouped by ``seriesMasterId`` and the masters read in a ``$batch``: one entry per series (id = the master's,
  version = a digest of its changeKey, of the changeKeys of its exceptions seen in the window and of its
  cancelled occurrences) and one per single event. An instance whose master cannot be read (an invitation
  to one occurrence, SCENARIOS 52) is listed on its own, as a single event.
- ``@removed`` can mean "left the window" (SCENARIOS 34): each tombstone is checked by a GET. An event that
  still exists is listed (its fetch says it is outside the window); an occurrence that is gone (a deleted
  occurrence, or a deleted series) makes every series known in the window be read again, so a cancelled
  occurrence shows as a new version of its series and a deleted series as removed.
- Delta answers carry no extended properties: stamps come from a ``calendarView`` listing with ``$expand``
  on a full round, from the batched GETs otherwise.

Fetching reads each event in UTC (``Prefer: outlook.timezone="UTC"``; ``event_map`` converts the instants to
the event's own zone) with the stamp expanded, and a series' instances from its first occurrence to its end
(or to the window's end for a series without one): exceptions outside the window are read too, so time
passing never reads as an exception dropped in the mailbox.

Scope of fetched items: outside the window (no instance in it) is ``Scope.WINDOW``; an occurrence whose
series exists is not an item of its own (``Scope.FILTER``); a private event the user made in the mailbox
(``sensitivity`` private, no stamp) is ``Scope.FILTER``: private mailbox items stay out of the business side
(no profile setting allows them yet). Private events that came from the business side carry a stamp and stay
in scope.

Meetings (DESIGN rule 5, SCENARIOS 59–61, 87):
- An event the user does not organise (``isOrganizer`` false) is never patched or deleted: such writes are
  answered ``Rejected``.
- Nothing sync writes sends a meeting message unless ``calendar.send_invitations``: business attendees of a
  created event are kept in the ``exsync-held`` property (see ``event_map``) instead of being invited; with
  ``send_invitations`` they are invited, except for events already over. A meeting the user organises with
  real attendees is changed (subject, times, place, body, attendees, privacy) or deleted only with
  ``send_invitations``, as Exchange sends its attendees an update or a cancellation; its reminder and
  status can always be written. A change of attendees' responses only is not written: the organizer's copy
  tracks them itself (SCENARIOS 60).
- A rejected write is never retried as delete and create (SCENARIOS 87); a 403 on one item is that item's
  ``Rejected``, not the whole side's.

Writes go in ``$batch``es: creates (``transactionId`` derived from the stamp and the item, so a retried
create returns the event it made), updates with ``If-Match`` after reading the item (a stale version is
``VersionConflict``, a missing item ``Gone``), deletes with ``If-Match`` (missing: ``Deleted``). A series'
exceptions are written after its master: the occurrences are found through ``/instances`` and patched, the
cancelled ones deleted.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from exsync.connector import (
    AuthFailed,
    Changes,
    ConnectorError,
    Create,
    Delete,
    Deleted,
    Entry,
    Gone,
    Outcome,
    PermissionDenied,
    Record,
    Rejected,
    Scope,
    Side,
    TokenExpired,
    Update,
    VersionConflict,
    Write,
    Written,
)
from exsync.mailbox.graph import event_map as em
from exsync.mailbox.graph.client import KEY_PROPERTY, GraphClient, GraphResponse, SubRequest, with_query
from exsync.model import Event, Fields
from exsync.model.zones import zone
from exsync.settings import CalendarSettings
from exsync.state.records import ProfileRow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "cal1."
PAGE = "500"  # $top of instance and calendarView listings
# What a listing needs of a series master or an event that may be one.
MASTER_SELECT = "id,type,changeKey,cancelledOccurrences,seriesMasterId,recurrence"
# Fields whose change Exchange announces to a meeting's attendees (an update message).
NOTIFYING = frozenset(
    {
        "subject",
        "body",
        "location",
        "start",
        "end",
        "all_day",
        "time_zone",
        "recurrence",
        "exceptions",
        "private",
    }
)
_UTC = "%Y-%m-%dT%H:%M:%SZ"


def _utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Window:
    """The rolling window as instants: [lo, hi)."""

    lo: datetime
    hi: datetime

    def params(self) -> dict[str, str]:
        return {"startDateTime": self.lo.strftime(_UTC), "endDateTime": self.hi.strftime(_UTC)}

    def key(self) -> list[str]:
        return [self.lo.strftime(_UTC), self.hi.strftime(_UTC)]

    def holds_day(self, day: date) -> bool:
        return self.lo.date() <= day < self.hi.date()


@dataclass(frozen=True)
class _Token:
    """What a delta token remembers: the window, Graph's deltaLink and the series seen in the window."""

    window: list[str]
    link: str
    masters: tuple[str, ...]

    def encode(self) -> str:
        raw = json.dumps({"w": self.window, "l": self.link, "m": sorted(self.masters)}, separators=(",", ":"))
        return TOKEN_PREFIX + base64.urlsafe_b64encode(zlib.compress(raw.encode())).decode()

    @classmethod
    def decode(cls, token: str) -> _Token:
        try:
            if not token.startswith(TOKEN_PREFIX):
                raise ValueError("not a calendar token")
            raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :].encode())))
            return cls(list(raw["w"]), str(raw["l"]), tuple(str(m) for m in raw["m"]))
        except (ValueError, KeyError, TypeError, binascii.Error, zlib.error):
            raise TokenExpired(
                "calendar delta token is unknown (not one this connector handed out)"
            ) from None


@dataclass
class Loaded:
    """An event as read for fetch and for writes: the master or single event, a series' instances."""

    data: dict[str, Any]
    instances: list[dict[str, Any]] = field(default_factory=list)
    item: Event | None = None  # None: it cannot be mapped (``problem`` says why)
    problem: str = ""
    version: str = ""
    in_window: bool = True
    occurrence_of: str | None = None  # the series an occurrence or exception belongs to, if that exists

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def stamp(self) -> str | None:
        return em.stamp_of(self.data)


@dataclass(eq=False)
class _Pending:
    """A write in progress: its index in ``apply``'s answer and what it still needs."""

    index: int
    write: Write
    item: Event | None = None  # the event as it should be after the write
    occurrences: bool = False  # its exceptions are to be written after the master
    data: dict[str, Any] = field(default_factory=dict)  # the master or event as the write left it
    request: SubRequest | None = None  # the POST, PATCH or DELETE it needs


class CalendarConnector:
    """The mailbox side of one profile's calendar part."""

    side = Side.MAILBOX
    part = "calendar"

    def __init__(
        self,
        client: GraphClient,
        settings: CalendarSettings,
        profile: ProfileRow,
        *,
        today: Callable[[], date] = _utc_today,
    ) -> None:
        self.client = client
        self.settings = settings
        self.profile = profile
        self.default_zone = profile.time_zone or "UTC"
        self.today = today
        self.delta_page = 100  # odata.maxpagesize of delta rounds

    # -- the window -----------------------------------------------------------------------------------------
    def window(self) -> Window:
        """Today (UTC) minus ``past_days`` to the end of today plus ``future_days``: whole days only."""
        today = self.today()
        span = self.settings.window
        lo = datetime.combine(today - timedelta(days=span.past_days), time(), UTC)
        hi = datetime.combine(today + timedelta(days=span.future_days + 1), time(), UTC)
        return Window(lo, hi)

    # -- listing --------------------------------------------------------------------------------------------
    def changes(self, token: str | None) -> Changes:
        window = self.window()
        state = _Token.decode(token) if token is not None else None
        full = state is None or state.window != window.key()  # a moved window starts a new chain
        link = None if full or state is None else state.link
        found = self.client.delta(
            f"{self.client.root}/calendarView/delta",
            window.params(),
            link,
            prefer=(f"odata.maxpagesize={self.delta_page}",),
        )
        listing = _Listing(self, window, full)
        listing.take(found.items)
        if full:
            listing.stamps = self._window_stamps(window)
        else:
            listing.probe(found.removed)
            if listing.unexplained and state is not None:
                listing.series.update({m: [] for m in state.masters if m not in listing.series})
        listing.read_series()
        known = set(listing.in_window) if full or state is None else set(state.masters) | listing.in_window
        masters = tuple(sorted(known - listing.left))
        token_out = _Token(window.key(), found.link, masters).encode()
        return Changes(list(listing.entries.values()), listing.removed, token_out, full)

    def _window_stamps(self, window: Window) -> dict[str, str]:
        """Stamps of the events in the window (delta answers carry no extended properties)."""
        params = {**window.params(), "$select": "id,seriesMasterId", "$expand": em.EXPAND, "$top": PAGE}
        found = self.client.get_all(f"{self.client.root}/calendarView", params)
        return {str(e["id"]): stamp for e in found if (stamp := em.stamp_of(e))}

    # -- reading --------------------------------------------------------------------------------------------
    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        return {id: self.record(loaded) for id, loaded in self.load(ids).items()}

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        """Events (series masters and single events) carrying each stamp, oldest first."""
        wanted = list(dict.fromkeys(stamps))
        requests = []
        for stamp in wanted:
            value = stamp.replace("'", "''")
            flt = (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value eq '{value}')"
            )
            params = {"$filter": flt, "$select": "id,createdDateTime", "$top": PAGE}
            requests.append(
                SubRequest(stamp, "GET", with_query(f"{self.client.root}/events", params), headers=_READ)
            )
        found: dict[str, list[str]] = {}
        for stamp, response in zip(wanted, self.client.batch(requests), strict=True):
            if response.status >= 400 or not isinstance(response.body, dict):
                raise self.client.error_for(response, f"finding the events stamped {stamp}")
            # Sorted here (a stable sort keeps Graph's order for ties): Exchange refuses $orderby with this
            # filter.
            events = sorted(self._rest(response.body), key=lambda e: str(e.get("createdDateTime") or ""))
            found[stamp] = [str(e["id"]) for e in events]
        loaded = self.load([id for ids in found.values() for id in ids])
        out: dict[str, list[Record]] = {}
        for stamp, ids in found.items():
            records = [self.record(loaded[id]) for id in ids if id in loaded]
            if records:
                out[stamp] = records
        return out

    def load(self, ids: Sequence[str]) -> dict[str, Loaded]:
        """The events that exist among ``ids``, with their series' instances, mapped and placed in the window.
        A read that fails for another reason than 404 raises: an item that cannot be read is never gone."""
        window = self.window()
        found = self._get_many(ids, {"$expand": em.EXPAND})
        loaded = {id: Loaded(data) for id, data in found.items() if data is not None}
        masters = {ev.id: m for ev in loaded.values() if (m := em.series_master_id(ev.data))}
        existing = self._get_many(sorted(set(masters.values())), {"$select": "id"}) if masters else {}
        series: dict[str, tuple[datetime, datetime]] = {}
        for ev in loaded.values():
            master = masters.get(ev.id)
            if master is not None and existing.get(master) is not None:
                ev.occurrence_of = master
                continue
            try:
                ev.item = em.to_event(ev.data, default_zone=self.default_zone)
            except (ValueError, TypeError) as exc:
                ev.problem = f"the event cannot be read: {_first_line(exc)}"
                continue
            if em.is_series(ev.data) and ev.item.recurrence:
                series[ev.id] = em.occurrence_span(ev.item, window.hi)
        for id, instances in self._instances(series).items():
            loaded[id].instances = instances
        for ev in loaded.values():
            self._settle(ev, window)
        return loaded

    def _settle(self, ev: Loaded, window: Window) -> None:
        """Map a series with its instances; its version and whether it is in the window."""
        cancelled = [str(c) for c in ev.data.get("cancelledOccurrences") or ()]
        if ev.instances or (ev.item is not None and ev.item.recurrence):
            try:
                ev.item = em.to_event(ev.data, ev.instances, default_zone=self.default_zone)
            except (ValueError, TypeError) as exc:
                ev.item, ev.problem = None, f"the series cannot be read: {_first_line(exc)}"
            tz = zone(ev.item.time_zone) if ev.item is not None else UTC
            seen = [i for i in ev.instances if _in(i, window, tz)]
            exceptions = [i for i in seen if i.get("type") == "exception"]
            ev.version = em.version_of(ev.data, exceptions, cancelled)
            ev.in_window = bool(seen) or any(window.holds_day(d) for d in em.cancelled_dates(ev.data))
        else:
            ev.version = em.version_of(ev.data, (), cancelled)
            ev.in_window = _in(ev.data, window, zone(ev.item.time_zone) if ev.item is not None else UTC)

    def record(self, ev: Loaded) -> Record:
        stamp = ev.stamp
        if ev.occurrence_of is not None:
            reason = f"an occurrence of the series {ev.occurrence_of}: the series is synced as a whole"
            return Record(ev.id, ev.version, Event(), stamp, Scope.FILTER, reason)
        if ev.item is None:
            return Record(ev.id, ev.version, Event(), stamp, Scope.UNREADABLE, ev.problem)
        if not ev.in_window:
            return Record(ev.id, ev.version, ev.item, stamp, Scope.WINDOW, "outside the calendar window")
        if stamp is None and em.is_private(ev.data):
            reason = "private: private mailbox events are not synced to the business side"
            return Record(ev.id, ev.version, ev.item, stamp, Scope.FILTER, reason)
        return Record(ev.id, ev.version, ev.item, stamp)

    def _event_url(self, id: str, params: Mapping[str, str] | None = None) -> str:
        return with_query(f"{self.client.root}/events/{quote(id, safe='')}", params)

    def _get_many(self, ids: Iterable[str], params: Mapping[str, str]) -> dict[str, dict[str, Any] | None]:
        """Each event by id in ``$batch``es, read in UTC: its JSON, or None when it does not exist."""
        wanted = list(dict.fromkeys(ids))
        requests = [SubRequest(id, "GET", self._event_url(id, params), headers=_READ) for id in wanted]
        out: dict[str, dict[str, Any] | None] = {}
        for id, response in zip(wanted, self.client.batch(requests), strict=True):
            if response.status == 404:
                out[id] = None
            elif response.status >= 400 or not isinstance(response.body, dict):
                raise self.client.error_for(response, f"reading event {id}")
            else:
                out[id] = response.body
        return out

    def _instances(
        self, spans: Mapping[str, tuple[datetime, datetime]], select: str = em.INSTANCE_SELECT
    ) -> dict[str, list[dict[str, Any]]]:
        """Each series' instances (occurrences and exceptions) over its span, in ``$batch``es."""
        wanted = list(spans)
        requests = []
        for id in wanted:
            lo, hi = spans[id]
            params = {"startDateTime": lo.strftime(_UTC), "endDateTime": hi.strftime(_UTC)}
            url = with_query(f"{self.client.root}/events/{quote(id, safe='')}/instances", params)
            requests.append(
                SubRequest(id, "GET", with_query(url, {"$select": select, "$top": PAGE}), headers=_READ)
            )
        out: dict[str, list[dict[str, Any]]] = {}
        for id, response in zip(wanted, self.client.batch(requests), strict=True):
            if response.status == 404:
                continue  # deleted since it was read
            if response.status >= 400 or not isinstance(response.body, dict):
                raise self.client.error_for(response, f"listing the occurrences of {id}")
            out[id] = self._rest(response.body)
        return out

    def _rest(self, page: dict[str, Any]) -> list[dict[str, Any]]:
        """A collection's items from its first page (answered in a batch), following its nextLink."""
        items = list(page.get("value") or ())
        link = page.get("@odata.nextLink")
        if link:
            items += self.client.get_all(str(link), prefer=em.READ_PREFER)
        return items

    # -- writing --------------------------------------------------------------------------------------------
    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(writes)
        loaded = self.load([w.id for w in writes if not isinstance(w, Create)])
        pending: list[_Pending] = []
        for index, write in enumerate(writes):
            try:
                step = self._prepare(index, write, loaded)
            except ConnectorError as exc:
                outcomes[index] = exc
                continue
            except ValueError as exc:  # Unmappable, or a value the model refuses
                outcomes[index] = Rejected(f"{_what(write)}: {_first_line(exc)}")
                continue
            if isinstance(step, Written | Deleted):
                outcomes[index] = step
            else:
                pending.append(step)
        sent = [s for s in pending if s.request is not None]
        for step, response in zip(
            sent, self.client.batch([s.request for s in sent if s.request]), strict=True
        ):
            outcomes[step.index] = self._answer(step, response)
        live = [s for s in pending if outcomes[s.index] is None]
        for step, problem in self._write_occurrences([s for s in live if s.occurrences]).items():
            outcomes[step.index] = problem
        done = [s for s in live if outcomes[s.index] is None]
        reread = self.load([str(s.data["id"]) for s in done if _is_series(s)])
        for step in done:
            id = str(step.data["id"])
            if not _is_series(step):
                outcomes[step.index] = Written(id, em.version_of(step.data))
            elif id in reread:
                outcomes[step.index] = Written(id, reread[id].version)
            else:
                outcomes[step.index] = Gone(f"event {id} was deleted while it was written")
        return [
            o if o is not None else Rejected(f"{_what(w)}: not carried out")
            for o, w in zip(outcomes, writes, strict=True)
        ]

    def _prepare(
        self, index: int, write: Write, loaded: Mapping[str, Loaded]
    ) -> _Pending | Written | Deleted:
        """The write in progress with the request it needs (if any), or its outcome when it needs none.
        Raises the write's error."""
        root = self.client.root
        if isinstance(write, Create):
            item = _event(write.item)
            body = em.create_body(item, write.stamp, invite=self._invite(item))
            post = SubRequest(str(index), "POST", f"{root}/calendar/events", body, _READ)
            return _Pending(index, write, item, bool(item.recurrence and item.exceptions), request=post)
        current = loaded.get(write.id)
        if current is None:
            if isinstance(write, Delete):
                return Deleted(write.id)
            raise Gone(f"event {write.id} does not exist")
        self._check_writable(write, current)
        headers = {**_READ, "If-Match": em.etag(current.data)}
        assert current.item is not None  # _check_writable refuses unreadable items
        if isinstance(write, Delete):
            delete = SubRequest(str(index), "DELETE", self._event_url(write.id), headers=headers)
            return _Pending(index, write, current.item, data=current.data, request=delete)
        patch = self._meeting_patch(write, current)
        changed = current.item.with_changes(patch)
        assert isinstance(changed, Event)
        occurrences = bool(changed.recurrence) and bool(set(patch) & (em.TIMING | {"exceptions"}))
        invite = not em.has_attendees(current.data) and "attendees" in patch and self._invite(changed)
        write_attendees = em.has_attendees(current.data) or invite
        body = em.update_body(current.data, current.item, patch, write_attendees=write_attendees)
        patch_request = (
            SubRequest(str(index), "PATCH", self._event_url(write.id), body, headers) if body else None
        )
        if patch_request is None and not occurrences:
            return Written(write.id, current.version)
        return _Pending(index, write, changed, occurrences, current.data, patch_request)

    def _check_writable(self, write: Update | Delete, current: Loaded) -> None:
        what = f"event {write.id}"
        if current.item is None:
            raise Rejected(f"{what}: {current.problem or 'not an event sync can write'}")
        if current.occurrence_of is not None:
            raise Rejected(f"{what} is an occurrence of the series {current.occurrence_of}; write the series")
        if not em.organised_by_me(current.data):
            organizer = current.item.organizer or "someone else"
            raise Rejected(
                f"{what} is a meeting organised by {organizer}: sync never changes or deletes it "
                "(DESIGN rule 5)"
            )
        if current.version != write.version:
            raise VersionConflict(f"{what} is at version {current.version}, not {write.version}")
        if (
            isinstance(write, Delete)
            and em.has_attendees(current.data)
            and not self.settings.send_invitations
        ):
            raise Rejected(
                f"{what} is a meeting with attendees: deleting it would send them a cancellation, and sync "
                "sends none unless calendar.send_invitations = true (DESIGN rule 5); delete it in Outlook"
            )

    def _meeting_patch(self, write: Update, current: Loaded) -> Fields:
        """The patch as it may be written to a meeting the user organises (unchanged for other events)."""
        patch = dict(write.patch)
        if not em.has_attendees(current.data):
            return patch
        assert current.item is not None
        if "attendees" in patch and _people(patch["attendees"]) == _people(current.item.attendees):
            del patch["attendees"]  # responses only: the organizer's copy tracks them itself (SCENARIOS 60)
        announced = sorted(set(patch) & (NOTIFYING | {"attendees"}))
        if announced and not self.settings.send_invitations:
            raise Rejected(
                f"event {write.id} is a meeting with attendees: changing its {', '.join(announced)} would "
                "send them an update, and sync sends none unless calendar.send_invitations = true "
                "(DESIGN rule 5)"
            )
        return patch

    def _invite(self, item: Event) -> bool:
        """Whether the item's attendees are invited: only with send_invitations, and never to a past event."""
        if not (self.settings.send_invitations and item.attendees):
            return False
        last = em.series_last_start(item) if item.recurrence else datetime.fromisoformat(item.start)
        if last is None:
            return True
        length = datetime.fromisoformat(item.end or item.start) - datetime.fromisoformat(item.start)
        end = (last + length).replace(tzinfo=zone(item.time_zone))
        return end > datetime.now(UTC)

    def _answer(self, step: _Pending, response: GraphResponse) -> Outcome | None:
        """The outcome of a write's request, or None when it succeeded and goes on."""
        write = step.write
        if isinstance(write, Delete):
            if response.status in (200, 204, 404):
                return Deleted(write.id)
            return self._item_error(response, _what(write))
        if response.status >= 400 or not isinstance(response.body, dict):
            return self._item_error(response, _what(write))
        step.data = response.body
        return None

    def _item_error(self, response: GraphResponse, what: str) -> ConnectorError:
        error = self.client.error_for(response, what)
        if isinstance(error, AuthFailed):
            raise error
        if isinstance(error, PermissionDenied):  # this item refused (a meeting, a locked item): not the side
            return Rejected(str(error))
        return error

    def _write_occurrences(self, steps: Sequence[_Pending]) -> dict[_Pending, ConnectorError]:
        """Give each written series the exceptions of its item; what failed, per write."""
        if not steps:
            return {}
        window = self.window()
        spans = {}
        for step in steps:
            assert step.item is not None
            spans[str(step.data["id"])] = em.occurrence_span(step.item, window.hi)
        instances = self._instances(spans)
        problems: dict[_Pending, ConnectorError] = {}
        requests: list[SubRequest] = []
        owners: list[_Pending] = []
        for step in steps:
            assert step.item is not None
            id = str(step.data["id"])
            writes, trouble = em.occurrence_writes(step.data, instances.get(id, []), step.item)
            if trouble:
                problems[step] = Rejected(f"{_what(step.write)}: {'; '.join(trouble)}")
            for method, target, body in writes:
                requests.append(SubRequest(target, method, self._event_url(target), body, _READ))
                owners.append(step)
        for step, request, response in zip(owners, requests, self.client.batch(requests), strict=True):
            if response.status >= 400 and not (request.method == "DELETE" and response.status == 404):
                problems.setdefault(
                    step, self._item_error(response, f"occurrence {request.id} of {_what(step.write)}")
                )
        return problems


_READ = {"Prefer": ", ".join(em.READ_PREFER)}


class _Listing:
    """One listing being assembled: entries by id, removed ids, the series to read."""

    def __init__(self, connector: CalendarConnector, window: Window, full: bool) -> None:
        self.connector = connector
        self.window = window
        self.full = full
        self.entries: dict[str, Entry] = {}
        self.removed: list[str] = []
        self.singles: dict[str, dict[str, Any]] = {}
        self.series: dict[str, list[dict[str, Any]]] = {}  # master id -> its instances in this round
        self.stamps: dict[str, str] = {}
        self.unexplained = False  # a tombstone of something that is gone: maybe an occurrence
        self.in_window: set[str] = set()
        self.left: set[str] = set()

    def take(self, items: Iterable[dict[str, Any]]) -> None:
        singles, series = group(items)
        self.singles.update(singles)
        for master, instances in series.items():
            self.series.setdefault(master, []).extend(instances)

    def probe(self, removed: Sequence[str]) -> None:
        """Incremental rounds: read the changed single events (for their stamps) and check each tombstone."""
        wanted = list(dict.fromkeys([*self.singles, *removed]))
        found = self.connector._get_many(wanted, {"$select": MASTER_SELECT, "$expand": em.EXPAND})
        for id in wanted:
            data = found[id]
            if data is None:
                self.removed.append(id)
                self.unexplained = self.unexplained or id not in self.singles  # maybe an occurrence
                continue
            master = em.series_master_id(data)
            if master is not None:
                self.series.setdefault(master, [])  # an occurrence that left the window: its series changed
            elif em.is_series(data):
                self.series.setdefault(id, [])
            else:
                self.entries[id] = Entry(id, em.version_of(data), em.stamp_of(data))
        self.singles.clear()

    def read_series(self) -> None:
        """Entries for the full round's single events, then one per series (masters read in a batch)."""
        for id, item in self.singles.items():
            self.entries[id] = Entry(id, em.version_of(item), self.stamps.get(id))
        if not self.series:
            return
        connector = self.connector
        masters = connector._get_many(list(self.series), {"$select": MASTER_SELECT, "$expand": em.EXPAND})
        seen: dict[str, list[dict[str, Any]]] = {}
        if self.full:
            seen = self.series
        else:  # what of each series is in the window now: the round holds only what changed
            spans = {m: (self.window.lo, self.window.hi) for m, d in masters.items() if d is not None}
            seen = connector._instances(spans, "id,type,changeKey,start,end")
        orphans: list[dict[str, Any]] = []
        for master, data in masters.items():
            if data is None:
                orphans += self.series[master]
                if not self.full:  # a full listing names what exists, nothing else
                    self.removed.append(master)
                self.left.add(master)
                continue
            instances = seen.get(master, [])
            exceptions = [i for i in instances if i.get("type") == "exception"]
            cancelled = [str(c) for c in data.get("cancelledOccurrences") or ()]
            self.entries[master] = Entry(
                master, em.version_of(data, exceptions, cancelled), em.stamp_of(data)
            )
            dates = em.cancelled_dates(data)
            if instances or any(self.window.holds_day(d) for d in dates):
                self.in_window.add(master)
            else:
                self.left.add(master)
        self._orphans(orphans)

    def _orphans(self, items: Sequence[dict[str, Any]]) -> None:
        """Instances whose series cannot be read (SCENARIOS 52): each is listed as an event of its own."""
        if not items:
            return
        ids = [str(i["id"]) for i in items]
        if self.full:
            for item in items:
                id = str(item["id"])
                self.entries[id] = Entry(id, em.version_of(item), self.stamps.get(id))
            return
        for id, data in self.connector._get_many(
            ids, {"$select": MASTER_SELECT, "$expand": em.EXPAND}
        ).items():
            if data is not None:
                self.entries[id] = Entry(id, em.version_of(data), em.stamp_of(data))


def group(
    items: Iterable[dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """A delta round's events: single events by id, and the instances of each series by its master's id.
    An item without an id (Microsoft's placeholder example) cannot be listed and is left out."""
    singles: dict[str, dict[str, Any]] = {}
    series: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if not item.get("id"):
            log.warning("calendarView delta: an event without an id was left out")
            continue
        master = em.series_master_id(item)
        if master is not None:
            series.setdefault(master, []).append(item)
        elif item.get("type") == "seriesMaster":
            series.setdefault(str(item["id"]), [])
        else:
            singles[str(item["id"])] = item  # a replay inside the round: the last one counts
    return singles, series


def _in(data: Mapping[str, Any], window: Window, tz: tzinfo) -> bool:
    times = em.span(data, tz)
    return times is not None and em.overlaps(times, window.lo, window.hi)


def _event(item: object) -> Event:
    if not isinstance(item, Event):
        raise Rejected(f"a {type(item).__name__} cannot be written to the calendar")
    return item


def _people(attendees: Iterable[Any]) -> list[tuple[str, str]]:
    """Who attends and in which role, ignoring names and responses."""
    out = []
    for a in attendees:
        data = a if isinstance(a, Mapping) else a.model_dump(mode="json")
        out.append((str(data.get("email") or "").casefold(), str(data.get("role") or "required")))
    return sorted(out)


def _is_series(step: _Pending) -> bool:
    return step.item is not None and bool(step.item.recurrence)


def _what(write: Write) -> str:
    if isinstance(write, Create):
        return f"creating {write.stamp}"
    return f"{'updating' if isinstance(write, Update) else 'deleting'} event {write.id}"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
