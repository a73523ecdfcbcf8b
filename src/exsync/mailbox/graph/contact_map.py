"""Graph contact JSON ↔ the canonical ``Contact``: pure functions, usable without a client.

Writing maps canonical fields onto the item as Graph holds it (``to_graph``): only Graph properties whose
value changes are sent, and what sync does not own survives — a user's nickName or imAddresses (never
sent), the display names of e-mail addresses already there, a second home phone, the parts of the
business address a patch does not name. Graph holds at most 3 e-mail addresses and 2 business phones
(``LIMITS``); more are cut here and the engine keeps the overflow in the business row.

Birthdays are floating dates (SCENARIOS 58). Graph's ``birthday`` is a DateTimeOffset in UTC; Exchange
writes it at 11:59 UTC so that the date reads the same in every zone, and its ActiveSync specification
says the time part "SHOULD be ignored" (MS-ASCNTC, Birthday). Outlook desktop instead stores local
midnight converted to UTC ("1980-07-17T22:00:00Z" for 18 July in UTC+2), so a date is read as the one of
the nearest midnight: right for every zone from UTC-11:59 to UTC+12, and for Exchange's own 11:59.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exsync.mailbox.graph.client import KEY_PROPERTY
from exsync.model import Contact

LIMITS: dict[str, int] = {"emails": 3, "business_phones": 2}  # mobilePhone holds one: a single field

SIMPLE: dict[str, str] = {
    "first_name": "givenName",
    "last_name": "surname",
    "title": "title",
    "job_title": "jobTitle",
    "department": "department",
    "company": "companyName",
    "mobile_phone": "mobilePhone",
    "notes": "personalNotes",
}
ADDRESS: dict[str, str] = {  # canonical field -> property of Graph's physicalAddress
    "street": "street",
    "city": "city",
    "region": "state",
    "postal_code": "postalCode",
    "country": "countryOrRegion",
}
# Every Graph property the mapping reads or writes (a $select for reading an item before patching it).
PROPERTIES: tuple[str, ...] = (
    *SIMPLE.values(),
    "emailAddresses",
    "businessPhones",
    "homePhones",
    "businessAddress",
    "birthday",
    "categories",
)
BIRTHDAY_TIME = "T11:59:00Z"  # Exchange's time of day for a birthday (see the module docstring)
# $expand that brings the correlation key along with an item (and nothing of other extended properties).
EXPAND_KEY = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"


# -- reading --------------------------------------------------------------------------------------------
def contact_from_graph(data: Mapping[str, Any], marker: str | None = None) -> Contact:
    """The canonical contact of a Graph contact. ``marker``: the category that marks sync's contacts in the
    default folder, which is bookkeeping and left out of ``categories``. Raises ValueError when a value
    cannot be read."""
    address = data.get("businessAddress") or {}
    if not isinstance(address, Mapping):
        raise ValueError("businessAddress is not an object")
    homes = _list(data, "homePhones")
    return Contact(
        **{field: data.get(prop) for field, prop in SIMPLE.items()},
        emails=[e.get("address") for e in _list(data, "emailAddresses") if isinstance(e, Mapping)],
        business_phones=_list(data, "businessPhones"),
        home_phone=homes[0] if homes else "",
        **{field: address.get(prop) for field, prop in ADDRESS.items()},
        birthday=birthday_from_graph(data.get("birthday")),
        categories=[c for c in _list(data, "categories") if not _is_marker(c, marker)],
    )


def birthday_from_graph(value: object) -> str:
    """``YYYY-MM-DD`` of a Graph birthday: the date of the nearest midnight in UTC ("" for none)."""
    if value is None or value == "":
        return ""
    text = str(value).strip()
    if len(text) <= 10:
        return date.fromisoformat(text).isoformat()
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return (moment + timedelta(hours=12)).date().isoformat()


def version_of(data: Mapping[str, Any]) -> str:
    """An Outlook item's version: its changeKey (the inside of its weak ETag when that is all there is)."""
    key = data.get("changeKey")
    if key:
        return str(key)
    etag = str(data.get("@odata.etag") or "")
    return etag.removeprefix("W/").strip('"')


def stamp_of(data: Mapping[str, Any]) -> str | None:
    """The correlation key an item carries (its ``exsync-key`` extended property, when expanded)."""
    for prop in data.get("singleValueExtendedProperties") or ():
        if isinstance(prop, Mapping) and _same_property(str(prop.get("id", ""))) and prop.get("value"):
            return str(prop["value"])
    return None


def has_marker(data: Mapping[str, Any], marker: str) -> bool:
    return any(_is_marker(c, marker) for c in _list(data, "categories"))


# -- writing --------------------------------------------------------------------------------------------
def to_graph(
    fields: Mapping[str, Any], current: Mapping[str, Any] | None = None, marker: str | None = None
) -> dict[str, Any]:
    """The Graph properties to PATCH so that ``current`` (the item as Graph holds it) carries ``fields``
    (canonical name -> normalised value): only the properties whose value changes. Unset values are sent
    as null. Raises ValueError for a name that is not a contact field."""
    current = current or {}
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name in SIMPLE:
            out[SIMPLE[name]] = value or None
        elif name in ADDRESS:
            address = dict(out.get("businessAddress") or current.get("businessAddress") or {})
            address.update({prop: address.get(prop) or None for prop in ADDRESS.values()})
            address[ADDRESS[name]] = value or None
            out["businessAddress"] = address
        elif name == "emails":
            out["emailAddresses"] = _email_addresses(value, current)
        elif name == "business_phones":
            out["businessPhones"] = list(value)[: LIMITS["business_phones"]]
        elif name == "home_phone":  # the first home phone; a second one the user keeps survives
            out["homePhones"] = [p for p in (value, *_list(current, "homePhones")[1:]) if p]
        elif name == "birthday":
            out["birthday"] = birthday_to_graph(value)
        elif name == "categories":
            out["categories"] = _categories(value, current, marker)
        else:
            raise ValueError(f"{name!r} is not a contact field")
    return {prop: value for prop, value in out.items() if not _same(prop, value, current.get(prop))}


def create_body(contact: Contact, stamp: str, marker: str | None = None) -> dict[str, Any]:
    """A new Graph contact carrying ``contact`` and the correlation key ``stamp`` (and ``marker``)."""
    body = {prop: _compact(value) for prop, value in to_graph(contact.projection(), {}, marker).items()}
    body["singleValueExtendedProperties"] = [{"id": KEY_PROPERTY, "value": stamp}]
    return body


def birthday_to_graph(day: str) -> str | None:
    return f"{date.fromisoformat(day).isoformat()}{BIRTHDAY_TIME}" if day else None


# -- helpers ---------------------------------------------------------------------------------------------
def _list(data: Mapping[str, Any], prop: str) -> list[Any]:
    value = data.get(prop)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{prop} is not an array")
    return value


def _is_marker(category: object, marker: str | None) -> bool:
    return marker is not None and str(category).strip().casefold() == marker.casefold()


def _same_property(property_id: str) -> bool:
    # Exchange may answer the id in its own spelling (case of the type and the GUID, spacing)
    return " ".join(property_id.split()).casefold() == KEY_PROPERTY.casefold()


def _email_addresses(addresses: Sequence[str], current: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Graph's emailAddresses: the first three addresses, each keeping the display name it has."""
    names = {
        str(e.get("address") or "").casefold(): e.get("name")
        for e in _list(current, "emailAddresses")
        if isinstance(e, Mapping)
    }
    return [
        {"name": names.get(address.casefold()) or address, "address": address}
        for address in list(addresses)[: LIMITS["emails"]]
    ]


def _categories(values: Sequence[str], current: Mapping[str, Any], marker: str | None) -> list[str]:
    out = [v for v in values if not _is_marker(v, marker)]
    if marker is not None:  # the marker as the item spells it, else as configured
        out.append(next((str(c) for c in _list(current, "categories") if _is_marker(c, marker)), marker))
    return out


def _same(prop: str, new: Any, old: Any) -> bool:
    if prop == "birthday":
        return birthday_from_graph(new) == _birthday_or_none(old)
    return bool(_compact(new) == _compact(old))


def _birthday_or_none(value: Any) -> str | None:
    try:
        return birthday_from_graph(value)
    except ValueError:
        return None  # an unreadable birthday differs from any we write


def _compact(value: Any) -> Any:
    """``value`` with null, empty strings and empty collections dropped (they all mean "not set")."""
    if isinstance(value, Mapping):
        kept = {k: _compact(v) for k, v in value.items()}
        value = {k: v for k, v in kept.items() if v is not None}
    elif isinstance(value, list):
        value = [_compact(v) for v in value]
    return value if value not in ("", [], {}) else None
