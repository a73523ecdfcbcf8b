"""Profile filters: parsed, never spliced into SQL; run on a real SQLite database and in Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects import sqlite

from exsync.business.filters import MAX_LENGTH, Filter, FilterError, parse_filter

metadata = MetaData()
companies = Table(
    "companies", metadata,
    Column("id", Integer, primary_key=True), Column("kind", String), Column("owner_id", Integer),
)  # fmt: skip
people = Table(
    "people", metadata,
    Column("id", Integer, primary_key=True), Column("name", String), Column("city", String),
    Column("owner_code", String), Column("score", Integer), Column("company_id", ForeignKey("companies.id")),
)  # fmt: skip
JOINED = people.outerjoin(companies, people.c.company_id == companies.c.id)
COLUMNS = {
    "name": people.c.name, "city": people.c.city, "owner": people.c.owner_code, "score": people.c.score,
    "company.kind": companies.c.kind, "company.owner": companies.c.owner_id,
}  # fmt: skip

COMPANIES = [(1, "customer", 1), (2, "supplier", 2), (3, None, 2), (4, "", None)]
PEOPLE = [
    # id, name, city, owner_code, score, company_id
    (1, "Ann", "Paris", "JD", 5, 1),
    (2, "Bob", None, "MS", None, 2),
    (3, "Cy", "", "JD", 7, 3),
    (4, "Di", "Lyon", None, 2, None),
    (5, "x' OR 1=1 --", "Paris", "", 0, 4),
]


def python_rows(
    people_rows: list[tuple[Any, ...]], company_rows: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """What the outer join gives, keyed by filter field names, for `Filter.matches`."""
    by_id = {c[0]: c for c in company_rows}
    rows = []
    for pid, name, city, owner, score, company_id in people_rows:
        company = by_id.get(company_id, (None, None, None))
        rows.append({
            "id": pid, "name": name, "city": city, "owner": owner, "score": score,
            "company.kind": company[1], "company.owner": company[2],
        })  # fmt: skip
    return rows


ROWS = python_rows(PEOPLE, COMPANIES)


def fill(conn: Connection, people_rows: list[tuple[Any, ...]], company_rows: list[tuple[Any, ...]]) -> None:
    if company_rows:
        conn.execute(
            companies.insert(), [dict(zip(("id", "kind", "owner_id"), c, strict=True)) for c in company_rows]
        )
    if people_rows:
        keys = ("id", "name", "city", "owner_code", "score", "company_id")
        conn.execute(people.insert(), [dict(zip(keys, p, strict=True)) for p in people_rows])


@pytest.fixture(scope="module")
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.connect() as connection:
        fill(connection, PEOPLE, COMPANIES)
        connection.commit()
        yield connection
    engine.dispose()


def sql_ids(conn: Connection, flt: Filter, params: dict[str, Any]) -> set[int]:
    query = select(people.c.id).select_from(JOINED).where(flt.compile(COLUMNS.__getitem__))
    return set(conn.scalars(query, params))


def python_ids(rows: list[dict[str, Any]], flt: Filter, params: dict[str, Any]) -> set[int]:
    return {row["id"] for row in rows if flt.matches(row, **params)}


def selected(conn: Connection, text: str, staff_id: Any = None, staff_code: str | None = None) -> set[int]:
    """The people the filter selects in SQL, checked to be the very ones `matches` selects."""
    flt = parse_filter(text, known=COLUMNS)
    assert flt is not None
    params = {"staff_id": staff_id, "staff_code": staff_code}
    in_sql = sql_ids(conn, flt, params)
    assert in_sql == python_ids(ROWS, flt, params), text
    return in_sql


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('city == "Paris"', {1, 5}),
        ("city == 'Paris'", {1, 5}),
        ('"Paris" == city', {1, 5}),
        ('city != "Paris"', {3, 4}),  # NULL is neither equal nor unequal, as in SQL
        ("score > 2", {1, 3}),
        ("2 < score", {1, 3}),
        ("score <= 2", {4, 5}),
        ("score >= -1", {1, 3, 4, 5}),
        ("score < 2.5", {4, 5}),
        ("1 < score < 6", {1, 4}),
        ('city in ("Paris", "Lyon")', {1, 4, 5}),
        ('city in ["Lyon"]', {4}),
        ('city not in ("Paris",)', {3, 4}),
        ('name == "Ann" or name == "Di"', {1, 4}),
        # and binds tighter than or; not tighter than both; parentheses change it.
        ('city == "Paris" or city == "Lyon" and score > 3', {1, 5}),
        ('(city == "Paris" or city == "Lyon") and score > 3', {1}),
        ('not city == "Paris" and score > 1', {3, 4}),
        ('not (city == "Paris" and score > 1)', {3, 4, 5}),
        ('not not city == "Lyon"', {4}),
        ('(\n  city == "Paris"\n  and score > 1\n)', {1}),
    ],
)
def test_comparisons_and_precedence_select_the_right_rows(
    conn: Connection, text: str, expected: set[int]
) -> None:
    assert selected(conn, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("city == None", {2}),
        ("None == city", {2}),
        ("city != None", {1, 3, 4, 5}),
        ('city == ""', {2, 3}),  # '' and NULL alike
        ('city != ""', {1, 4, 5}),
        ('company.kind == ""', {3, 4, 5}),  # NULL kind, no company at all, '' kind
        ('company.kind != ""', {1, 2}),
        ('city in ("Lyon", "")', {2, 3, 4}),
        ('city in ("Lyon", None)', {2, 4}),
        ('city not in ("Lyon", None)', {1, 3, 5}),
        ('city not in ("",)', {1, 4, 5}),
        ("city not in (None,)", {1, 3, 4, 5}),
        ("score == None or score < 1", {2, 5}),
    ],
)
def test_none_and_empty_text_are_null(conn: Connection, text: str, expected: set[int]) -> None:
    assert selected(conn, text) == expected


def test_me_and_my_code_are_bound_at_execution(conn: Connection) -> None:
    flt = parse_filter("company.owner == me or owner == my_code")
    assert flt is not None
    expr = flt.compile(COLUMNS.__getitem__)
    sql = str(expr.compile(dialect=sqlite.dialect(paramstyle="named")))
    assert ":staff_id" in sql and ":staff_code" in sql
    query = select(people.c.id).select_from(JOINED).where(expr)
    # One compiled expression, different staff members: the values come only at execution.
    assert set(conn.scalars(query, {"staff_id": 2, "staff_code": "JD"})) == {1, 2, 3}
    assert set(conn.scalars(query, {"staff_id": 1, "staff_code": "zz"})) == {1}
    assert set(conn.scalars(query, {"staff_id": None, "staff_code": None})) == set()


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        ("company.owner == me", {"staff_id": 2}, {2, 3}),
        ("me == company.owner", {"staff_id": 1}, {1}),
        ("company.owner == me", {"staff_id": None}, set()),
        ("owner == my_code", {"staff_code": "JD"}, {1, 3}),
        ('owner in (my_code, "MS")', {"staff_code": "JD"}, {1, 2, 3}),
        ("owner not in (my_code,)", {"staff_code": "JD"}, {2, 5}),
        # With no staff code, my_code is NULL: "not in a list holding NULL" is never true, as in SQL.
        ('owner not in (my_code, "MS")', {"staff_code": None}, set()),
        ('owner in (my_code, "MS")', {"staff_code": None}, {2}),
        # "Only the companies I own, never suppliers": a company without a kind is not "not a supplier"
        # in SQL's logic, so the filter has to ask for it.
        ('company.owner == me and company.kind != "supplier"', {"staff_id": 2}, set()),
        ('company.owner == me and (company.kind != "supplier" or company.kind == "")', {"staff_id": 2}, {3}),
    ],
)
def test_profile_parameters(conn: Connection, text: str, params: dict[str, Any], expected: set[int]) -> None:
    assert selected(conn, text, **params) == expected


def test_injection_text_is_only_a_value(conn: Connection) -> None:
    assert selected(conn, '''name == "x' OR 1=1 --"''') == {5}
    assert selected(conn, '''name == "Robert'); DROP TABLE people; --"''') == set()
    assert selected(conn, '''city == "' OR ''='"''') == set()
    assert (
        conn.scalar(select(people.c.id).order_by(people.c.id.desc()).limit(1)) == 5
    )  # the table is still there


def test_compiled_sql_holds_no_user_text() -> None:
    values = ["x' OR 1=1 --", "Paris", "supplier", "Zürich", "4242"]
    text = 'name == "{}" and city in ("{}", "{}") or company.kind != "{}" or score == {}'.format(*values)
    flt = parse_filter(text)
    assert flt is not None
    expr = flt.compile(COLUMNS.__getitem__)
    compiled = expr.compile(dialect=sqlite.dialect())
    for value in values:
        assert value not in str(compiled)
    assert {str(v) for v in compiled.params.values()} >= set(values)
    # And in what the driver really receives: the statement text apart, every value a parameter.
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    sent: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append((args[2], args[3])))
    with engine.connect() as connection:
        connection.execute(select(people.c.id).select_from(JOINED).where(expr)).all()
    engine.dispose()
    ((statement, parameters),) = sent
    for value in values:
        assert value not in statement
    assert {str(v) for v in parameters} >= set(values)


@pytest.mark.parametrize(
    "text",
    [
        '__import__("os")',
        '__import__("os").system("ls") == 0',
        'name.startswith("a")',
        "name.upper() == 'A'",
        "city[0] == 'P'",
        "(lambda: 1)() == 1",
        "f'{city}' == 'Paris'",
        "[c for c in city] == []",
        "{c for c in city} == 1",
        "(x := 1) == 1",
        "city == (x := 'Paris')",
        "score == 1 + 1",
        "score == -score",
        "city == 'a' if score else 'b'",
        "city == {'a': 1}",
        "city == b'Paris'",
        "city == ...",
        "city is None",
        "city in city",
        "city in 'Paris'",
        "city == ('a', 'b')",
        "score == 10 ** 30",
        "score == 99999999999999999999999",
        "city.__class__ == 1",
        "me.__class__ == 1",
        "city",
        "'Paris'",
        "city == 'a' or 'b'",
        "1 == 1",
        "me == 2",
        "await city",
        "yield city",
        "city == *x",
    ],
)
def test_anything_beyond_the_language_is_refused(text: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    message = str(caught.value)
    assert message.startswith("filter: ") and ". Fix: " in message, message


def test_unknown_field_names_the_known_ones_and_the_closest() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter('kidn == "customer"', known=["city", "company.kind", "kind"])
    assert str(caught.value) == (
        'filter: unknown field "kidn" at column 0. '
        'Fix: use one of city, company.kind, kind (did you mean "kind"?)'
    )
    assert caught.value.position == 0
    with pytest.raises(FilterError, match=r'did you mean "company\.kind"\?'):
        parse_filter('kind == "customer"', known=["city", "company.kind"])
    assert parse_filter('kind == "customer" and city == me', known=["city", "kind"]) is not None


def test_positions_count_characters_not_bytes() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter('city == "Zürich" and kidn == 1', known=COLUMNS)
    assert caught.value.position == 21
    assert 'unknown field "kidn" at column 21' in str(caught.value)
    with pytest.raises(FilterError) as caught:
        parse_filter('  city == "Zürich" and kidn == 1', known=COLUMNS)
    assert caught.value.position == 23


def test_positions_on_later_lines() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter('(city == "a"\n and kidn == 1)', known=COLUMNS)
    assert caught.value.position == 18
    assert "at line 2, column 5" in str(caught.value)
    with pytest.raises(FilterError, match="put it all in parentheses"):
        parse_filter('city == "a"\nand score == 1')


@pytest.mark.parametrize(
    ("text", "position", "says"),
    [
        ("score = 1", 6, "use == to compare"),
        ('city == "a" and score = 1', 22, "use == to compare"),
        ('city == "a" && score == 1', 12, '"&&" at column 12. Fix: use and'),
        ('city == "a" || score == 1', 12, '"||" at column 12. Fix: use or'),
        ('city == "a" & score == 1', 12, "Fix: use and"),
        ('city == "a" | score == 1', 12, "Fix: use or"),
        ('!(city == "a")', 0, "use not"),
        ('city <> "a"', 5, "use != for not equal"),
        ("score => 1", 6, "write >= instead"),
        ('city == "a" AND score == 1', 12, "write and in lower case"),
        ('city like "P%"', 5, '"like" at column 5: is not supported'),
        ("city == null", 8, "write None"),
        ("city == NULL", 8, "write None"),
        ("score == true", 9, "write True"),
        ("city is not None", 5, "use !="),
        ('(city == "a"', 0, '"(" at column 0: is never closed. Fix: add the missing ")"'),
        ('city in ("a", "b"', 8, '"(" at column 8: is never closed'),
        ('city == "a")', 11, '")" at column 11: has no opening partner'),
        ('city == "Zürich', 8, "text in quotes at column 8: is never closed"),
        ('city == "a" and', 15, "the text ends too early"),
        ('city == "a" score == 1', 12, 'unexpected text at column 12: "score == 1"'),
        ("city in ()", 8, "an empty list"),
        ("score < None", 6, "None has no order"),
        ('city in ("a", name)', 14, "a list holds values, not fields"),
        ("city == '\0'", 9, "a NUL character"),
    ],
)
def test_error_messages_say_where_and_how_to_fix(text: str, position: int, says: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    message = str(caught.value)
    assert says in message, message
    assert caught.value.position == position, message
    assert message.startswith("filter: ") and ". Fix: " in message, message


def test_limits() -> None:
    long_text = "city in (" + ", ".join(['"a"'] * 500) + ")"
    assert len(long_text) > MAX_LENGTH
    with pytest.raises(FilterError, match=r"over the limit of 2,000\. Fix: "):
        parse_filter(long_text)
    with pytest.raises(FilterError, match=r"over the limit of 200\. Fix: "):
        parse_filter("score in (" + ", ".join(["1"] * 250) + ")")
    with pytest.raises(FilterError, match=r"deeper than 30 levels\. Fix: "):
        parse_filter("not " * 40 + 'city == "a"')
    # Deep but well-formed input from an attacker never reaches Python's recursion limit.
    for hostile in (
        "not " * 490 + "x == 1",
        "-" * 1990 + "1",
        "(" * 150 + "x" + ")" * 150,
        "a." * 990 + "b == 1",
    ):
        with pytest.raises(FilterError):
            parse_filter(hostile)
    assert parse_filter("score in (" + ", ".join(["1"] * 150) + ")") is not None
    assert parse_filter("not " * 20 + 'city == "a"') is not None


def test_blank_is_no_filter() -> None:
    assert parse_filter("") is None
    assert parse_filter("  \n\t ") is None
    with pytest.raises(FilterError, match="empty"):
        Filter("   ")


def test_names_are_the_fields_used() -> None:
    flt = parse_filter('company.owner == me and (city in ("a", my_code) or not score > 1) and 1 < score < 5')
    assert flt is not None
    assert flt.names() == {"company.owner", "city", "score"}
    assert Filter("a.b.c == 1").names() == {"a.b.c"}


def test_compile_reports_a_field_the_mapping_lacks() -> None:
    flt = parse_filter('city == "a" and region == "b"')
    assert flt is not None
    with pytest.raises(FilterError) as caught:
        flt.compile(COLUMNS.__getitem__)
    assert caught.value.position == 16
    assert str(caught.value).startswith('filter: field "region" at column 16: cannot be used here')


def test_matches_needs_every_field() -> None:
    flt = parse_filter('city == "a" and score == 1')
    assert flt is not None
    assert flt.matches({"city": "a", "score": 1})
    assert not flt.matches({"city": "a", "score": None})
    with pytest.raises(FilterError, match='field "score" at column 16: has no value in this row'):
        flt.matches({"city": "a"})


def test_filters_compare_by_text() -> None:
    assert Filter('city == "a"') == Filter('city == "a"')
    assert hash(Filter('city == "a"')) == hash(Filter('city == "a"'))
    assert Filter('city == "a"') != Filter('city == "b"')


# -- SQL and Python agree on random filters and rows ---------------------------------------------------------

TEXTS = st.sampled_from(['""', '"a"', '"b"', '"Zürich"', "'ab'", "my_code"])
NUMBERS = st.sampled_from(["0", "1", "2", "-1", "1.5", "True", "False", "me"])
OPERATORS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["city", "company.kind", "score"]))
    values = NUMBERS if name == "score" else TEXTS
    op, value = draw(OPERATORS), draw(values)
    form = draw(st.integers(0, 5))
    if form == 0:
        return f"{name} {op} {value}"
    if form == 1:
        return f"{value} {op} {name}"
    if form == 2:
        return f"{name} {draw(st.sampled_from(['==', '!=']))} None"
    if form == 3:
        param = st.just("me" if name == "score" else "my_code")  # often NULL: NULL in a list is subtle
        items = draw(st.lists(values | st.just("None") | param, min_size=1, max_size=3))
        return f"{name} {draw(st.sampled_from(['in', 'not in']))} ({', '.join(items)},)"
    if form == 4:
        return f"city {op} company.kind" if name != "score" else f"score {op} score"
    return f"{draw(NUMBERS)} < score {op} {draw(NUMBERS)}"


FILTERS = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda f: f"not ({f})"),
    ),
    max_leaves=6,
)
CITY = st.sampled_from([None, "", "a", "b", "ab", "Zürich"])
KIND = st.sampled_from([None, "", "a", "b", "Zürich"])
ROW = st.tuples(CITY, st.one_of(st.none(), st.integers(-2, 3)), st.booleans(), KIND, st.integers(0, 2))


@settings(max_examples=300, deadline=None)
@given(
    FILTERS,
    st.lists(ROW, max_size=6),
    st.sampled_from([None, 0, 1, 2]),
    st.sampled_from([None, "", "a", "Zürich"]),
)
def test_sql_and_matches_agree(
    text: str, rows: list[tuple[Any, ...]], staff_id: int | None, staff_code: str | None
) -> None:
    flt = parse_filter(text)
    assert flt is not None
    people_rows, company_rows = [], []
    for pid, (city, score, has_company, kind, owner) in enumerate(rows, start=1):
        if has_company:
            company_rows.append((pid, kind, owner))
        people_rows.append((pid, f"p{pid}", city, None, score, pid if has_company else None))
    params = {"staff_id": staff_id, "staff_code": staff_code}
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.connect() as conn:
        fill(conn, people_rows, company_rows)
        assert sql_ids(conn, flt, params) == python_ids(python_rows(people_rows, company_rows), flt, params)
    engine.dispose()
