"""Value normalisation (DESIGN.md rule 1): examples, then Hypothesis properties (idempotence)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime

import hypothesis.strategies as st
import pytest
from hypothesis import given

from exsync.model import normalise as n

# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("  Ada  ", "Ada"),
        ("a\r\nb\rc\nd", "a\nb\nc\nd"),  # CRLF and lone CR become LF
        ("line one   \r\nline two\t\r\n", "line one\nline two"),  # trailing spaces and tabs per line
        ("  indented\n  kept", "indented\n  kept"),  # leading spaces inside stay
        ("Zoe\u0308", "Zoë"),  # NFD -> NFC
        ("Zo\u00eb", "Zoë"),
        (42, "42"),
    ],
)
def test_text(raw: object, expected: str) -> None:
    assert n.text(raw) == expected


def test_text_nfc_is_one_code_point() -> None:
    assert len(n.text("e\u0301")) == 1


def test_text_truncation_is_deterministic_and_strips_the_cut() -> None:
    assert n.text("x" * 300, max_length=255) == "x" * 255
    assert n.text("word " * 100, max_length=255) == ("word " * 51).rstrip()  # cut at a space: no trailing
    assert n.text("short", max_length=255) == "short"
    assert n.text("  padded  ", max_length=6) == "padded"  # stripped before it is measured


# -- e-mail addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ada@Example.COM", "Ada@example.com"),  # the domain is case-folded, the local part is not
        ("  ada@example.com \r\n", "ada@example.com"),
        ("ada@example.com.", "ada@example.com"),  # the root dot
        ("jürgen@XN--MNCHEN-3YA.DE", "jürgen@münchen.de"),  # IDNA-decoded
        ("info@xn--bcher-kva.example", "info@bücher.example"),
        ("info@BÜCHER.example", "info@bücher.example"),
        ("info@bu\u0308cher.example", "info@bücher.example"),  # NFC inside the domain
        ("odd@xn--invalid-.example", "odd@xn--invalid-.example"),  # not punycode: kept as written
        ("a@b@Example.ORG", "a@b@example.org"),  # the last @ separates the domain
        ("no-at-sign", "no-at-sign"),
        (None, ""),
    ],
)
def test_email(raw: object, expected: str) -> None:
    assert n.email(raw) == expected


def test_domain_name() -> None:
    assert n.domain_name("WWW.XN--MNCHEN-3YA.DE.") == "www.münchen.de"


def test_email_domain_with_sharp_s_is_kept() -> None:
    assert n.email("a@faß.de") == "a@faß.de"
    assert n.email("a@xn--fa-hia.de") == "a@faß.de"


def test_emails_keep_order_and_drop_repeats_and_empties() -> None:
    raw = ["b@x.org", "", None, "A@Example.com", "a@EXAMPLE.com", " B@X.ORG "]
    assert n.emails(raw) == ["b@x.org", "A@example.com"]
    assert n.emails(None) == []


# -- lists ----------------------------------------------------------------------------------------


def test_texts_keep_order() -> None:
    assert n.texts([" +44 1 ", "", None, "+44 2", "+44 1"]) == ["+44 1", "+44 2", "+44 1"]


def test_tags_are_a_sorted_set() -> None:
    assert n.tags("Firm, clients ,Firm,,VIP") == ["clients", "Firm", "VIP"]
    assert n.tags(["b", "A", "a", "b"]) == ["A", "a", "b"]
    assert n.tags(None) == [] and n.tags("") == []


def test_tags_that_differ_only_in_case_sort_the_same_in_every_process() -> None:
    """The order must not depend on set iteration (string hashing is randomised per process):
    a snapshot stored by one process would look changed to the next."""
    code = "from exsync.model import normalise as n; print(n.tags(['firm', 'FIRM', 'Firm', 'b']))"
    seen = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        seen.add(out.stdout.strip())
    assert seen == {str(n.tags(["b", "Firm", "FIRM", "firm"]))}
    assert n.tags(["firm", "FIRM", "Firm"]) == ["FIRM", "Firm", "firm"]


# -- scalars --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), (" Yes ", True), ("t", True), ("y", True), (1, True), (True, True),
    ("0", False), ("no", False), ("", False), (None, False), (0, False), ("false", False),
])  # fmt: skip
def test_flag(raw: object, expected: bool) -> None:
    assert n.flag(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), (15, 15), ("15", 15), (" 15 ", 15), (True, 1)]
)
def test_integer(raw: object, expected: int | None) -> None:
    assert n.integer(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("2026-03-01", "2026-03-01"),
        ("2026-03-01T10:30:00Z", "2026-03-01"),
        (date(2026, 3, 1), "2026-03-01"),
        (datetime(2026, 3, 1, 23, 59), "2026-03-01"),
    ],
)
def test_day(raw: object, expected: str) -> None:
    assert n.day(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("2026-03-01", "2026-03-01"),  # a floating date stays a date
        ("2026-03-01 09:00", "2026-03-01 09:00"),
        ("2026-03-01T09:00:00", "2026-03-01 09:00"),
        ("2026-03-01T09:00:59.1234567", "2026-03-01 09:00"),  # Graph's seven decimals
        (datetime(2026, 3, 1, 9, 0, 30), "2026-03-01 09:00"),
        (date(2026, 3, 1), "2026-03-01"),
    ],
)
def test_wall_time(raw: object, expected: str) -> None:
    assert n.wall_time(raw) == expected


# -- properties: normalising a normalised value changes nothing -----------------------------------
WHITESPACE = st.sampled_from([" ", "\t", "\r\n", "\r", "\n", "\u00a0", "\u2028"])
MESSY = st.lists(
    st.one_of(st.text(), WHITESPACE, st.sampled_from(["e\u0301", "\u212b", "ﬁ"])), max_size=8
).map("".join)
LABEL = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}", fullmatch=True),
    st.sampled_from(
        ["XN--MNCHEN-3YA", "xn--bcher-kva", "MÜNCHEN", "bu\u0308cher", "xn--zz", "ß", "İstanbul"]
    ),
)
DOMAIN = st.lists(LABEL, min_size=1, max_size=3).map(".".join)
EMAIL = st.builds(lambda local, domain, pad: f"{pad}{local}@{domain}{pad}", MESSY, DOMAIN, WHITESPACE)


@given(MESSY, st.one_of(st.none(), st.integers(1, 300)))
def test_text_is_idempotent(value: str, limit: int | None) -> None:
    once = n.text(value, max_length=limit)
    assert n.text(once, max_length=limit) == once
    if limit is not None:
        assert len(once) <= limit


@given(st.one_of(EMAIL, MESSY))
def test_email_is_idempotent(value: str) -> None:
    once = n.email(value)
    assert n.email(once) == once


@given(st.lists(st.one_of(EMAIL, MESSY, st.none()), max_size=6))
def test_emails_is_idempotent(values: list[str | None]) -> None:
    once = n.emails(values)
    assert n.emails(once) == once


@given(st.lists(st.one_of(MESSY, st.sampled_from(["Firm", "firm", "FIRM", "VIP"])), max_size=8))
def test_tags_is_idempotent_and_order_free(values: list[str]) -> None:
    once = n.tags(values)
    assert n.tags(once) == once
    assert n.tags(list(reversed(values))) == once
    assert n.tags(",".join(v.replace(",", " ") for v in values)) == n.tags(
        [v.replace(",", " ") for v in values]
    )


@given(
    st.datetimes(min_value=datetime(1900, 1, 1)),
    st.sampled_from(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
)
def test_wall_time_and_day_are_idempotent(moment: datetime, fmt: str) -> None:
    raw = moment.strftime(fmt)
    once = n.wall_time(raw)
    assert n.wall_time(once) == once
    assert n.day(n.day(raw)) == n.day(raw) == moment.date().isoformat()
