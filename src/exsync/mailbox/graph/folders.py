"""Finding a part's folder or list again: by the id remembered from the last run, else by its name, else a
new one (DESIGN.md rule 7). Generic over Graph collections of folders (`contactFolders`, `todo/lists`).

The remembered id is looked for in the collection's listing rather than read with a GET: Exchange moves a
deleted folder to Deleted Items, where a GET by id still finds it (and its delta link still answers), but it
is no longer in the listing. That listing costs a request, so with a delta link in hand it runs only when
due (``check_due``): a folder deleted outright is noticed at once all the same, its delta link answering 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from exsync.connector.errors import Rejected
from exsync.mailbox.graph.client import GraphClient


@dataclass(frozen=True, slots=True)
class Folder:
    id: str
    # The remembered folder is gone and this one took its place (adopted by name, or created): what the old
    # one held was lost with it, never deleted by the user.
    replaced: bool = False


def check_due(checked: float | None, now: float, every: float) -> bool:
    """Whether the folder is to be looked for in the listing again: it never was (``checked`` None), the last
    look is ``every`` seconds old or more, or it lies in the future (a clock set back)."""
    return checked is None or not checked <= now < checked + every


def find_or_create(
    client: GraphClient, collection: str, name_property: str, name: str, remembered: str | None = None
) -> Folder:
    """The folder of ``collection`` (a path such as ``f"{client.root}/contactFolders"``) that ``remembered``
    names, else the first called ``name`` (an exact match before a case-insensitive one), else a new one
    called ``name``."""
    found = _lookup(client, collection, name_property, name, remembered)
    if found is not None:
        return found
    lost = remembered is not None
    try:
        created = client.post(collection, {name_property: name})
    except Rejected:
        # Another run created it meanwhile (409 ErrorFolderExists): adopt that one.
        again = _lookup(client, collection, name_property, name, None)
        if again is None:
            raise
        return Folder(again.id, lost)
    return Folder(str(created["id"]), lost)


def _lookup(
    client: GraphClient, collection: str, name_property: str, name: str, remembered: str | None
) -> Folder | None:
    listed = client.get_all(collection, {"$select": f"id,{name_property}"})
    if remembered is not None and any(f.get("id") == remembered for f in listed):
        return Folder(remembered)
    names = [(str(f.get("id")), str(f.get(name_property) or "")) for f in listed]
    match = next((i for i, n in names if n == name), None) or next(
        (i for i, n in names if n.casefold() == name.casefold()), None
    )
    return None if match is None else Folder(match, replaced=remembered is not None)


def checked_of(value: object) -> float | None:
    """The time of the last check as a token holds it; None (due) for anything but a number."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
