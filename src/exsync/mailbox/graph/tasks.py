"""The tasks part over Microsoft To Do: the profile's To Do list (``tasks.list``) of one mailbox.

- The list is found by the id its delta token carries while it is in the mailbox's lists, else by name
  (``folders.find_or_create``), else created. A list that vanished is replaced by one of that name
  (adopted or created) and answered with a full listing, never as "the user deleted everything" (DESIGN
  rule 7). A run without a token (``--full``, a settings change) looks the list up by name again. With a
  token, the lists are listed only when that check is due (``folder_check_every``; the token remembers the
  last one) or when the list's delta link answers 404: a cycle with nothing changed is one request.
- Listing is the list's task delta (``/todo/lists/{id}/tasks/delta``, ``$expand=linkedResources`` so every
  entry carries its stamp; Microsoft documents ``$expand`` for todoTask delta): a round without a link is
  the full listing. The token is ``{"list": id, "link": deltaLink, "checked": epoch seconds}``.
- ``find`` lists the whole list with its linked resources and matches the stamps here: Microsoft documents
  no ``$filter`` on ``linkedResources`` for todoTask (the list-tasks page only says "supports some of the
  OData query parameters"), so a lambda filter is not relied on. Other lists are not searched: that would
  read every list of the mailbox on each look-up.
- Writes go in ``$batch``: POST with our linked resource inline (one request, and Microsoft's pages
  disagree on whether an app may add one to an existing task; the linked resource is never changed
  after), PATCH and DELETE with ``If-Match`` (the ``@odata.etag``). An update that changes ``done`` or
  ``due`` first reads the task, to map onto what the user set (see ``task_map``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from exsync.connector import (
    Changes,
    Create,
    Delete,
    Deleted,
    Entry,
    Gone,
    Outcome,
    Record,
    Rejected,
    Side,
    TokenExpired,
    Update,
    VersionConflict,
    Write,
    Written,
)
from exsync.mailbox.graph.client import GraphClient, GraphResponse, SubRequest
from exsync.mailbox.graph.folders import Folder, check_due, checked_of, find_or_create
from exsync.mailbox.graph.task_map import (
    LocalZone,
    create_body,
    entry_of,
    needs_current,
    patch_body,
    reason,
    record_of,
    stamp_of,
    version_of,
)
from exsync.model import Task
from exsync.settings import TasksSettings
from exsync.state.records import ProfileRow

EXPAND = {"$expand": "linkedResources"}


@dataclass(frozen=True)
class ListToken:
    """What a delta token remembers: the list it belongs to, where its next round starts, and when the list
    was last looked for among the mailbox's lists (epoch seconds; None: never)."""

    list: str
    link: str
    checked: float | None = None

    def encode(self) -> str:
        data = {"list": self.list, "link": self.link, "checked": self.checked}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, token: str) -> ListToken:
        try:
            data = json.loads(token)
            return cls(str(data["list"]), str(data["link"]), checked_of(data.get("checked")))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TokenExpired(f"delta token {token[:40]!r} is not a To Do list token") from None


class TasksConnector:
    """The mailbox side of the tasks part: one To Do list of one mailbox."""

    side = Side.MAILBOX
    part = "tasks"
    # Seconds between looks for the list among the mailbox's lists (a deleted list is noticed at once anyway:
    # its delta link answers 404)
    folder_check_every: float = 3600.0

    def __init__(
        self,
        client: GraphClient,
        settings: TasksSettings,
        profile: ProfileRow,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.settings = settings
        self.profile = profile
        self.clock = clock  # epoch seconds: when the list was checked
        self.local = LocalZone.of(profile.time_zone)
        self._list_id: str | None = None  # the list in use, once known

    # -- the list -------------------------------------------------------------------------------------
    @property
    def lists(self) -> str:
        return f"{self.client.root}/todo/lists"

    def _tasks(self, list_id: str) -> str:
        return f"{self.lists}/{_segment(list_id)}/tasks"

    def _task(self, list_id: str, task_id: str) -> str:
        return f"{self._tasks(list_id)}/{_segment(task_id)}"

    def _list(self, remembered: str | None) -> Folder:
        """The list: the one ``remembered`` names while it exists, else the one of that name, else new."""
        folder = find_or_create(self.client, self.lists, "displayName", self.settings.list, remembered)
        self._list_id = folder.id
        return folder

    def _list_now(self) -> str:
        return self._list_id if self._list_id is not None else self._list(None).id

    # -- listing --------------------------------------------------------------------------------------
    def changes(self, token: str | None) -> Changes:
        now = self.clock()
        if token is None:
            return self._round(self._list(self._list_id).id, None, now)
        remembered = ListToken.decode(token)
        checked = remembered.checked
        if check_due(checked, now, self.folder_check_every):
            folder, checked = self._list(remembered.list), now
        else:  # taken to be there still (no request)
            folder = Folder(remembered.list)
            self._list_id = folder.id
        if folder.id == remembered.list:
            try:
                return self._round(folder.id, remembered.link, checked)
            except Gone:
                # The list was deleted outright: look for it (or one to take its place) at once
                folder, checked = self._list(remembered.list), now
                if folder.id == remembered.list:
                    raise
        # The list vanished: list the one that took its place in full (rule 7).
        return self._round(folder.id, None, checked, replaced=folder.replaced)

    def _round(
        self, list_id: str, link: str | None, checked: float | None, *, replaced: bool = False
    ) -> Changes:
        found = self.client.delta(f"{self._tasks(list_id)}/delta", EXPAND, link)
        entries: dict[str, Entry] = {}
        for data in found.items:  # a round may repeat an item: its last answer stands
            entry = entry_of(data)
            entries[entry.id] = entry
        token = ListToken(list_id, found.link, checked).encode()
        full = link is None
        return Changes(list(entries.values()), [] if full else found.removed, token, full, replaced=replaced)

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        if not ids:
            return {}
        list_id = self._list_now()
        query = "?" + "&".join(f"{k}={v}" for k, v in EXPAND.items())
        requests = [SubRequest(str(n), "GET", self._task(list_id, i) + query) for n, i in enumerate(ids)]
        out: dict[str, Record] = {}
        for ident, answer in zip(ids, self.client.batch(requests), strict=True):
            if answer.status == 404:
                continue
            if answer.status >= 400 or not isinstance(answer.body, dict):
                raise self.client.error_for(answer, f"reading To Do task {ident}")
            out[ident] = replace(record_of(answer.body, self.local), id=ident)
        return out

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        found: dict[str, list[Record]] = {stamp: [] for stamp in stamps}
        if not stamps:
            return found
        tasks = self.client.get_all(self._tasks(self._list_now()), EXPAND)
        # Oldest first: the original before a user's copies (rule 6); the listing's order breaks ties.
        order = sorted(range(len(tasks)), key=lambda n: (str(tasks[n].get("createdDateTime") or ""), n))
        for n in order:
            stamp = stamp_of(tasks[n])
            if stamp in found:
                found[stamp].append(record_of(tasks[n], self.local))
        return found

    # -- writing --------------------------------------------------------------------------------------
    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        if not writes:
            return []
        list_id = self._list_now()
        outcomes: dict[int, Outcome] = {}
        current = self._current(list_id, writes, outcomes)
        requests: list[SubRequest] = []
        where: list[int] = []
        for n, write in enumerate(writes):
            if n in outcomes:
                continue
            try:
                requests.append(self._request(list_id, n, write, current.get(n)))
            except ValueError as exc:  # a value the canonical model refuses (pydantic's errors included)
                outcomes[n] = Rejected(f"To Do task {_target(write)}: {reason(exc)}")
                continue
            where.append(n)
        for n, answer in zip(where, self.client.batch(requests), strict=True):
            outcomes[n] = self._outcome(writes[n], answer)
        return [outcomes[n] for n in range(len(writes))]

    def _current(self, list_id: str, writes: Sequence[Write], outcomes: dict[int, Outcome]) -> dict[int, Any]:
        """The tasks as they are now, for the updates that map onto them; a task that is gone, or changed
        since the version the update expects, is answered here without writing."""
        wanted = [(n, w) for n, w in enumerate(writes) if isinstance(w, Update) and needs_current(w.patch)]
        requests = [SubRequest(str(n), "GET", self._task(list_id, w.id)) for n, w in wanted]
        current: dict[int, Any] = {}
        for (n, write), answer in zip(wanted, self.client.batch(requests), strict=True):
            if answer.status >= 400 or not isinstance(answer.body, dict):
                outcomes[n] = self.client.error_for(answer, f"reading To Do task {write.id} to update it")
            elif write.version and version_of(answer.body) != write.version:
                outcomes[n] = VersionConflict(f"To Do task {write.id} changed since it was read")
            else:
                current[n] = answer.body
        return current

    def _request(self, list_id: str, n: int, write: Write, current: Mapping[str, Any] | None) -> SubRequest:
        if isinstance(write, Create):
            if not isinstance(write.item, Task):
                raise ValueError(f"a {type(write.item).__name__} is not a task")
            return SubRequest(
                str(n), "POST", self._tasks(list_id), create_body(write.item, write.stamp, self.local)
            )
        url = self._task(list_id, write.id)
        headers = {"If-Match": write.version} if write.version else {}
        if isinstance(write, Update):
            return SubRequest(str(n), "PATCH", url, patch_body(write.patch, current, self.local), headers)
        return SubRequest(str(n), "DELETE", url, headers=headers)

    def _outcome(self, write: Write, answer: GraphResponse) -> Outcome:
        if isinstance(write, Delete):
            if answer.status < 400 or answer.status == 404:
                return Deleted(write.id)  # gone already counts as done
            return self.client.error_for(answer, f"deleting To Do task {write.id}")
        if answer.status >= 400 or not isinstance(answer.body, dict):
            return self.client.error_for(answer, f"writing To Do task {_target(write)}")
        version = version_of(answer.body) or str(answer.headers.get("etag") or "")
        ident = write.id if isinstance(write, Update) else str(answer.body["id"])
        return Written(ident, version)


def _segment(ident: str) -> str:
    """An id as one path segment (ids may hold "/", "+" or "=")."""
    return quote(ident, safe="")


def _target(write: Write) -> str:
    return f"for {write.stamp}" if isinstance(write, Create) else write.id
