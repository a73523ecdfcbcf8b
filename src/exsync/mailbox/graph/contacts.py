"""The contacts part of one mailbox over Microsoft Graph: a ``Connector`` on the profile's contact folder.

Where the contacts live: in the folder ``contacts.folder`` names (created when missing, found again by the
id the delta token carries), or with ``folder = "default"`` in the main Contacts folder, where only items
carrying the category ``contacts.category`` are sync's (the category is bookkeeping: added on create, left
out of the canonical ``categories``). A folder that vanished is replaced by one of that name, adopted or
created, and the listing says so (``Changes.replaced``): its items were lost with it and are re-created,
never read as deleted by the user (DESIGN.md rule 7). With a token, the folder listing that notices a
vanished folder runs only when due (``folder_check_every``; the token remembers the last one) or when the
delta link answers 404, so a cycle with nothing changed costs one request: the delta round.

Listing: a delta round over the folder (``contactFolders/{id}/contacts/delta``, documented with ``$select``
only, so delta entries carry no stamp); a full listing is a round from scratch plus one plain listing that
expands the ``exsync-key`` property, so every entry has its stamp. Versions are change keys. Writes go in
``$batch`` with ``If-Match: W/"changeKey"``; an update first reads the items it patches, so that only the
Graph properties that change are sent and what sync does not own survives (``contact_map.to_graph``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

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
from exsync.mailbox.graph.client import (
    KEY_PROPERTY,
    DeltaRound,
    GraphClient,
    GraphResponse,
    SubRequest,
    with_query,
)
from exsync.mailbox.graph.contact_map import (
    EXPAND_KEY,
    LIMITS,
    PROPERTIES,
    contact_from_graph,
    create_body,
    has_marker,
    stamp_of,
    to_graph,
    version_of,
)
from exsync.mailbox.graph.folders import Folder, check_due, checked_of, find_or_create
from exsync.model import Contact
from exsync.settings import ContactsSettings
from exsync.state.records import ProfileRow

DEFAULT_FOLDER = "default"  # contacts.folder naming the main Contacts folder
PAGE = "200"  # items per page of a listing (Graph answers 10 unless asked)
PREFER_PAGE = (f"odata.maxpagesize={PAGE}",)
MOVED_OUT = "moved out of the synced folder"


class ContactsConnector:
    """The mailbox side of the contacts part of one profile."""

    side = Side.MAILBOX
    part = "contacts"
    limits: Mapping[str, int] = MappingProxyType(LIMITS)
    # Seconds between looks for the folder in the folder listing, which alone shows one moved to Deleted Items
    folder_check_every: float = 3600.0

    def __init__(
        self,
        client: GraphClient,
        settings: ContactsSettings,
        profile: ProfileRow,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.settings = settings
        self.profile = profile
        self.clock = clock  # epoch seconds: when the folder was checked
        # The category marking sync's contacts in the default folder; None with a folder of our own.
        self.marker: str | None = settings.category if settings.folder == DEFAULT_FOLDER else None
        self._folder: Folder | None = None  # the synced folder, once looked up
        self._remembered: str | None = None  # the folder id the last token named
        self._lost: set[str] = set()  # folders that vanished: what is still found in them is lost with them
        self._default_id: str | None = None  # the main Contacts folder's id, once learnt
        self._folders: list[dict[str, Any]] | None = None  # the contact folders there are, once listed

    # -- the connector contract ----------------------------------------------------------------------
    def changes(self, token: str | None) -> Changes:
        remembered, link, checked = (
            self._parse(token) if token is not None else (self._remembered, None, None)
        )
        self._folders = None
        now = self.clock()
        if link is None or check_due(checked, now, self.folder_check_every):
            folder, checked = self._locate(remembered), now
        else:
            folder = self._locate(remembered, check=False)
        if link is not None and not folder.replaced:
            # TokenExpired passes through: the engine lists everything again
            try:
                delta = self.client.delta(f"{self._collection(folder)}/delta", None, link, prefer=PREFER_PAGE)
            except Gone:
                # The folder was deleted outright: look for it (or one to take its place) at once
                folder, checked = self._locate(remembered), now
                if not folder.replaced:
                    raise
            else:
                entries, out = delta_entries(delta.items, None, self.marker)
                listed = {e.id for e in entries}
                removed = [i for i in dict.fromkeys([*delta.removed, *out]) if i not in listed]
                return Changes(entries, removed, self._token(folder, delta, checked), full=False)
        collection = self._collection(folder)
        fresh = self.client.delta(
            f"{collection}/delta",
            {"$select": "id,changeKey,categories"},
            None,
            prefer=PREFER_PAGE,
        )
        stamps = {
            str(item["id"]): stamp
            for item in self.client.get_all(
                collection, {"$select": "id", "$expand": EXPAND_KEY, "$top": PAGE}
            )
            if item.get("id") and (stamp := stamp_of(item))
        }
        entries, _ = delta_entries(fresh.items, stamps, self.marker)
        token = self._token(folder, fresh, checked)
        return Changes(entries, token=token, full=True, replaced=folder.replaced)

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        wanted = list(dict.fromkeys(ids))
        answers = self.client.batch([self._get(i, n) for n, i in enumerate(wanted)])
        found: dict[str, Record] = {}
        for ident, answer in zip(wanted, answers, strict=True):
            if answer.status == 404:
                continue
            if answer.status >= 400:
                raise self.client.error_for(answer, f"reading contact {ident}")
            record = self._record(answer.body)
            if record is not None:
                found[ident] = record
        return found

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        """Items carrying each stamp in the whole mailbox (the main Contacts folder and every contact folder),
        oldest first: a user's copies and items moved to another folder are found too (rule 6)."""
        wanted = list(dict.fromkeys(stamps))
        if not wanted:
            return {}
        listed = self._contact_folders()
        folders = [Folder(DEFAULT_FOLDER), *(Folder(str(f["id"])) for f in listed if f.get("id"))]
        # The synced folder first: of items created within one second, its own is taken for the original.
        collections = list(dict.fromkeys(self._collection(f) for f in (self._synced_folder(), *folders)))
        queries = [
            (stamp, collection, {"$filter": _carries(stamp), "$expand": EXPAND_KEY, "$top": PAGE})
            for stamp in wanted
            for collection in collections
        ]
        requests = [
            SubRequest(str(n), "GET", with_query(collection, params))
            for n, (_, collection, params) in enumerate(queries)
        ]
        # stamp -> id -> (createdDateTime, arrival, record); createdDateTime has whole seconds, so a tie keeps
        # the order Graph listed them in
        hits: dict[str, dict[str, tuple[str, int, Record]]] = {}
        for (stamp, collection, params), answer in zip(queries, self.client.batch(requests), strict=True):
            if answer.status == 404:
                continue  # a folder deleted meanwhile
            if answer.status >= 400:
                raise self.client.error_for(answer, f"looking up contacts by correlation key in {collection}")
            body = answer.body if isinstance(answer.body, dict) else {}
            items = body.get("value", [])
            if body.get("@odata.nextLink"):  # more copies than a page holds: read them all
                items = self.client.get_all(collection, params)
            for item in items:
                record = self._record(item)
                if record is not None and record.stamp == stamp:
                    found = hits.setdefault(stamp, {})
                    found.setdefault(record.id, (str(item.get("createdDateTime") or ""), len(found), record))
        return {stamp: [hit[2] for hit in sorted(found.values())] for stamp, found in hits.items()}

    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(writes)
        current = self._read_for_update(writes, outcomes)
        requests: list[SubRequest] = []
        where: list[int] = []
        for n, write in enumerate(writes):
            if outcomes[n] is not None:
                continue
            try:
                request = self._request(str(n), write, current.get(n, {}))
            except ValueError as e:
                outcomes[n] = Rejected(f"contact {_target(write)}: {_first_line(e)}")
                continue
            if request is None:  # nothing Graph holds changes (the overflow of a list, say)
                assert isinstance(write, Update)
                outcomes[n] = Written(write.id, version_of(current[n]))
                continue
            requests.append(request)
            where.append(n)
        for n, answer in zip(where, self.client.batch(requests), strict=True):
            outcomes[n] = self._outcome(writes[n], answer)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(writes), "every write has its outcome"
        return done

    # -- the folder --------------------------------------------------------------------------------------
    def _locate(self, remembered: str | None, *, check: bool = True) -> Folder:
        """The synced folder: looked up afresh in the folder listing, or with ``check=False`` taken to be the
        ``remembered`` one (no request); the main Contacts folder is ``Folder("default")``."""
        if self.marker is not None:
            return Folder(DEFAULT_FOLDER)
        if check or remembered is None:
            folders = f"{self.client.root}/contactFolders"
            folder = find_or_create(self.client, folders, "displayName", self.settings.folder, remembered)
        else:
            folder = Folder(remembered)
        if folder.replaced and remembered is not None:
            self._lost.add(remembered)
        self._folder, self._remembered = folder, folder.id
        return folder

    def _synced_folder(self) -> Folder:
        if self.marker is not None:
            return Folder(DEFAULT_FOLDER)
        return self._folder or self._locate(self._remembered)

    def _collection(self, folder: Folder) -> str:
        if folder.id == DEFAULT_FOLDER:
            return f"{self.client.root}/contacts"
        return f"{self.client.root}/contactFolders/{folder.id}/contacts"

    def _home(self) -> str | None:
        """The id of the folder sync's contacts are in; None: the main Contacts folder, which is empty."""
        if self.marker is None:
            return self._synced_folder().id
        if self._default_id is None:
            # Only the main folder's contacts are listed under /contacts: any of them names it.
            page = self.client.get(f"{self.client.root}/contacts", {"$select": "parentFolderId", "$top": "1"})
            first: Mapping[str, Any] = next(iter(page.get("value") or []), {})
            self._default_id = first.get("parentFolderId") or None
        return self._default_id

    # -- reading -----------------------------------------------------------------------------------------
    def _parse(self, token: str) -> tuple[str | None, str, float | None]:
        """The token's folder (None: the main Contacts folder), delta link, and when the folder was last
        checked (None: never, as in tokens from before the time was kept)."""
        try:
            data = json.loads(token)
            folder, link, checked = data["folder"], data["link"], checked_of(data.get("checked"))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise TokenExpired("not a delta token of the contacts part") from None
        if not isinstance(link, str) or not isinstance(folder, str):
            raise TokenExpired("not a delta token of the contacts part")
        if (folder == DEFAULT_FOLDER) != (self.marker is not None):
            raise TokenExpired("a delta token of another contacts folder")
        self._remembered = None if folder == DEFAULT_FOLDER else folder
        return self._remembered, link, checked

    def _token(self, folder: Folder, delta: DeltaRound, checked: float | None) -> str:
        data = {"folder": folder.id, "link": delta.link, "checked": checked}
        return json.dumps(data, separators=(",", ":"))

    def _get(self, ident: str, n: int, select: Sequence[str] = ()) -> SubRequest:
        params = {"$expand": EXPAND_KEY}
        if select:
            params["$select"] = ",".join(select)
        return SubRequest(str(n), "GET", with_query(f"{self.client.root}/contacts/{ident}", params))

    def _record(self, data: Any) -> Record | None:
        """A Graph contact as a record; None when it is as good as gone (see ``_placed``)."""
        if not isinstance(data, Mapping) or not data.get("id"):
            return None
        scope = self._placed(data.get("parentFolderId"))
        if scope is None:
            return None
        ident, version, stamp = str(data["id"]), version_of(data), stamp_of(data)
        reason = MOVED_OUT if scope is Scope.FILTER else ""
        try:
            item = contact_from_graph(data, self.marker)
            if scope is Scope.IN and self.marker is not None and not has_marker(data, self.marker):
                scope, reason = Scope.FILTER, f"does not carry the category {self.marker!r}"
        except ValueError as e:
            reason = f"a Graph value cannot be read: {_first_line(e)}"
            return Record(ident, version, Contact(), stamp, Scope.UNREADABLE, reason)
        return Record(ident, version, item, stamp, scope, reason)

    def _placed(self, parent: object) -> Scope | None:
        """IN for a contact in the synced folder, FILTER in another contact folder; None for one as good as
        gone: Exchange keeps what a user deletes in Deleted Items (a mail folder), and a deleted folder with
        its contents too, where a GET by id still finds them."""
        home = self._home()
        if home is not None and parent == home:
            return Scope.IN
        if parent in self._lost:
            return None
        folders = self._contact_folders()  # those listed under the main Contacts folder, and that one
        known = {f.get(key) for f in folders for key in ("id", "parentFolderId")} | {home}
        return Scope.FILTER if parent is not None and parent in known else None

    def _contact_folders(self) -> list[dict[str, Any]]:
        """The contact folders under the main Contacts folder (with their parent: that one), listed once per
        listing of changes."""
        if self._folders is None:
            select = {"$select": "id,parentFolderId"}
            self._folders = self.client.get_all(f"{self.client.root}/contactFolders", select)
        return self._folders

    # -- writing -----------------------------------------------------------------------------------------
    def _read_for_update(self, writes: Sequence[Write], outcomes: list[Outcome | None]) -> dict[int, Any]:
        """The items to update as Graph holds them now; a gone or stale one gets its outcome already."""
        updates = [(n, w) for n, w in enumerate(writes) if isinstance(w, Update)]
        if not updates:
            return {}
        select = ("changeKey", *PROPERTIES)
        answers = self.client.batch([self._get(w.id, n, select) for n, w in updates])
        current: dict[int, Any] = {}
        for (n, write), answer in zip(updates, answers, strict=True):
            if answer.status >= 400:
                outcomes[n] = self._item_error(answer, f"reading contact {write.id} to update it")
            elif version_of(answer.body) != write.version:
                outcomes[n] = VersionConflict(
                    f"contact {write.id} is at version {version_of(answer.body)}, not {write.version}"
                )
            else:
                current[n] = answer.body
        return current

    def _request(self, n: str, write: Write, current: Mapping[str, Any]) -> SubRequest | None:
        """The sub-request carrying ``write``; None for an update that changes nothing Graph holds. Raises
        ValueError for content Graph cannot be given."""
        if isinstance(write, Create):
            if not isinstance(write.item, Contact):
                raise ValueError(f"a {write.item.PART} item is not a contact")
            body = create_body(write.item, write.stamp, self.marker)
            return SubRequest(n, "POST", self._collection(self._synced_folder()), body)
        item = f"{self.client.root}/contacts/{write.id}"
        if_match = {"If-Match": f'W/"{write.version}"'}
        if isinstance(write, Delete):
            return SubRequest(n, "DELETE", item, headers=if_match)
        normalised = Contact.model_validate(write.patch)  # the patch's values, normalised as any value
        body = to_graph({name: getattr(normalised, name) for name in write.patch}, current, self.marker)
        return SubRequest(n, "PATCH", item, body, if_match) if body else None

    def _outcome(self, write: Write, answer: GraphResponse) -> Outcome:
        if isinstance(write, Delete):
            if answer.status < 300 or answer.status == 404:  # gone already counts as done
                return Deleted(write.id)
            return self._item_error(answer, f"deleting contact {write.id}")
        if answer.status >= 300:
            verb = "creating" if isinstance(write, Create) else "updating"
            return self._item_error(answer, f"{verb} contact {_target(write)}")
        body = answer.body if isinstance(answer.body, dict) else {}
        ident = str(body.get("id") or "") if isinstance(write, Create) else write.id
        return Written(ident, version_of(body))

    def _item_error(self, answer: GraphResponse, what: str) -> ConnectorError:
        """The error of one item's answer; one that concerns the whole mailbox is raised."""
        error = self.client.error_for(answer, what)
        if isinstance(error, AuthFailed | PermissionDenied):
            raise error
        return error


def delta_entries(
    items: Sequence[Mapping[str, Any]], stamps: Mapping[str, str] | None = None, marker: str | None = None
) -> tuple[list[Entry], list[str]]:
    """Listing entries of a delta round's items (the last of an id's replays, with its stamp when ``stamps``
    knows it), and the ids out of scope: with a ``marker``, the items without that category."""
    entries: dict[str, Entry] = {}
    out: list[str] = []
    for item in items:
        ident = item.get("id")
        if not ident:
            continue  # nothing to track (Microsoft's own example has placeholders only)
        ident = str(ident)
        entries.pop(ident, None)
        if marker is not None and not _marked(item, marker):
            out.append(ident)
        else:
            entries[ident] = Entry(ident, version_of(item), (stamps or {}).get(ident))
    return list(entries.values()), out


def _carries(stamp: str) -> str:
    """$filter for items carrying ``stamp`` as their correlation key (Microsoft's documented form)."""
    value = stamp.replace("'", "''")
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value eq '{value}')"


def _marked(item: Mapping[str, Any], marker: str) -> bool:
    try:
        return has_marker(item, marker)
    except ValueError:
        return True  # unreadable categories: listed, and fetch reports the item unreadable


def _target(write: Write) -> str:
    return write.stamp if isinstance(write, Create) else write.id


def _first_line(error: Exception) -> str:
    """What is wrong, in one line (a validation error names the field)."""
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__
