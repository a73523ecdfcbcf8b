"""Mapping files: a wrong mapping fails when it is loaded (or when the database is opened), with a
ConfigError naming the mapping key, what is wrong and the fix, before anything is synced."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlfirm import Firm

from exsync.business.mapping import Mapping, load_mapping, mapping_from_dict
from exsync.business.reference.schema import create_schema
from exsync.business.sql import SqlBusiness
from exsync.business.sql.engine import business_engine
from exsync.settings import ConfigError

Mutation = Callable[[dict[str, Any]], None]


def _reference() -> dict[str, Any]:
    text = resources.files("exsync.business.reference").joinpath("mapping.toml").read_text("utf-8")
    return tomllib.loads(text)


REFERENCE = _reference()


def _changed(mutate: Mutation) -> dict[str, Any]:
    data = copy.deepcopy(REFERENCE)
    mutate(data)
    return data


def _write(path: Path, data: dict[str, Any]) -> Path:
    """``data`` as a TOML mapping file (tables, strings, numbers, booleans and lists of those)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{ " + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + " }"

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f'"{k}" = {value(v)}' for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fails(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        mapping_from_dict(data, source="mapping file firm.toml")
    return caught.value


def _assert_names(error: ConfigError, key: str, *fragments: str) -> None:
    assert error.key == key, error.message
    for fragment in fragments:
        assert fragment in error.message, error.message
    assert "Fix:" in error.message, error.message


# -- the reference mapping ----------------------------------------------------------------------


def test_reference_mapping_loads_with_every_part() -> None:
    mapping = load_mapping("reference")
    assert mapping.contacts is not None and mapping.calendar is not None and mapping.tasks is not None
    assert (mapping.staff.table, mapping.contacts.table, mapping.calendar.table) == (
        "staff",
        "people",
        "activities",
    )
    assert mapping.calendar.fixed == {"kind": "event"} and mapping.tasks.fixed == {"kind": "task"}
    assert mapping.contacts.fields["emails"].columns == ("email", "email2", "email3", "email4")
    assert mapping.contacts.fields["categories"].separator == ","
    assert mapping.calendar.attendees is not None and mapping.calendar.attendees.table == "activity_attendees"


def test_a_mapping_file_loads_like_the_same_dict(tmp_path: Path) -> None:
    path = _write(tmp_path / "firm.toml", REFERENCE)
    assert load_mapping(path) == load_mapping(str(path)) == load_mapping("reference")


def test_a_list_field_may_have_one_column_when_written_as_a_list() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["contacts"]["fields"]["business_phones"] = ["phone_work"]

    mapping = mapping_from_dict(_changed(mutate), source="test")
    assert mapping.contacts is not None
    spec = mapping.contacts.fields["business_phones"]
    assert spec.columns == ("phone_work",) and spec.is_list


def test_staff_columns_the_table_lacks_are_written_empty() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["staff"].update(active="", time_zone="")

    mapping = mapping_from_dict(_changed(mutate), source="test")
    assert (mapping.staff.active, mapping.staff.time_zone) == (None, None)


# -- wrong at load time ---------------------------------------------------------------------------


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "firm.toml"
    path.write_text('[contacts]\ntable = "people"\nkey = \n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    _assert_names(caught.value, "business.mapping", str(path), "not valid TOML", "line 3", "column")


def test_missing_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "firm.toml"
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    _assert_names(caught.value, "business.mapping", "cannot read", str(path), "check the path")


def _set(*path: str, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target = d
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _drop(*path: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target = d
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


LOAD_ERRORS = [
    pytest.param(
        _set("stampz", value="x"),
        "mapping.stampz",
        ["unknown key", "did you mean `stamps`?"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        _set("contacts", "tabel", value="people"),
        "mapping.contacts.tabel",
        ["unknown key", "did you mean `table`?", "[contacts]"],
        id="unknown-key-in-part",
    ),
    pytest.param(
        _set("staff", "emial", value="email"),
        "mapping.staff.emial",
        ["unknown key", "did you mean `email`?"],
        id="unknown-key-in-staff",
    ),
    pytest.param(
        _set("contacts", "fields", "frist_name", value="first_name"),
        "mapping.contacts.fields.frist_name",
        ["Contact has no field 'frist_name'", "did you mean `first_name`?"],
        id="unknown-canonical-field",
    ),
    pytest.param(
        _set("tasks", "fields", "location", value="location"),
        "mapping.tasks.fields.location",
        ["Task has no field 'location'"],
        id="field-of-another-part",
    ),
    pytest.param(
        _set("contacts", "fields", "emails", value="email"),
        "mapping.contacts.fields.emails",
        ["emails is a list", "separator"],
        id="list-field-in-one-column-without-separator",
    ),
    pytest.param(
        _set("contacts", "fields", "first_name", value=["first_name", "title"]),
        "mapping.contacts.fields.first_name",
        ["first_name holds one value", 'first_name = "col"'],
        id="scalar-field-in-several-columns",
    ),
    pytest.param(
        _set("contacts", "fields", "first_name", value=["first_name"]),
        "mapping.contacts.fields.first_name",
        ["first_name holds one value"],
        id="scalar-field-written-as-a-list",
    ),
    pytest.param(
        _set("contacts", "fields", "first_name", value="first name"),
        "mapping.contacts.fields.first_name",
        ["'first name' is not a table or column name"],
        id="column-not-an-identifier",
    ),
    pytest.param(
        _set("contacts", "fields", "emails", value=["email", "email-2"]),
        "mapping.contacts.fields.emails",
        ["'email-2' is not a table or column name"],
        id="one-of-several-columns-not-an-identifier",
    ),
    pytest.param(
        _set("contacts", "table", value="people; DROP TABLE people"),
        "mapping.contacts.table",
        ["'people; DROP TABLE people' is not a table or column name"],
        id="table-not-an-identifier",
    ),
    pytest.param(
        _set("contacts", "where", value="owner_id = :user"),
        "mapping.contacts.where",
        ["unknown parameter :user", ":staff_id or :staff_code"],
        id="where-with-unknown-parameter",
    ),
    pytest.param(
        _set("contacts", "where", value="deleted = 0; DROP TABLE people"),
        "mapping.contacts.where",
        ["cannot hold ';'"],
        id="where-with-semicolon",
    ),
    pytest.param(
        _set("contacts", "filter", value="company.kind = 'supplier'"),
        "mapping.contacts.filter",
        ["a single = does not compare", "use =="],
        id="filter-does-not-parse",
    ),
    pytest.param(
        _drop("contacts", "private"),
        "mapping.contacts.owner_scope",
        ["needs owner and private columns", 'owner_scope = "none"'],
        id="private-scope-without-private-column",
    ),
    pytest.param(
        _drop("calendar", "owner"),
        "mapping.calendar.owner_scope",
        ["needs an owner column"],
        id="all-scope-without-owner-column",
    ),
    pytest.param(
        _set("contacts", "owner_scope", value="mine"),
        "mapping.contacts.owner_scope",
        ["'mine' is not allowed", "'all', 'private' or 'none'"],
        id="unknown-owner-scope",
    ),
    pytest.param(
        _drop("company"),
        "mapping.contacts.company",
        ["needs a [company] table", "add [company]"],
        id="company-without-company-table",
    ),
    pytest.param(
        lambda d: (d["contacts"]["fields"].pop("job_title"), d["contacts"].update(required=["job_title"])),
        "mapping.contacts.required",
        ["'job_title' is not mapped", "[contacts.fields]"],
        id="required-field-not-mapped",
    ),
    pytest.param(
        _set("calendar", "attendees", "fields", "phone", value="phone"),
        "mapping.calendar.attendees.fields.phone",
        ["unknown field", "email, name, role, response"],
        id="unknown-attendee-field",
    ),
    pytest.param(
        _set(
            "tasks", "attendees", value={"table": "activity_attendees", "parent": "activity_id", "fields": {}}
        ),
        "mapping.tasks.attendees",
        ["Task has no attendees", "remove the table"],
        id="attendees-on-tasks",
    ),
    pytest.param(
        _set("company", "address", "zip", value="postal_code"),
        "mapping.company.address.zip",
        ["unknown address field", "postal_code"],
        id="unknown-company-address-field",
    ),
    pytest.param(
        _set("contacts", "overlap", value="soon"),
        "mapping.contacts.overlap",
        ["'soon' is not a duration"],
        id="overlap-not-a-duration",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "fragments"), LOAD_ERRORS)
def test_wrong_mapping_fails_at_load(mutate: Mutation, key: str, fragments: list[str]) -> None:
    error = _fails(_changed(mutate))
    _assert_names(error, key, "mapping file firm.toml", *fragments)


def test_a_wrong_mapping_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "firm.toml", _changed(_set("contacts", "fields", "frist_name", value="first_name"))
    )
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    _assert_names(caught.value, "mapping.contacts.fields.frist_name", str(path), "did you mean `first_name`?")


def test_every_problem_is_listed_and_the_key_is_the_first() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["stampz"] = "x"
        d["contacts"]["where"] = "owner_id = :user"

    error = _fails(_changed(mutate))
    problems = [line for line in error.message.splitlines() if line.startswith("- ")]
    assert len(problems) == 2 and all("Fix:" in line for line in problems), error.message
    assert any("stampz" in line for line in problems) and any(":user" in line for line in problems)
    first = problems[0].removeprefix("- mapping ").split(":")[0]
    assert error.key == f"mapping.{first}" and error.key in ("mapping.stampz", "mapping.contacts.where")


# -- wrong against the database -------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty reference database (no rows needed: only tables and columns are checked)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('mapping') / 'firm.db'}"
    engine = business_engine(url)
    create_schema(engine)
    engine.dispose()
    return url


def _open_fails(url: str, mutate: Mutation) -> ConfigError:
    mapping: Mapping = mapping_from_dict(_changed(mutate), source="test")
    with pytest.raises(ConfigError) as caught:
        SqlBusiness.open(url, mapping).close()
    return caught.value


def test_the_reference_mapping_opens_on_the_reference_schema(reference_url: str) -> None:
    business = SqlBusiness.open(reference_url)
    try:
        assert set(business.schema.parts) == {"contacts", "calendar", "tasks"}
    finally:
        business.close()


OPEN_ERRORS = [
    pytest.param(
        _set("contacts", "table", value="persons"),
        "mapping.contacts.table",
        ["no table 'persons'"],
        id="missing-table",
    ),
    pytest.param(
        _set("staff", "table", value="employees"),
        "mapping.staff.table",
        ["no table 'employees'"],
        id="missing-staff-table",
    ),
    pytest.param(
        _set("calendar", "attendees", "table", value="attendees"),
        "mapping.calendar.attendees.table",
        ["no table 'attendees'"],
        id="missing-child-table",
    ),
    pytest.param(
        _set("contacts", "updated", value="changed_at"),
        "mapping.contacts.updated",
        ["table 'people' has no column 'changed_at'", "updated_at"],
        id="missing-change-tracking-column",
    ),
    pytest.param(
        _set("company", "name", value="title"),
        "mapping.company.name",
        ["table 'companies' has no column 'title'", "kind"],
        id="missing-company-column",
    ),
    pytest.param(
        _set("calendar", "attendees", "fields", "email", value="mail"),
        "mapping.calendar.attendees.fields.email",
        ["table 'activity_attendees' has no column 'mail'", "response"],
        id="missing-attendee-column",
    ),
    pytest.param(
        _set("staff", "time_zone", value="zone"),
        "mapping.staff.time_zone",
        ["table 'staff' has no column 'zone'", 'time_zone = ""'],
        id="missing-optional-staff-column",
    ),
    pytest.param(
        _set("contacts", "where", value="nosuch_column = :staff_id"),
        "mapping.contacts.where",
        ["the database rejects", "nosuch_column", "'people'"],
        id="where-the-database-rejects",
    ),
    pytest.param(
        _set("tasks", "where", value="staff_id = :staff_id AND"),
        "mapping.tasks.where",
        ["the database rejects", "'activities'"],
        id="where-that-is-no-condition",
    ),
    pytest.param(
        _set("contacts", "filter", value='kidn == "supplier"'),
        "mapping.contacts.filter",
        ['unknown field "kidn"', "company.kind"],
        id="filter-with-unknown-name",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "fragments"), OPEN_ERRORS)
def test_wrong_mapping_fails_at_open(
    reference_url: str, mutate: Mutation, key: str, fragments: list[str]
) -> None:
    _assert_names(_open_fails(reference_url, mutate), key, *fragments)


def test_a_missing_column_lists_the_tables_columns(reference_url: str) -> None:
    error = _open_fails(reference_url, _set("contacts", "fields", "first_name", value="firstname"))
    _assert_names(error, "mapping.contacts.fields.first_name", "table 'people' has no column 'firstname'")
    engine = business_engine(reference_url)
    try:
        columns = [c["name"] for c in inspect(engine).get_columns("people")]
    finally:
        engine.dispose()
    assert "first_name" in columns
    assert error.message.endswith("Fix: use one of " + ", ".join(columns))


# -- a profile's filter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(
            "kind == 'supplier'", ['unknown field "kind"', 'did you mean "company.kind"?'], id="company"
        ),
        pytest.param(
            "frist_name == 'Ann'", ['unknown field "frist_name"', 'did you mean "first_name"?'], id="typo"
        ),
        pytest.param("kidn == 'x'", ['unknown field "kidn"', "company.kind", "first_name"], id="lists-names"),
        pytest.param("last_name = 'x'", ["a single = does not compare"], id="syntax"),
    ],
)
def test_profile_filter_with_unknown_name_is_a_config_error(
    sqlite_firm: Firm, text: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        sqlite_firm.connector("contacts", filter=text)
    _assert_names(caught.value, "contacts.filter", *fragments)


def test_profile_filter_on_a_known_name_is_accepted(sqlite_firm: Firm) -> None:
    connector = sqlite_firm.connector("contacts", filter='company.kind != "supplier" and last_name != ""')
    assert connector.changes(None).entries == []
