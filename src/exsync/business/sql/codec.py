"""Rows to canonical items and back, through a part's mapping.

Reading turns a row (and its company and child rows) into the data of a canonical item; a row
that cannot be one (a NULL where the mapping needs a value, a malformed RRULE, a date that is no
date) raises ``BadRow`` with a message naming the row, the column and the fix. Writing turns
normalised canonical values into column values, only for the columns the mapping owns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from dateutil.rrule import rrulestr
from pydantic import ValidationError
from sqlalchemy import Boolean, Date, DateTime

from exsync.business.sql.schema import Fields, PartSchema
from exsync.model import Canonical, model_for

ADDRESS = ("street", "city", "region", "postal_code", "country")


_UTC_UNTIL = re.compile(r"UNTIL=\d{8}T\d{6}Z", re.IGNORECASE)


class BadRow(ValueError):
    """A business row that cannot be read as a canonical item."""


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def has_own_address(schema: PartSchema, row: Mapping[str, Any]) -> bool:
    """Whether a row (column name -> value) holds an address of its own, not only its company's."""
    return not all(_empty(row.get(schema.fields[f].columns[0].name)) for f in ADDRESS if f in schema.fields)


def _read_field(fields: Fields, values: Sequence[Any]) -> Any:
    spec = fields.spec
    if spec.separator is not None:
        raw = values[0]
        return [] if _empty(raw) else [v for v in str(raw).split(spec.separator)]
    if spec.is_list:
        return [v for v in values if not _empty(v)]
    value = values[0]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else value


def item_data(
    schema: PartSchema,
    row: Mapping[str, Any],
    company: Mapping[str, Any] | None,
    children: Mapping[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """The canonical field values of a row (before the model normalises them)."""
    data = {name: _read_field(f, [row[c.name] for c in f.columns]) for name, f in schema.fields.items()}
    if company is not None:
        data["company"] = company.get("name") or ""
        if schema.map.company_address and not has_own_address(schema, row):
            for name in ADDRESS:
                if name in schema.fields and name in company:
                    data[name] = company[name] or ""
    for name, rows in children.items():
        data[name] = rows
    return data


def read_item(schema: PartSchema, key: Any, data: dict[str, Any]) -> Canonical:
    """A canonical item from ``item_data``; ``BadRow`` says what is wrong and where."""
    where = schema.business_id(key)
    for name in schema.map.required:
        if _empty(data.get(name)):
            column = schema.fields[name].columns[0].name
            raise BadRow(
                f"{where}: {column} is empty, but a {schema.part} item needs its {name}. "
                f"Fix: fill in {column}"
            )
    model = model_for(schema.part)
    if data.get("all_day") and "start" in data:
        # All-day rows hold dates; a time part written by hand is ignored, a missing last day is the first.
        data["start"] = str(data["start"])[:10]
        data["end"] = str(data.get("end") or data["start"])[:10]
    recurrence = data.get("recurrence")
    if isinstance(recurrence, str) and recurrence.strip():
        data["recurrence"] = _rrule(where, schema, recurrence, str(data.get("start") or ""))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRow(f"{where}: {_problems(schema, exc)}") from None


def _rrule(where: str, schema: PartSchema, value: str, start: str) -> str:
    rule = value.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:") :]
    try:
        dtstart = datetime.fromisoformat(start[:16]) if start else None
        if dtstart is not None and _UTC_UNTIL.search(rule):
            # RFC 5545: a zoned start takes its UNTIL in UTC; dateutil checks that pairing.
            dtstart = dtstart.replace(tzinfo=UTC)
        rrulestr(f"RRULE:{rule}", dtstart=dtstart)
    except (ValueError, TypeError) as exc:
        column = schema.fields["recurrence"].columns[0].name
        raise BadRow(
            f"{where}: {column} {value!r} is not a valid RFC 5545 RRULE ({exc}). "
            'Fix: write e.g. "FREQ=WEEKLY;BYDAY=MO;COUNT=10" (without "RRULE:")'
        ) from None
    return rule


def _problems(schema: PartSchema, exc: ValidationError) -> str:
    out = []
    for error in exc.errors():
        loc = [str(step) for step in error["loc"]]
        name = loc[0] if loc else ""
        fields = schema.fields.get(name)
        column = fields.columns[0].name if fields is not None else name
        value = error.get("input")
        shown = f" {value!r}" if isinstance(value, str | int | float) and len(repr(value)) < 80 else ""
        out.append(f"{column}{shown}: {error['msg']}")
    return "; ".join(out) + ". Fix: correct the value in the business database"


def _column_value(column: Any, value: Any) -> Any:
    """A normalised canonical value as the column stores it (NULL for nothing where NULL is allowed)."""
    if isinstance(value, bool):
        return int(value) if not _is_bool_column(column) else value
    if value == "" or value is None:
        return None if column.nullable or column.nullable is None else ""
    if _is_date_column(column) and isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _is_bool_column(column: Any) -> bool:
    return isinstance(column.type, Boolean)


def _is_date_column(column: Any) -> bool:
    return isinstance(column.type, Date) and not isinstance(column.type, DateTime)


def write_values(schema: PartSchema, item: Canonical, names: Sequence[str]) -> dict[str, Any]:
    """Column values for the canonical fields ``names`` of ``item`` (company and children excluded)."""
    out: dict[str, Any] = {}
    for name in names:
        fields = schema.fields.get(name)
        if fields is None:
            continue
        value = getattr(item, name)
        spec = fields.spec
        if spec.separator is not None:
            joined = spec.separator.join(str(v) for v in value)
            out[fields.columns[0].name] = _column_value(fields.columns[0], joined)
        elif spec.is_list:
            for i, column in enumerate(fields.columns):
                out[column.name] = _column_value(column, value[i] if i < len(value) else None)
        else:
            out[fields.columns[0].name] = _column_value(fields.columns[0], value)
    return out


def child_rows(schema: PartSchema, name: str, item: Canonical) -> list[dict[str, Any]]:
    """Column values of an item's attendees or exceptions."""
    child = getattr(schema, name)
    rows = []
    for entry in getattr(item, name):
        values = entry.model_dump(mode="json")
        rows.append(
            {column.name: _column_value(column, values.get(field)) for field, column in child.fields.items()}
        )
    return rows
