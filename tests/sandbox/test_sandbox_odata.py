"""The sandbox's OData query options: $filter semantics as Exchange runs them, the other options' parsing,
then Hypothesis properties (boolean algebra, quoting, date-time formats, ordering)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from exsync.sandbox.odata import (
    Expand,
    ODataError,
    filter_properties,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_select,
    property_value,
    sort_key,
    sort_resources,
)

KEY_ID = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key"

CONTACT: dict[str, Any] = {
    "id": "AAMkC1",
    "displayName": "Ann O'Neil",
    "givenName": "Ann",
    "surname": None,
    "emailAddresses": [
        {"name": "Ann", "address": "ann@firm.example"},
        {"name": "Home", "address": "a@home.example"},
    ],
    "categories": ["Firm", "VIP"],
    "singleValueExtendedProperties": [{"id": KEY_ID, "value": "k1"}],
    "start": {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"},
    "isRead": True,
    "importance": "normal",
    "receivedDateTime": "2026-03-02T09:00:00Z",
    "size": 1200,
    "from": {"emailAddress": {"name": "Bob", "address": "Bob@Example.com"}},
}


def matches(text: str, resource: dict[str, Any] = CONTACT) -> bool:
    return parse_filter(text)(resource)


# -- comparison operators ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("givenName eq 'Ann'", True),
        ("givenName eq 'Bob'", False),
        ("givenName ne 'Bob'", True),
        ("givenName ne 'Ann'", False),
        ("givenName gt 'Alf'", True),
        ("givenName gt 'Ann'", False),
        ("givenName ge 'Ann'", True),
        ("givenName lt 'Bob'", True),
        ("givenName lt 'Ann'", False),
        ("givenName le 'Ann'", True),
        ("size eq 1200", True),
        ("size gt 1199.5", True),
        ("size lt 1.2e3", False),
        ("size le 1.2e3", True),
        ("size ge -1", True),
        ("isRead eq true", True),
        ("isRead eq false", False),
        ("isRead ne false", True),
        ("from/emailAddress/address eq 'bob@example.com'", True),
        ("start/dateTime ge '2026-03-01T00:00:00'", True),
    ],
)
def test_comparison_operators(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_mismatched_types_are_unequal_rather_than_errors() -> None:
    assert not matches("size eq '1200'")
    assert matches("size ne '1200'")
    assert not matches("givenName gt 5")
    assert not matches("categories eq 'Firm'")  # a collection equals no scalar


def test_a_bare_boolean_property_is_a_condition() -> None:
    assert matches("isRead")
    assert not matches("not isRead")
    assert not matches("givenName")  # a string is not true


# -- logic and precedence ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("givenName eq 'Ann' and isRead eq true", True),
        ("givenName eq 'Ann' and isRead eq false", False),
        ("givenName eq 'Bob' or isRead eq true", True),
        ("givenName eq 'Bob' or isRead eq false", False),
        ("not (givenName eq 'Bob')", True),
        ("not(givenName eq 'Ann')", False),
        # and binds tighter than or: true or (false and false)
        ("isRead eq true or givenName eq 'Bob' and size eq 0", True),
        ("(isRead eq true or givenName eq 'Bob') and size eq 0", False),
        # false and false or true  ==  (false and false) or true
        ("size eq 0 and givenName eq 'Bob' or isRead eq true", True),
        # not binds tighter than and/or
        ("not isRead or givenName eq 'Ann'", True),
        ("not isRead and givenName eq 'Ann'", False),
        # not binds tighter than a comparison: (not isRead) eq false
        ("not isRead eq false", True),
        ("not not isRead", True),
        ("((givenName eq 'Ann'))", True),
        ("true", True),
        ("false or true", True),
    ],
)
def test_logic_and_precedence(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_not_before_a_string_comparison_is_a_type_error_as_in_odata() -> None:
    # "(not displayName) eq 'x'" compares a boolean with a string: Graph's parser refuses it too.
    with pytest.raises(ODataError, match="cannot compare"):
        parse_filter("not displayName eq 'Ann'")
    assert matches("not (givenName eq 'Bob')")


# -- case-insensitivity --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "GivenName eq 'Ann'",
        "GIVENNAME EQ 'ann'",
        "givenName Eq 'ANN' AND IsRead Eq TRUE",
        "givenName eq 'x' OR NOT (givenName eq 'x')",
        "StartsWith(displayName, 'ann')",
        "STARTSWITH(DisplayName,'ANN O''n')",
        "Categories/ANY(c: c eq 'firm')",
        "From/EmailAddress/Address eq 'BOB@example.COM'",
        "singleValueExtendedProperties/any(ep:ep/Id eq '" + KEY_ID + "' and contains(ep/Value, 'K'))",
    ],
)
def test_names_keywords_and_strings_ignore_case(text: str) -> None:
    assert matches(text)


def test_exact_key_wins_over_a_case_insensitive_match() -> None:
    resource = {"Name": "upper", "name": "lower"}
    assert property_value(resource, "name") == "lower"
    assert property_value(resource, "Name") == "upper"
    assert property_value(resource, "NAME") == "upper"  # first case-insensitive match


# -- functions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("startswith(displayName,'Ann')", True),
        ("startswith(displayName, 'ann o')", True),
        ("startswith(displayName,'Neil')", False),
        ("endswith(displayName,'NEIL')", True),
        ("endswith(displayName,'Ann')", False),
        ("contains(displayName,'o''n')", True),
        ("contains(displayName,'xyz')", False),
        ("startswith(surname,'A')", False),  # null never starts with anything
        ("startswith(missing,'')", False),
        ("not startswith(surname,'A')", True),
        ("startswith(from/emailAddress/address, 'bob@')", True),
    ],
)
def test_string_functions(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_cast_compares_extended_property_text_as_a_number() -> None:
    resource = {
        "singleValueExtendedProperties": [
            {"id": "Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Name P", "value": "12"}
        ]
    }
    text = (
        "singleValueExtendedProperties/any(ep:ep/id eq "
        "'Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Name P' "
    )
    assert matches(text + "and cast(ep/value, Edm.Int32) eq 12)", resource)
    assert matches(text + "and cast(ep/value, Edm.Int32) gt 9)", resource)  # as text, '12' < '9'
    assert not matches(text + "and ep/value gt '9')", resource)


def test_in_operator() -> None:
    assert matches("givenName in ('Bob', 'ann')")
    assert not matches("givenName in ('Bob')")
    assert matches("surname in (null, 'Smith')")


# -- lambdas -------------------------------------------------------------------------------------------------


def test_extended_property_lambda_exactly_as_exsync_sends_it() -> None:
    text = (
        "singleValueExtendedProperties/Any(ep: ep/id eq "
        "'String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key' and ep/value eq 'k1')"
    )
    assert matches(text)
    other = dict(CONTACT, singleValueExtendedProperties=[{"id": KEY_ID, "value": "k2"}])
    assert not matches(text, other)
    assert not matches(text, dict(CONTACT, singleValueExtendedProperties=[]))
    assert not matches(text, {k: v for k, v in CONTACT.items() if k != "singleValueExtendedProperties"})


def test_extended_property_id_matches_whatever_the_guid_and_prefix_case() -> None:
    text = (
        "singleValueExtendedProperties/any(ep: ep/id eq "
        "'string {36829CCC-57E4-472E-9ABB-E4B4DD725601} name exsync-key' and ep/value eq 'k1')"
    )
    assert matches(text)


def test_lambda_needs_both_conditions_on_the_same_member() -> None:
    # id of one member and value of another must not combine into a match
    resource = {
        "singleValueExtendedProperties": [{"id": KEY_ID, "value": "other"}, {"id": "x", "value": "k1"}]
    }
    text = f"singleValueExtendedProperties/any(ep: ep/id eq '{KEY_ID}' and ep/value eq 'k1')"
    assert not matches(text, resource)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("categories/any(c:c eq 'Firm')", True),
        ("categories/any(c:c eq 'firm')", True),
        ("categories/any(c:c eq 'Family')", False),
        ("categories/any(c:startswith(c, 'V'))", True),
        ("emailAddresses/any(a:a/address eq 'ann@firm.example')", True),
        ("emailAddresses/any(a: a/address eq 'ANN@FIRM.EXAMPLE' and a/name eq 'Ann')", True),
        ("emailAddresses/any(a: a/address eq 'ann@firm.example' and a/name eq 'Home')", False),
        ("categories/all(c:c ne 'Family')", True),
        ("categories/all(c:c eq 'Firm')", False),
        ("categories/any()", True),
        ("not categories/any(c:c eq 'Firm')", False),
        # a lambda body may still name the resource's own properties
        ("categories/any(c:c eq 'Firm' and givenName eq 'Ann')", True),
        ("missing/any(c:c eq 'x')", False),
        ("missing/all(c:c eq 'x')", True),  # vacuously: nothing in it fails
        ("missing/any()", False),
    ],
)
def test_lambdas(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_nested_lambdas_see_outer_variables() -> None:
    resource = {"groups": [{"tag": "a", "members": ["a", "b"]}, {"tag": "z", "members": ["b"]}]}
    assert matches("groups/any(g: g/members/any(m: m eq g/tag))", resource)
    assert not matches("groups/all(g: g/members/any(m: m eq g/tag))", resource)


# -- dates and times -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("receivedDateTime eq 2026-03-02T09:00:00Z", True),
        ("receivedDateTime eq 2026-03-02T09:00:00.0000000Z", True),
        ("receivedDateTime eq 2026-03-02T10:00:00+01:00", True),
        ("receivedDateTime eq '2026-03-02T09:00:00.0000000'", True),
        ("receivedDateTime ge 2026-03-02", True),
        ("receivedDateTime lt 2026-03-03", True),
        ("receivedDateTime lt 2026-03-02", False),
        ("receivedDateTime gt 2026-03-02T08:59:59.9999999Z", True),
        ("receivedDateTime gt 2026-03-02T09:00:00Z", False),
        ("start/dateTime eq 2026-03-02T09:00:00Z", True),
        ("start/dateTime eq '2026-03-02T09:00:00Z'", True),
        ("start/dateTime eq '2026-03-02T09:00'", True),
        ("start/dateTime lt 2026-03-02T09:30:00Z", True),
        ("start/dateTime ge '2017-07-01T08:00'", True),
        ("start/dateTime le 2026-03-02T04:00:00-05:00", True),  # the same instant
        ("start/dateTime lt 2026-03-02T04:00:00-05:00", False),
        ("start/dateTime ge 2026-03-02", True),
        ("receivedDateTime eq null", False),
        ("missingDateTime lt 2026-03-02T09:00:00Z", False),
        ("givenName eq 2026-03-02T09:00:00Z", False),  # not a date-time: no match, no error
    ],
)
def test_date_times_compare_as_instants(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_seventh_fractional_digit_is_ignored_not_an_error() -> None:
    resource = {"t": "2026-03-02T09:00:00.1234567"}
    assert matches("t gt 2026-03-02T09:00:00.123456Z", resource) is False
    assert matches("t eq 2026-03-02T09:00:00.123456Z", resource)


# -- null and missing properties -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("surname eq null", True),
        ("surname ne null", False),
        ("missing eq null", True),
        ("missing ne null", False),
        ("givenName ne null", True),
        ("givenName eq null", False),
        ("surname eq 'Smith'", False),
        ("surname ne 'Smith'", True),
        ("surname gt 'A'", False),
        ("surname lt 'A'", False),
        ("surname ge null", False),
        ("surname le null", False),
        ("start/missing eq null", True),
        ("categories/deeper eq null", True),  # no navigation through a collection
        ("null eq null", True),
    ],
)
def test_null_and_missing(text: str, expected: bool) -> None:
    assert matches(text) is expected


# -- literals ------------------------------------------------------------------------------------------------


def test_escaped_quotes() -> None:
    assert matches("displayName eq 'Ann O''Neil'")
    assert not matches("displayName eq 'Ann O''''Neil'")
    assert matches("subject eq 'let''s meet for lunch?'", {"subject": "Let's meet for lunch?"})
    assert matches("s eq ''''", {"s": "'"})
    assert matches("s eq ''", {"s": ""})


def test_string_literals_may_hold_operators_and_punctuation() -> None:
    resource = {"subject": "a eq b and (c, d) / e: f"}
    assert matches("subject eq 'a eq b and (c, d) / e: f'", resource)


def test_unquoted_guid_literal() -> None:
    resource = {"skuId": "184efa21-98c3-4e5d-95ab-d07053a96e67"}
    assert matches("skuId eq 184EFA21-98C3-4E5D-95AB-D07053A96E67", resource)
    assert matches("skuId eq (184efa21-98c3-4e5d-95ab-d07053a96e67)", resource)


# -- syntax errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
        ("givenName eq", "unexpected end of expression"),
        ("givenName eq 'Ann", "unterminated string literal"),
        ("(givenName eq 'Ann'", "expected ')'"),
        ("givenName eq 'Ann')", "unexpected ')'"),
        ("givenName eq 'Ann' and", "unexpected end of expression"),
        ("givenName 'Ann'", "unexpected ''Ann''"),
        ("givenName equals 'Ann'", "unexpected 'equals'"),
        ("and givenName eq 'Ann'", "unexpected 'and'"),
        ("givenName eq 'Ann' & isRead", "character '&' is not valid at position 19"),
        ('givenName eq "Ann"', "character '\"' is not valid"),
        ("frobnicate(givenName, 'A')", "unknown function 'frobnicate'"),
        ("startswith(givenName 'A')", "expected ',' between the arguments"),
        ("startswith(givenName, 'A'", "expected ')' to close"),
        ("categories/any(c c eq 'x')", "expected ':'"),
        ("categories/any(c: c eq 'x'", "expected ')' to close"),
        ("categories/any(c: 'x')", "body of any must be a boolean"),
        ("categories/ eq 'x'", "expected a property name after '/'"),
        ("'Ann'", "must be a boolean expression"),
        ("'Ann' and isRead", "operand of 'and'"),
        ("isRead eq true or 5", "operand of 'or'"),
        ("not 'x'", "operand of 'not'"),
        ("receivedDateTime ge 2026-13-02", "not a valid date"),
        ("cast(size, Edm.Frob) eq 1", "cast to 'Edm.Frob' is not supported"),
        ("givenName in 'Ann'", "expected '(' to open the list"),
        ("size eq 12abc", "character '1' is not valid"),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, fragment: str) -> None:
    with pytest.raises(ODataError) as caught:
        parse_filter(text)
    message = str(caught.value)
    assert message.startswith("Invalid filter clause: ")
    assert fragment in message
    assert caught.value.code == "BadRequest"


def test_syntax_error_position_as_graph_reports_it() -> None:
    # Graph answered "Invalid filter clause: Syntax error at position 17 in '…'." for this clause.
    with pytest.raises(ODataError, match=r"^Invalid filter clause: Syntax error at position 17 in "):
        parse_filter("jobtitle ge '!' , accountenabled eq true")


def test_exchange_strict_refuses_what_exchange_cannot_run() -> None:
    for text in ("endswith(displayName,'x')", "categories/all(c:c eq 'x')"):
        assert callable(parse_filter(text))  # valid OData
        with pytest.raises(ODataError) as caught:
            parse_filter(text, exchange_strict=True)
        assert caught.value.code == "ErrorInvalidUrlQueryFilter"
        assert str(caught.value) == "The query filter contains one or more invalid nodes."
    assert callable(parse_filter("startswith(displayName,'x')", exchange_strict=True))


def test_filter_properties_lists_the_resource_paths_in_order() -> None:
    text = (
        "ReceivedDateTime ge 2026-01-01 and from/emailAddress/address eq 'x' and "
        "singleValueExtendedProperties/any(ep: ep/id eq 'k' and subject eq 'y') and "
        "receivedDateTime lt 2027-01-01"
    )
    assert filter_properties(text) == [
        "ReceivedDateTime",
        "from/emailAddress/address",
        "singleValueExtendedProperties",
        "subject",
    ]


# -- property_value ------------------------------------------------------------------------------------------


def test_property_value_navigates_paths() -> None:
    assert property_value(CONTACT, "start/dateTime") == "2026-03-02T09:00:00.0000000"
    assert property_value(CONTACT, "Start/DateTime") == "2026-03-02T09:00:00.0000000"
    assert property_value(CONTACT, "from/emailAddress/address") == "Bob@Example.com"
    assert property_value(CONTACT, "from/missing/address") is None
    assert property_value(CONTACT, "givenName/length") is None
    assert property_value(CONTACT, "categories") == ["Firm", "VIP"]
    assert property_value(CONTACT, "categories/$count") == 2


# -- $select -------------------------------------------------------------------------------------------------


def test_parse_select() -> None:
    assert parse_select("subject,start, end") == ["subject", "start", "end"]
    assert parse_select(" id ") == ["id"]
    assert parse_select(None) is None
    assert parse_select("") is None
    assert parse_select("  ") is None


@pytest.mark.parametrize("text", ["subject,,start", "subject,", "sub ject", "subject;start", "id eq 1"])
def test_parse_select_rejects_malformed_lists(text: str) -> None:
    with pytest.raises(ODataError, match=r"^Invalid \$select clause") as caught:
        parse_select(text)
    assert caught.value.code == "BadRequest"


# -- $expand -------------------------------------------------------------------------------------------------


def test_parse_expand_extended_property_filter() -> None:
    (expand,) = parse_expand(f"singleValueExtendedProperties($filter=id eq '{KEY_ID}')")
    assert expand.name == "singleValueExtendedProperties"
    assert expand.select is None
    assert expand.filter is not None
    assert expand.filter({"id": KEY_ID.upper(), "value": "k1"})
    assert not expand.filter(
        {"id": "String {00000000-0000-0000-0000-000000000000} Name other", "value": "k1"}
    )


def test_parse_expand_several_with_commas_and_semicolons_inside() -> None:
    expands = parse_expand(
        "singleValueExtendedProperties($filter=id eq 'String {x} Name a,b;c)' or id eq 'y'),"
        " multiValueExtendedProperties($select=id,value;$filter=id eq 'z') , attachments"
    )
    assert [e.name for e in expands] == [
        "singleValueExtendedProperties",
        "multiValueExtendedProperties",
        "attachments",
    ]
    single, multi, attachments = expands
    assert single.filter is not None and single.filter({"id": "string {X} name A,B;C)"})
    assert single.filter({"id": "y"}) and not single.filter({"id": "z"})
    assert multi.select == ["id", "value"]
    assert multi.filter is not None and multi.filter({"id": "Z"})
    assert attachments == Expand("attachments", None, None)


def test_parse_expand_accepts_options_without_dollar_and_in_any_case() -> None:
    (expand,) = parse_expand("SingleValueExtendedProperties($FILTER=(Id eq 'Binary 0x0E0A'); select=id)")
    assert expand.name == "SingleValueExtendedProperties"
    assert expand.select == ["id"]
    assert expand.filter is not None and expand.filter({"id": "binary 0x0e0a"})


def test_parse_expand_empty() -> None:
    assert parse_expand(None) == []
    assert parse_expand("") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a,,b", "an empty item"),
        ("a(", "unbalanced '('"),
        ("a)", "unbalanced ')'"),
        ("a($filter=id eq 'x)", "unterminated string literal"),
        ("a($top=1)", "nested option '$top' is not supported"),
        ("a($filter)", "malformed option"),
        ("a($filter=id eq 'x';$filter=id eq 'y')", "malformed option"),
        ("a(x)(y)", "text after ')'"),
        ("a(x) b", "text after ')'"),
        ("a b", "not a navigation property"),
        ("a($filter=id eq)", "Invalid filter clause"),
        ("a($select=x y)", "Invalid $select clause"),
    ],
)
def test_parse_expand_errors(text: str, fragment: str) -> None:
    with pytest.raises(ODataError) as caught:
        parse_expand(text)
    assert fragment in str(caught.value)


# -- $orderby ------------------------------------------------------------------------------------------------


def test_parse_orderby() -> None:
    assert parse_orderby("receivedDateTime desc") == [("receivedDateTime", True)]
    assert parse_orderby("from/emailAddress/name desc,subject") == [
        ("from/emailAddress/name", True),
        ("subject", False),
    ]
    assert parse_orderby(" start/dateTime ASC , displayName  DESC ") == [
        ("start/dateTime", False),
        ("displayName", True),
    ]
    assert parse_orderby(None) == []
    assert parse_orderby("") == []


@pytest.mark.parametrize("text", ["subject,", "subject sideways", "subject desc asc", ",subject", "a//b"])
def test_parse_orderby_rejects_malformed(text: str) -> None:
    with pytest.raises(ODataError, match=r"^Invalid \$orderby clause"):
        parse_orderby(text)


def test_sort_key_puts_null_first_ignores_case_and_reads_instants() -> None:
    items = [
        {"id": 1, "name": "bob", "t": "2026-03-02T09:00:00Z"},
        {"id": 2, "t": "2026-03-02T08:00:00.0000000"},
        {"id": 3, "name": "Alice", "t": None},
        {"id": 4, "name": "carol", "t": "2026-03-02T08:30:00+00:00"},
    ]
    assert [i["id"] for i in sorted(items, key=sort_key("name"))] == [2, 3, 1, 4]
    assert [i["id"] for i in sorted(items, key=sort_key("T"))] == [3, 2, 4, 1]


def test_sort_resources_mixed_directions_and_paths() -> None:
    items = [
        {"id": 1, "from": {"emailAddress": {"name": "Bob"}}, "subject": "b"},
        {"id": 2, "from": {"emailAddress": {"name": "ann"}}, "subject": "z"},
        {"id": 3, "from": {"emailAddress": {"name": "Bob"}}, "subject": "A"},
        {"id": 4, "subject": "m"},
    ]
    ordered = sort_resources(items, parse_orderby("from/emailAddress/name desc,subject"))
    assert [i["id"] for i in ordered] == [3, 1, 2, 4]  # null sorts first, so last when descending
    assert [i["id"] for i in sort_resources(items, [])] == [1, 2, 3, 4]


# -- properties ----------------------------------------------------------------------------------------------

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
texts = st.text(alphabet="aAbBé' ,()", max_size=4)
instants = st.integers(min_value=-3, max_value=3).map(lambda minutes: BASE + timedelta(minutes=minutes * 30))


def stored(moment: datetime, style: int) -> str:
    """Date-times in each textual form Graph uses."""
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def literal(moment: datetime, style: int) -> str:
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return "'" + moment.strftime("%Y-%m-%dT%H:%M:%S.0000000") + "'"
    # an offset other than UTC denotes the same instant
    return moment.astimezone(timezone(timedelta(hours=-5))).isoformat(timespec="seconds")


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


MISSING = object()


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    resource: dict[str, Any] = {}
    for key, values in (
        ("displayName", st.one_of(st.none(), texts, st.just(MISSING))),
        ("isRead", st.one_of(st.none(), st.booleans(), st.just(MISSING))),
        ("categories", st.lists(texts, max_size=3)),
        (
            "receivedDateTime",
            st.one_of(st.none(), st.builds(stored, instants, st.integers(0, 2)), st.just(MISSING)),
        ),
    ):
        value = draw(values)
        if value is not MISSING:
            resource[key] = value
    return resource


operators = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])
atoms = st.one_of(
    st.builds(lambda op, s: f"displayName {op} {quote(s)}", operators, texts),
    st.builds(lambda op: f"displayName {op} null", st.sampled_from(["eq", "ne"])),
    st.builds(lambda v: f"isRead eq {v}", st.sampled_from(["true", "false", "null"])),
    st.just("isRead"),
    st.builds(
        lambda op, m, style: f"receivedDateTime {op} {literal(m, style)}",
        operators,
        instants,
        st.integers(0, 2),
    ),
    st.builds(lambda s: f"categories/any(c: c eq {quote(s)})", texts),
    st.builds(lambda s: f"categories/all(c: startswith(c, {quote(s)}))", texts),
    st.builds(
        lambda f, s: f"{f}(displayName, {quote(s)})",
        st.sampled_from(["startswith", "endswith", "contains"]),
        texts,
    ),
)
expressions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(expressions, resources())
def test_not_is_the_negation(text: str, resource: dict[str, Any]) -> None:
    assert parse_filter(f"not ({text})")(resource) is (not parse_filter(text)(resource))


@settings(max_examples=300, deadline=None)
@given(expressions, expressions, expressions, resources())
def test_and_or_combine_their_operands(a: str, b: str, c: str, resource: dict[str, Any]) -> None:
    left, middle, right = (parse_filter(x)(resource) for x in (a, b, c))
    assert parse_filter(f"({a}) and ({b})")(resource) is (left and middle)
    assert parse_filter(f"({a}) or ({b})")(resource) is (left or middle)
    # and binds tighter than or, whichever side it stands on
    assert parse_filter(f"({a}) or ({b}) and ({c})")(resource) is (left or (middle and right))
    assert parse_filter(f"({a}) and ({b}) or ({c})")(resource) is ((left and middle) or right)


@settings(max_examples=200, deadline=None)
@given(texts, texts)
def test_quoted_strings_round_trip(stored_text: str, wanted: str) -> None:
    predicate = parse_filter(f"displayName eq {quote(wanted)}")
    assert predicate({"displayName": stored_text}) is (stored_text.casefold() == wanted.casefold())


@settings(max_examples=200, deadline=None)
@given(operators, instants, st.integers(0, 2), instants, st.integers(0, 2))
def test_date_times_compare_as_instants_in_every_form(
    op: str, value: datetime, value_style: int, bound: datetime, bound_style: int
) -> None:
    python = {"eq": "__eq__", "ne": "__ne__", "gt": "__gt__", "ge": "__ge__", "lt": "__lt__", "le": "__le__"}[
        op
    ]
    resource = {"receivedDateTime": stored(value, value_style)}
    predicate = parse_filter(f"receivedDateTime {op} {literal(bound, bound_style)}")
    assert predicate(resource) is getattr(value, python)(bound)


def instant_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(".0000000", ""))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(st.lists(resources(), max_size=6), st.booleans())
def test_orderby_sorts_instants_with_null_first(items: list[dict[str, Any]], descending: bool) -> None:
    ordered = sort_resources(items, [("receivedDateTime", descending)])
    moments = [instant_of(property_value(i, "receivedDateTime")) for i in ordered]
    if descending:
        moments.reverse()
    for earlier, later in itertools.pairwise(moments):
        assert earlier is None or (later is not None and earlier <= later)
