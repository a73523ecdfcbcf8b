"""Mapping files: how a firm's own tables map onto the canonical model (TOML).

A mapping names, per part, the table, its key, the column of each canonical field, the
change-tracking, soft-delete, owner, private, type and series columns, fixed values, child tables
(attendees, exceptions) and the admin's scope (a filter expression, a SQL ``WHERE`` fragment with
``:staff_id``/``:staff_code``). ``load_mapping`` checks everything that can be checked without the
database; ``exsync.business.sql.schema`` checks the tables and columns when the database is opened.
Every problem is a ``ConfigError`` naming the mapping key and the fix.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from exsync.business.filters import FilterError, parse_filter
from exsync.model import Attendee, Occurrence, model_for
from exsync.settings import ConfigError, parse_duration
from exsync.settings.errors import KeyProblem
from exsync.settings.messages import closest, config_error

__all__ = [
    "ChildMap",
    "CompanyMap",
    "FieldMap",
    "Mapping",
    "PartMap",
    "StaffMap",
    "load_mapping",
    "mapping_from_dict",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BIND = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")
_WHERE_PARAMS = frozenset({"staff_id", "staff_code"})


def _identifier(value: str) -> str:
    # Table and column names are quoted by SQLAlchemy, never spliced; this only catches typos early.
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a table or column name. Fix: write a plain name such as people_2")
    return value


def _where(value: str) -> str:
    """An admin's SQL fragment: only :staff_id and :staff_code may be bound into it."""
    value = value.strip()
    unknown = sorted(set(_BIND.findall(value)) - _WHERE_PARAMS)
    if unknown:
        raise ValueError(
            f"unknown parameter :{unknown[0]} in the WHERE fragment. Fix: use :staff_id or :staff_code "
            "(the profile's staff row); other values belong in the fragment itself"
        )
    if ";" in value:
        raise ValueError(
            "a WHERE fragment cannot hold ';'. Fix: write one condition, e.g. kind <> 'supplier'"
        )
    return value


def _filter(value: str) -> str:
    try:
        parse_filter(value)
    except FilterError as exc:
        raise ValueError(str(exc)) from None
    return value


Name = Annotated[str, AfterValidator(_identifier)]
# An optional column with a default name: "" says the table has no such column (TOML has no null).
OptionalName = Annotated[Name | None, BeforeValidator(lambda value: None if value == "" else value)]
Where = Annotated[str, AfterValidator(_where)]
FilterText = Annotated[str, AfterValidator(_filter)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Value = str | int | float | bool


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMap(_Model):
    """A canonical field in one column (``"col"``), a list over several (``["a", "b"]``), or a list
    in one column with a separator (``{ column = "categories", separator = "," }``)."""

    columns: tuple[Name, ...]
    separator: str | None = None
    _listed: bool = PrivateAttr(default=False)  # written as a list: a list field, even of one column

    @model_validator(mode="wrap")
    @classmethod
    def _shorthand(cls, value: Any, handler: ModelWrapValidatorHandler[FieldMap]) -> FieldMap:
        listed = isinstance(value, list | tuple) or (
            isinstance(value, dict) and isinstance(value.get("columns"), list | tuple)
        )
        if isinstance(value, str):
            value = {"columns": (value,)}
        elif isinstance(value, list | tuple):
            value = {"columns": tuple(value)}
        elif isinstance(value, dict) and "column" in value:
            rest = {k: v for k, v in value.items() if k != "column"}
            value = {"columns": (value["column"],), **rest}
        if isinstance(value, dict) and isinstance(value.get("columns"), list | tuple):
            for column in value["columns"]:  # reported at the field's key, not at columns[0]
                if isinstance(column, str):
                    _identifier(column)
        result = handler(value)
        if listed:
            result._listed = True
        return result

    @property
    def column(self) -> str:
        return self.columns[0]

    @property
    def is_list(self) -> bool:
        return self._listed or len(self.columns) > 1 or self.separator is not None


class StaffMap(_Model):
    table: Name = "staff"
    key: Name = "id"
    code: Name = "code"
    name: Name = "name"
    email: Name = "email"
    active: OptionalName = "active"  # "" when the table has none: everyone is active
    time_zone: OptionalName = "time_zone"  # "" when the table has none: defaults.time_zone
    where: Where = ""


class CompanyMap(_Model):
    """The companies people belong to: their name (and address) travel on mailbox contacts."""

    table: Name = "companies"
    key: Name = "id"
    name: Name = "name"
    updated: Name | None = None
    deleted: Name | None = None
    owner: Name | None = None  # set to the staff member on companies created from a contact
    address: dict[str, Name] = Field(default_factory=dict)  # canonical address field -> column
    new: dict[Name, Value] = Field(default_factory=dict)  # values for companies created from a contact

    @model_validator(mode="after")
    def _address_fields(self) -> CompanyMap:
        allowed = ("street", "city", "region", "postal_code", "country")
        for name in self.address:
            if name not in allowed:
                raise KeyProblem(f"address.{name}", f"unknown address field. Fix: use {', '.join(allowed)}")
        return self


class ChildMap(_Model):
    """Rows of another table that belong to one parent row (an event's attendees or exceptions)."""

    table: Name
    parent: Name  # the column holding the parent's key
    fields: dict[str, Name]


class PartMap(_Model):
    table: Name
    key: Name = "id"
    updated: Name | None = None  # change tracking; without it every listing is a full one
    deleted: Name | None = None  # soft-delete flag (0/1)
    owner: Name | None = None  # ties a row to a staff member (their id)
    owner_scope: Literal["all", "private", "none"] = "all"  # which rows only their owner syncs
    private: Name | None = None  # with owner_scope = "private": private rows stay with their owner
    type: Name | None = None  # filtered by <part>.types; new rows get <part>.new_item_type
    series: Name | None = None  # filtered by <part>.series when that is set
    fixed: dict[Name, Value] = Field(default_factory=dict)  # rows must hold these; new rows get them
    company: Name | None = None  # column holding the key of the person's company ([company])
    company_address: bool = False  # a contact with no address of its own shows its company's
    fields: dict[str, FieldMap]
    required: tuple[str, ...] = ()  # canonical fields a row cannot sync without
    attendees: ChildMap | None = None
    exceptions: ChildMap | None = None
    filter: FilterText = ""  # always applied, before the profile's own filter
    where: Where = ""  # an admin's SQL condition; :staff_id and :staff_code are bound
    filterable: dict[str, str] = Field(default_factory=dict)  # extra filter names -> column
    overlap: Duration = timedelta(minutes=2)  # re-read rows this much older than the watermark
    done_at: Name | None = None  # tasks: set to the time a task is marked done, cleared when reopened

    @property
    def owned_columns(self) -> set[str]:
        """Columns sync may write on this part's table."""
        owned = {c for f in self.fields.values() for c in f.columns}
        optional = (self.updated, self.owner, self.type, self.company, self.done_at)
        return owned | {c for c in optional if c} | set(self.fixed)


class Mapping(_Model):
    staff: StaffMap = StaffMap()
    company: CompanyMap | None = None
    stamps: Name = "exsync_stamps"  # side table of creation tokens, created when missing
    tombstones: Name | None = None  # a table delete triggers fill: hard deletes seen in delta
    contacts: PartMap | None = None
    calendar: PartMap | None = None
    tasks: PartMap | None = None

    def part(self, name: str) -> PartMap | None:
        value = getattr(self, name, None)
        return value if isinstance(value, PartMap) else None

    @model_validator(mode="after")
    def _fields_exist(self) -> Mapping:
        for name in ("contacts", "calendar", "tasks"):
            part = self.part(name)
            if part is not None:
                _check_part(name, part, self.company)
        return self


_CHILD_MODELS: dict[str, type[BaseModel]] = {"attendees": Attendee, "exceptions": Occurrence}


def _check_part(name: str, part: PartMap, company: CompanyMap | None) -> None:
    model = model_for(name)
    known = [f for f in model.model_fields if f not in _CHILD_MODELS]
    for field, spec in part.fields.items():
        if field not in model.model_fields or field in _CHILD_MODELS:
            hint = closest(field, known)
            fix = f"did you mean `{hint}`?" if hint else f"use one of {', '.join(known)}"
            raise KeyProblem(f"{name}.fields.{field}", f"{model.__name__} has no field {field!r}. Fix: {fix}")
        is_list = _is_list_field(model.model_fields[field].annotation)
        if spec.is_list and not is_list:
            raise KeyProblem(
                f"{name}.fields.{field}",
                f'{field} holds one value. Fix: map it to one column, e.g. {field} = "col"',
            )
        if is_list and not spec.is_list and field != "company":
            raise KeyProblem(
                f"{name}.fields.{field}",
                f'{field} is a list. Fix: list its columns (["a", "b"]) or give a separator '
                f'({{ column = "{spec.column}", separator = "," }})',
            )
    if "company" in part.fields and part.company:
        raise KeyProblem(
            f"{name}.company", "company is mapped twice. Fix: keep either fields.company or company"
        )
    if part.company and company is None:
        raise KeyProblem(
            f"{name}.company", "needs a [company] table. Fix: add [company] with table, key and name"
        )
    for field in part.required:
        if field not in part.fields:
            raise KeyProblem(
                f"{name}.required", f"{field!r} is not mapped. Fix: map it under [{name}.fields]"
            )
    for child_name, child_model in _CHILD_MODELS.items():
        child = getattr(part, child_name)
        if child is None:
            continue
        if child_name not in model.model_fields:
            raise KeyProblem(
                f"{name}.{child_name}", f"{model.__name__} has no {child_name}. Fix: remove the table"
            )
        for field in child.fields:
            if field not in child_model.model_fields:
                raise KeyProblem(
                    f"{name}.{child_name}.fields.{field}",
                    f"unknown field. Fix: use {', '.join(child_model.model_fields)}",
                )
    if part.owner_scope == "private" and not (part.private and part.owner):
        raise KeyProblem(
            f"{name}.owner_scope", 'needs owner and private columns. Fix: set both, or owner_scope = "none"'
        )
    if part.owner_scope == "all" and not part.owner:
        raise KeyProblem(
            f"{name}.owner_scope", 'needs an owner column. Fix: set owner, or owner_scope = "none"'
        )


def _is_list_field(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or "list[" in str(annotation)


def mapping_from_dict(data: dict[str, Any], *, source: str) -> Mapping:
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise config_error(
            exc,
            Mapping,
            name=lambda key: f"mapping {key}",
            key_for=lambda key: f"mapping.{key}",
            heading=source,
        ) from None


def load_mapping(source: str | Path) -> Mapping:
    """The built-in reference mapping (``"reference"``) or a mapping file."""
    if source == "reference":
        text = resources.files("exsync.business.reference").joinpath("mapping.toml").read_text("utf-8")
        where = "built-in reference mapping"
    else:
        path = Path(source)
        where = f"mapping file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"business.mapping: cannot read {where}: {exc.strerror}. Fix: check the path",
                key="business.mapping",
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{where}: not valid TOML: {exc}. Fix: correct the syntax there", key="business.mapping"
        ) from None
    return mapping_from_dict(data, source=where)
