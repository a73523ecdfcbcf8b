"""Collections: `$filter`, `$orderby`, `$top`/`$skip` paging with `@odata.nextLink`; and delta rounds
with `@odata.nextLink` pages, an `@odata.deltaLink` at the end and `@removed` tombstones.

A delta token stands for a snapshot `{id: version}` of what the client has seen, kept server-side (as
Graph keeps its sync state); a round compares the collection now with that snapshot. That one rule covers
new, changed and deleted items, items that moved out of a folder and occurrences that left a window.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from exsync.sandbox import odata
from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import bad_request, sync_state_not_found
from exsync.sandbox.http import Response
from exsync.sandbox.ids import token
from exsync.sandbox.render import check_select, present
from exsync.sandbox.store import DeltaState

DEFAULT_PAGE = 10
MAX_PAGE = 1000


def page_size(ctx: Ctx, default: int = DEFAULT_PAGE) -> int:
    preferred = ctx.req.prefer().get("odata.maxpagesize")
    raw = ctx.req.query.get("$top") or preferred
    if not raw:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise bad_request(f"Invalid page size '{raw}': a positive integer is expected.") from None
    if size < 1:
        raise bad_request(f"Invalid page size '{raw}': a positive integer is expected.")
    return min(size, MAX_PAGE)


def collection(
    ctx: Ctx, kind: str, resources: Iterable[dict[str, Any]], context: str | None = None
) -> Response:
    """One page of a plain collection. `resources` are full renderings (see render.full)."""
    query = ctx.req.query
    select = odata.parse_select(query.get("$select"))
    check_select(kind, select)
    expand = odata.parse_expand(query.get("$expand"))
    items = list(resources)
    if query.get("$filter"):
        predicate = odata.parse_filter(query["$filter"])
        items = [r for r in items if predicate(r)]
    for path, descending in reversed(odata.parse_orderby(query.get("$orderby"))):
        items.sort(key=odata.sort_key(path), reverse=descending)
    skip = _int_option(query.get("$skip"), "$skip")
    size = page_size(ctx)
    page = items[skip : skip + size]
    body: dict[str, Any] = {"@odata.context": context or ctx.context_url(kind)}
    if query.get("$count", "").lower() == "true":
        body["@odata.count"] = len(items)
    if skip + size < len(items):
        rest = {k: v for k, v in query.items() if k != "$skip"}
        rest["$skip"] = str(skip + size)
        if "$top" not in rest:
            rest["$top"] = str(size)
        body["@odata.nextLink"] = f"{ctx.req.base_url}/v1.0{ctx.path}?{urlencode(rest, safe='$')}"
    body["value"] = [present(r, select, expand) for r in page]
    return Response(200, body)


def _int_option(raw: str | None, name: str) -> int:
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid value '{raw}' for {name}: an integer is expected.") from None
    if value < 0:
        raise bad_request(f"Invalid value '{raw}' for {name}: it must not be negative.")
    return value


# -- delta ------------------------------------------------------------------------------------------

# One entry of a delta source: (immutable id, version, id as shown, full rendering on demand).
Entry = tuple[str, int | str, str, Callable[[], dict[str, Any]]]


@dataclass
class DeltaSource:
    scope: str  # the collection: a folder, a To Do list, a calendar view of one mailbox
    odata_type: str  # "#microsoft.graph.contact"
    entries: Callable[[dict[str, Any]], list[Entry]]  # given the round's options
    typed: bool = True  # Outlook items carry @odata.type in delta answers; To Do's do not


@dataclass
class _Round:
    pages: list[dict[str, Any]]


class Rounds:
    """Pages of rounds in progress, so a replayed nextLink answers the same page again."""

    def __init__(self, keep: int = 256) -> None:
        self._rounds: OrderedDict[str, _Round] = OrderedDict()
        self._keep = keep

    def add(self, key: str, pages: list[dict[str, Any]]) -> None:
        self._rounds[key] = _Round(pages)
        while len(self._rounds) > self._keep:
            self._rounds.popitem(last=False)

    def page(self, skiptoken: str) -> dict[str, Any] | None:
        key, _, number = skiptoken.rpartition(".")
        found = self._rounds.get(key)
        if found is None or not number.isdigit() or int(number) >= len(found.pages):
            return None
        self._rounds.move_to_end(key)  # a round being paged through is the last to be forgotten
        return found.pages[int(number)]

    def clear(self) -> None:
        self._rounds.clear()


def delta(ctx: Ctx, source: Callable[[dict[str, Any]], DeltaSource], options: dict[str, Any]) -> Response:
    """Answer a delta request: a page of a round in progress, or the first page of a new round."""
    query = ctx.req.query
    rounds = ctx.sandbox.rounds
    if "$skiptoken" in query:
        replay = rounds.page(query["$skiptoken"])
        if replay is None:
            raise sync_state_not_found()
        return Response(200, replay)
    seen: dict[str, list[Any]] = {}
    latest = False
    state: DeltaState | None = None
    if "$deltatoken" in query:
        if query["$deltatoken"].lower() == "latest":
            latest = True
        else:
            state = ctx.store.deltas.get(query["$deltatoken"])
            if state is None:
                raise sync_state_not_found()
            options, seen = state.options, state.seen
    src = source(options)
    if state is not None and state.scope != src.scope:  # a token of another collection
        raise sync_state_not_found()
    select = options.get("select")
    expand = odata.parse_expand(options.get("expand"))
    check_select(src.odata_type.rsplit(".", 1)[-1], select)
    size = int(options.get("page_size") or DEFAULT_PAGE)

    typed = {"@odata.type": src.odata_type} if src.typed else {}
    # message delta's custom option changeType: later rounds report only created, updated or deleted items
    wanted = options.get("change_type") if "$deltatoken" in query else None
    now_seen: dict[str, list[Any]] = {}
    changed: list[dict[str, Any]] = []
    for item_id, version, shown, render in src.entries(options):
        now_seen[item_id] = [version, shown]
        kind = "created" if item_id not in seen else "updated" if seen[item_id][0] != version else None
        if not latest and kind is not None and wanted in (None, kind):
            changed.append(present(render(), select, expand, odata_type=typed.get("@odata.type")))
    removed = (
        []
        if latest or wanted not in (None, "deleted")
        else [
            {**typed, "id": shown, "@removed": {"reason": "deleted"}}
            for item_id, (_version, shown) in seen.items()
            if item_id not in now_seen
        ]
    )
    values = removed + changed
    round_key = token()
    new_token = token()
    ctx.store.save_delta(new_token, DeltaState(src.scope, options, now_seen, time.time()))
    base = f"{ctx.req.base_url}/v1.0{ctx.path}"
    context = f"{ctx.req.base_url}/v1.0/$metadata#Collection({src.odata_type.rsplit('.', 1)[-1]})"
    chunks = [values[i : i + size] for i in range(0, len(values), size)] or [[]]
    pages: list[dict[str, Any]] = []
    for number, chunk in enumerate(chunks):
        page: dict[str, Any] = {"@odata.context": context}
        if number + 1 < len(chunks):
            page["@odata.nextLink"] = f"{base}?$skiptoken={round_key}.{number + 1}"
        else:
            page["@odata.deltaLink"] = f"{base}?$deltatoken={new_token}"
        page["value"] = chunk
        pages.append(page)
    if len(pages) > 1:  # a one-page round has no nextLink to replay: keep the room for rounds in progress
        rounds.add(round_key, pages)
    return Response(200, pages[0])


def delta_options(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    """The options a new delta round is made with; later rounds reuse them from the token."""
    return {
        "select": odata.parse_select(ctx.req.query.get("$select")),
        "expand": ctx.req.query.get("$expand"),
        "page_size": page_size(ctx),
        **extra,
    }
