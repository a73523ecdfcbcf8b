"""Which rows a (profile, part) syncs, as SQL conditions with a reason each (for ``exsync explain``).

Scope = not soft-deleted, the mapping's fixed values, ownership, types and series, the calendar
window, the mapping's filter and WHERE fragment, and the profile's own filter. User-written values
only ever reach SQL as bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text, true

from exsync.business.filters import FilterError, parse_filter
from exsync.business.sql.schema import PartSchema
from exsync.connector import Scope
from exsync.settings import ConfigError, PartSettings


@dataclass(frozen=True)
class Criterion:
    scope: Scope
    reason: str
    condition: ColumnElement[bool]


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    def token(self) -> str:
        return f"{self.first.isoformat()}/{self.last.isoformat()}"


def window_for(settings: PartSettings, today: date) -> Window | None:
    window = getattr(settings, "window", None)
    if window is None:
        return None
    return Window(today - timedelta(days=window.past_days), today + timedelta(days=window.future_days))


def criteria(
    schema: PartSchema, settings: PartSettings, staff_id: int, window: Window | None
) -> list[Criterion]:
    """The conditions a row must meet, in the order a reason is given for one that fails."""
    m, part = schema.map, schema.part
    out: list[Criterion] = []
    if schema.deleted is not None:
        out.append(Criterion(Scope.DELETED, "soft-deleted", func.coalesce(schema.deleted, 0) == 0))
    for column, value in schema.fixed.items():
        out.append(Criterion(Scope.FILTER, f"{column.name} is not {value!r}", column == value))
    if schema.owner is not None and m.owner_scope == "all":
        out.append(Criterion(Scope.FILTER, "belongs to another staff member", schema.owner == staff_id))
    elif schema.owner is not None and schema.private is not None and m.owner_scope == "private":
        mine = or_(func.coalesce(schema.private, 0) == 0, schema.owner == staff_id)
        out.append(Criterion(Scope.FILTER, "a private record of another staff member", mine))
    types = tuple(getattr(settings, "types", ()) or ())
    if schema.type is not None and types:
        out.append(Criterion(Scope.FILTER, f"its type is not in {part}.types ({', '.join(types)})",
                             schema.type.in_(types)))  # fmt: skip
    series = tuple(getattr(settings, "series", ()) or ())
    if schema.series is not None and series:
        out.append(Criterion(Scope.FILTER, f"its series is not in {part}.series ({', '.join(series)})",
                             schema.series.in_(series)))  # fmt: skip
    if window is not None and "start" in schema.fields:
        out.append(Criterion(Scope.WINDOW, f"outside the window {window.first} – {window.last}",
                             _in_window(schema, window)))  # fmt: skip
    known = sorted(schema.filterable)
    resolve = _resolver(schema)
    sources = ((f"the mapping's {part}.filter", f"mapping.{part}.filter", m.filter),
               (f"{part}.filter", f"{part}.filter", settings.filter))  # fmt: skip
    for label, key, source in sources:
        found = _filter_condition(key, source, known, resolve) if source else None
        if found is not None:
            out.append(Criterion(Scope.FILTER, f"outside {label} ({found[0]})", found[1]))
    if m.where:
        inner = select(schema.key).where(text(m.where))
        out.append(Criterion(Scope.FILTER, f"outside the mapping's {part}.where", schema.key.in_(inner)))
    return out


def _in_window(schema: PartSchema, window: Window) -> ColumnElement[bool]:
    """Starts before the window ends and ends after it starts; a series counts from its start on."""
    start = schema.fields["start"].columns[0]
    first, last = window.first.isoformat(), (window.last + timedelta(days=1)).isoformat()
    conditions = [start < last]
    end = schema.fields.get("end")
    # A row without an end ends where it starts (as the reader takes it).
    ends_late = func.coalesce(end.columns[0], start) >= first if end is not None else start >= first
    recurring = schema.fields.get("recurrence")
    if recurring is not None:
        ends_late = or_(ends_late, func.coalesce(recurring.columns[0], "") != "")
    conditions.append(ends_late)
    # A row without a start cannot be placed: it stays in view, so it is reported as unreadable.
    return or_(func.coalesce(start, "") == "", and_(*conditions))


def _resolver(schema: PartSchema) -> Callable[[str], ColumnElement[Any]]:
    companies = schema.companies
    # An alias of its own: the listing may join the companies table too, and must not correlate with it.
    company = companies.table.alias("exsync_filter_company") if companies is not None else None

    def resolve(name: str) -> ColumnElement[Any]:
        if name not in schema.filterable:
            raise KeyError(name)
        if name.startswith("company.") and company is not None and companies is not None:
            assert schema.company_key is not None
            column = company.c[name.removeprefix("company.")]
            match = company.c[companies.key.name] == schema.company_key
            return select(column).where(match).scalar_subquery()
        return schema.filterable[name]

    return resolve


def _filter_condition(
    key: str, text_: str, known: list[str], resolve: Callable[[str], ColumnElement[Any]]
) -> tuple[str, ColumnElement[bool]] | None:
    """A filter's text and SQL condition; a ``ConfigError`` naming ``key`` when it cannot be one."""
    try:
        parsed = parse_filter(text_, known=known)
        return None if parsed is None else (parsed.text, parsed.compile(resolve))
    except FilterError as exc:
        raise ConfigError(f"{key}: {exc}", key=key) from None


def all_of(criteria_: list[Criterion]) -> ColumnElement[bool]:
    return and_(true(), *(c.condition for c in criteria_)) if criteria_ else true()
