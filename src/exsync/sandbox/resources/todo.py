"""Microsoft To Do: task lists, tasks and their linked resources under `/users/{id}/todo/lists`, the lists'
delta and each list's task delta.

To Do answers differently from Outlook's REST surface, and the sandbox follows it (sources in brackets;
"docs" is microsoft-graph-docs-contrib, api-reference/v1.0):
- no `changeKey`; `@odata.etag` only; created/lastModifiedDateTime with 7 fractional digits, and unset
  properties are left out rather than sent as null [docs todotask-delta.md, todotasklist-list-tasks.md,
  todotasklist-post-tasks.md examples];
- delta items and tombstones carry no `@odata.type` [todotask-delta.md, todotasklist-delta.md examples];
- the built-in lists (Tasks, Flagged Emails) cannot be renamed or deleted [resources/todotasklist.md]; a
  rename answers 400 invalidRequest "A default task folder can't be renamed." [microsoft-graph-docs-contrib
  issue #2486]; a list name already taken gets " (1)", " (2)"… appended [pnp/cli-microsoft365 #1610];
- dueDateTime, startDateTime and completedDateTime are dates: To Do keeps the date the client gave, at
  midnight of the client's zone, and answers it in UTC: "2020-07-25T16:00 Eastern" comes back as
  "…T04:00:00.0000000" UTC [docs todotask-update.md example; microsoft-graph-docs-contrib #2136: a GMT time
  of day comes back as 00:00; RogerSelwyn/MS365-ToDo #29: 2024-10-24 in UTC-10 comes back as
  2024-10-24T10:00 UTC, in UTC+14 as 2024-10-23T10:00 UTC]; reminderDateTime keeps its time of day;
- completing a task stamps completedDateTime with the day's midnight UTC [microsoft-graph-docs-contrib
  #8664: always "UTC midnight"]; a status other than completed clears it;
- `Prefer: outlook.timezone` converts the date-times shown, naming the zone the Windows way [#8664];
- a task created with more than one linked resource is refused: 400 invalidRequest "Only one item in
  linkedResources is allowed." [microsoft-graph-docs issue #12699]; linked resources have GUID ids.
A linked resource lives inside its task, so changing one is a change of the task (new etag, next delta).
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from exsync.model.zones import UnknownZone, iana_to_windows, zone
from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import GraphError, bad_request, not_found
from exsync.sandbox.http import Response
from exsync.sandbox.listing import DeltaSource, Entry, collection, delta, delta_options
from exsync.sandbox.odata import Expand
from exsync.sandbox.properties import DEFAULTS
from exsync.sandbox.render import DECORATORS, full, merge_into, present
from exsync.sandbox.resources import common
from exsync.sandbox.router import route
from exsync.sandbox.store import Item

PART = "tasks"
LISTS = "/users/{user-id}/todo/lists"
LIST = LISTS + "/{todoTaskList-id}"
TASKS = LIST + "/tasks"
TASK = TASKS + "/{todoTask-id}"
LINKS = TASK + "/linkedResources"
LINK = LINKS + "/{linkedResource-id}"

STATUSES = frozenset({"notStarted", "inProgress", "completed", "waitingOnOthers", "deferred"})
IMPORTANCES = frozenset({"low", "normal", "high"})
DATE_ONLY = ("dueDateTime", "startDateTime", "completedDateTime")
DATE_TIMES = (*DATE_ONLY, "reminderDateTime")
# The service's own values: clients send them back (the docs even list them for create); To Do ignores them.
COMPUTED = ("createdDateTime", "lastModifiedDateTime", "bodyLastModifiedDateTime", "hasAttachments")
# Graph is lenient about the fraction ("04:10:0005112" is accepted); the date and time of day are what count.
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.?\d*))?)?Z?$")
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$")


def _refused(message: str) -> GraphError:
    """To Do's own error code for a request it refuses (not Exchange's ErrorInvalidRequest)."""
    return GraphError(400, "invalidRequest", message)


# -- time ---------------------------------------------------------------------------------------------------
def _stamp(moment: datetime | None = None) -> str:
    """A To Do timestamp: UTC with 7 fractional digits, as in "2020-08-12T04:54:29.1925206Z"."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _seven(stamp: str) -> str:
    """A stored timestamp (any precision) with the 7 fractional digits To Do shows."""
    match = _STAMP.match(stamp or "")
    if match is None:
        return stamp
    return f"{match.group(1)}.{(match.group(2) or '')[:7].ljust(7, '0')}Z"


def _wall(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000"


def _zone(name: Any) -> ZoneInfo:
    if name is None or name == "":
        return ZoneInfo("UTC")
    if not isinstance(name, str):
        raise bad_request("'timeZone' must be a string.")
    try:
        return zone(name)
    except UnknownZone:
        raise bad_request(
            "A valid TimeZone value must be specified. "
            f"The following TimeZone value is not supported: '{name}'.",
            "TimeZoneNotSupportedException",
        ) from None


def _to_utc(key: str, value: Any) -> dict[str, str]:
    """A client's dateTimeTimeZone as To Do keeps it: in UTC, a date field at midnight of its own zone."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise bad_request(f"'{key}' must be a dateTimeTimeZone object with a 'dateTime' string.")
    match = _DATE_TIME.match(value["dateTime"].strip())
    if match is None:
        raise bad_request(
            f"The value '{value['dateTime']}' of parameter 'DateTime' is invalid.", "InvalidDateTime"
        )
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        day_of = date(year, month, day)
        clock = time(0) if key in DATE_ONLY else time(hour, minute, second)
    except ValueError:
        raise bad_request(
            f"The value '{value['dateTime']}' of parameter 'DateTime' is invalid.", "InvalidDateTime"
        ) from None
    local = datetime.combine(day_of, clock, tzinfo=_zone(value.get("timeZone")))
    return {"dateTime": _wall(local.astimezone(UTC)), "timeZone": "UTC"}


def _shown_zone(ctx: Ctx) -> tuple[str, ZoneInfo] | None:
    """The zone `Prefer: outlook.timezone` asks for (Windows name, zone); None for UTC or an unknown name."""
    raw = ctx.req.prefer().get("outlook.timezone", "").strip().strip("'\"")
    if not raw:
        return None
    try:
        return iana_to_windows(raw), zone(raw)
    except UnknownZone:
        return None


# -- rendering ----------------------------------------------------------------------------------------------
def _decorate_task(ctx: Ctx, item: Item, out: dict[str, Any]) -> None:
    out["createdDateTime"] = _seven(item.created)
    out["lastModifiedDateTime"] = _seven(item.modified)
    if isinstance(out.get("bodyLastModifiedDateTime"), str):
        out["bodyLastModifiedDateTime"] = _seven(out["bodyLastModifiedDateTime"])
    shown = _shown_zone(ctx)
    if shown is not None:
        name, tz = shown
        for key in DATE_TIMES:
            value = out.get(key)
            if isinstance(value, dict) and isinstance(value.get("dateTime"), str):
                utc = datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=UTC)
                out[key] = {"dateTime": _wall(utc.astimezone(tz)), "timeZone": name}
    for key in [k for k, v in out.items() if v is None]:
        del out[key]  # To Do leaves unset properties out


DECORATORS["todoTask"] = _decorate_task


def _context(ctx: Ctx, tail: str) -> str:
    return f"{ctx.req.base_url}/v1.0/$metadata#users('{ctx.params.get('user-id', '')}')/todo/{tail}"


def _list_path(ctx: Ctx) -> str:
    return f"lists('{ctx.params['todoTaskList-id']}')"


def _answer(
    ctx: Ctx, item: Item, context: str, status: int = 200, expand: list[Expand] | None = None
) -> Response:
    body = present(full(ctx, item), ctx.select(item.kind), [*ctx.expand(), *(expand or [])])
    return Response(status, {"@odata.context": context, **body})


# -- lookups ------------------------------------------------------------------------------------------------
def _list(ctx: Ctx) -> Item:
    return ctx.item("todoTaskList-id", "todoTaskList")


def _task(ctx: Ctx) -> Item:
    task_list = _list(ctx)
    task = ctx.item("todoTask-id", "todoTask")
    if task.parent != task_list.id:
        raise not_found()
    return task


def _lists(ctx: Ctx) -> list[Item]:
    return list(ctx.store.owned(ctx.mailbox.id, "todoTaskList"))


# -- lists --------------------------------------------------------------------------------------------------
def _free_name(ctx: Ctx, name: Any, skip: Item | None = None) -> str:
    """The name a new (or renamed) list gets: To Do appends " (1)", " (2)"… to a name already taken."""
    if not isinstance(name, str) or not name.strip():
        raise _refused("'displayName' is required and must be a non-empty string.")
    taken = {str(i.data.get("displayName", "")).casefold() for i in _lists(ctx) if i is not skip}
    candidate, number = name, 0
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{name} ({number})"
    return candidate


def _prepare_list(ctx: Ctx, item: Item, body: dict[str, Any]) -> None:
    # isOwner, isShared and wellknownListName are the service's to say, whatever a client sends
    item.data.update(isOwner=True, isShared=False, wellknownListName="none")


@route("GET", LISTS, PART)
def list_lists(ctx: Ctx) -> Response:
    return collection(ctx, "todoTaskList", (full(ctx, i) for i in _lists(ctx)), _context(ctx, "lists"))


@route("POST", LISTS, PART)
def create_list(ctx: Ctx) -> Response:
    body = ctx.json()
    body["displayName"] = _free_name(ctx, body.get("displayName"))
    item = common.create(ctx, "todoTaskList", "", body, _prepare_list)
    return _answer(ctx, item, _context(ctx, "lists/$entity"), 201)


@route("GET", "/users/{user-id}/todo/lists/delta", PART)
def lists_delta(ctx: Ctx) -> Response:
    def source(options: dict[str, Any]) -> DeltaSource:
        def entries(_: dict[str, Any]) -> list[Entry]:
            return [(i.id, i.version, ctx.shown_id(i), functools.partial(full, ctx, i)) for i in _lists(ctx)]

        return DeltaSource(f"todoTaskList:{ctx.mailbox.id}", "#microsoft.graph.todoTaskList", entries, False)

    return delta(ctx, source, delta_options(ctx))


@route("GET", LIST, PART)
def get_list(ctx: Ctx) -> Response:
    return _answer(ctx, _list(ctx), _context(ctx, "lists/$entity"))


@route("PATCH", LIST, PART)
def update_list(ctx: Ctx) -> Response:
    task_list = _list(ctx)
    body = ctx.json()
    built_in = task_list.data.get("wellknownListName", "none") != "none"
    if "displayName" in body and body["displayName"] != task_list.data.get("displayName"):
        if built_in:
            raise _refused("Your request can't be completed. A default task folder can't be renamed.")
        body["displayName"] = _free_name(ctx, body["displayName"], skip=task_list)
    for key in ("isOwner", "isShared", "wellknownListName"):
        body.pop(key, None)
    return _answer(ctx, common.update(ctx, task_list, body), _context(ctx, "lists/$entity"))


@route("DELETE", LIST, PART)
def delete_list(ctx: Ctx) -> Response:
    task_list = _list(ctx)
    if task_list.data.get("wellknownListName", "none") != "none":
        raise _refused("Your request can't be completed. A default task folder can't be deleted.")
    return common.delete(ctx, task_list)


# -- tasks --------------------------------------------------------------------------------------------------
def _prepare_task(ctx: Ctx, item: Item, body: dict[str, Any]) -> None:
    """Check a client's values and fill what To Do computes (the defaults only for a new task)."""
    data = item.data
    now = _stamp()
    if not item.created:  # a new task: the service's defaults
        item.created = item.modified = now
        data.setdefault("body", {"content": "", "contentType": "text"})
        data.setdefault("bodyLastModifiedDateTime", now)
        data["hasAttachments"] = False
    if data.get("status", "notStarted") not in STATUSES:
        raise bad_request(f"Invalid value '{data.get('status')}' for 'status'.")
    if data.get("importance", "normal") not in IMPORTANCES:
        raise bad_request(f"Invalid value '{data.get('importance')}' for 'importance'.")
    if "body" in body:
        text = body["body"]
        if not isinstance(text, dict) or str(text.get("contentType", "text")).lower() not in ("text", "html"):
            raise bad_request("'body' must be an itemBody: {content, contentType text or html}.")
        data["body"] = {
            "content": text.get("content") or "",
            "contentType": str(text.get("contentType", "text")).lower(),
        }
        data["bodyLastModifiedDateTime"] = now
    categories = data.get("categories")
    if categories is not None and (
        not isinstance(categories, list) or not all(isinstance(c, str) for c in categories)
    ):
        raise bad_request("'categories' must be an array of strings.")
    for key in DATE_TIMES:
        if key in body:
            data[key] = None if body[key] is None else _to_utc(key, body[key])
    if data.get("status") == "completed":
        if not data.get("completedDateTime"):
            midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
            data["completedDateTime"] = {"dateTime": _wall(midnight), "timeZone": "UTC"}
    else:
        data["completedDateTime"] = None
    if "linkedResources" in body:
        links = body["linkedResources"]
        if not isinstance(links, list):
            raise bad_request("'linkedResources' must be an array of linkedResource objects.")
        data["linkedResources"] = [_linked_resource(link) for link in links]


def _client_values(ctx: Ctx) -> dict[str, Any]:
    return {k: v for k, v in ctx.json().items() if k not in COMPUTED}


def _linked_resource(body: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """A linked resource from a client's JSON (known properties only), with its GUID id."""
    if not isinstance(body, dict):
        raise bad_request("A linkedResource must be a JSON object.")
    holder = Item("", "linkedResource", "", "", dict(current or {}))
    merge_into(holder, body)
    fields = {key: holder.data.get(key) for key in DEFAULTS["linkedResource"]}
    return {"id": (current or {}).get("id") or str(uuid.uuid4()), **fields}


@route("GET", TASKS, PART)
def list_tasks(ctx: Ctx) -> Response:
    task_list = _list(ctx)
    tasks = (full(ctx, t) for t in ctx.store.children(task_list.id, "todoTask"))
    return collection(ctx, "todoTask", tasks, _context(ctx, f"{_list_path(ctx)}/tasks"))


@route("POST", TASKS, PART)
def create_task(ctx: Ctx) -> Response:
    task_list = _list(ctx)
    body = _client_values(ctx)
    links = body.get("linkedResources")
    if isinstance(links, list) and len(links) > 1:
        raise _refused("Only one item in linkedResources is allowed.")
    task = common.create(ctx, "todoTask", task_list.id, body, _prepare_task)
    # the docs' example answers a task created with a linked resource with the resource included
    shown = [Expand("linkedResources", None, None)] if links else []
    return _answer(ctx, task, _context(ctx, f"{_list_path(ctx)}/tasks/$entity"), 201, shown)


@route("GET", TASKS + "/delta", PART)
def tasks_delta(ctx: Ctx) -> Response:
    return common.folder_delta(ctx, _list(ctx), "todoTask", typed=False)


@route("GET", TASK, PART)
def get_task(ctx: Ctx) -> Response:
    return _answer(ctx, _task(ctx), _context(ctx, f"{_list_path(ctx)}/tasks/$entity"))


@route("PATCH", TASK, PART)
def update_task(ctx: Ctx) -> Response:
    task = common.update(ctx, _task(ctx), _client_values(ctx), _prepare_task)
    task.modified = _stamp()
    return _answer(ctx, task, _context(ctx, f"{_list_path(ctx)}/tasks/$entity"))


@route("DELETE", TASK, PART)
def delete_task(ctx: Ctx) -> Response:
    return common.delete(ctx, _task(ctx))


# -- linked resources ---------------------------------------------------------------------------------------
def _links_context(ctx: Ctx, entity: bool = False) -> str:
    tail = f"{_list_path(ctx)}/tasks('{ctx.params['todoTask-id']}')/linkedResources"
    return _context(ctx, tail + ("/$entity" if entity else ""))


def _find_link(ctx: Ctx, task: Item) -> dict[str, Any]:
    wanted = ctx.params["linkedResource-id"].lower()
    for link in task.data.get("linkedResources") or []:
        if str(link.get("id", "")).lower() == wanted:
            return dict(link)
    raise not_found()


def _task_changed(ctx: Ctx, task: Item, links: list[dict[str, Any]]) -> None:
    task.data["linkedResources"] = links
    ctx.store.changed(task)
    task.modified = _stamp()


def _link_answer(ctx: Ctx, link: dict[str, Any], status: int = 200) -> Response:
    body = present(link, ctx.select("linkedResource"), [])
    typed = {"@odata.type": "#microsoft.graph.linkedResource"}  # as the docs' examples show it
    return Response(status, {"@odata.context": _links_context(ctx, entity=True), **typed, **body})


@route("GET", LINKS, PART)
def list_links(ctx: Ctx) -> Response:
    links = _task(ctx).data.get("linkedResources") or []
    return collection(ctx, "linkedResource", links, _links_context(ctx))


@route("POST", LINKS, PART)
def create_link(ctx: Ctx) -> Response:
    task = _task(ctx)
    link = _linked_resource(ctx.json())
    _task_changed(ctx, task, [*(task.data.get("linkedResources") or []), link])
    return _link_answer(ctx, link, 201)


@route("GET", LINK, PART)
def get_link(ctx: Ctx) -> Response:
    return _link_answer(ctx, _find_link(ctx, _task(ctx)))


@route("PATCH", LINK, PART)
def update_link(ctx: Ctx) -> Response:
    task = _task(ctx)
    link = _linked_resource(ctx.json(), _find_link(ctx, task))
    links = [link if other["id"] == link["id"] else other for other in task.data["linkedResources"]]
    _task_changed(ctx, task, links)
    return _link_answer(ctx, link)


@route("DELETE", LINK, PART)
def delete_link(ctx: Ctx) -> Response:
    task = _task(ctx)
    gone = _find_link(ctx, task)
    _task_changed(ctx, task, [other for other in task.data["linkedResources"] if other["id"] != gone["id"]])
    return Response(204)
