"""The canonical items: normalised on construction, projections, carried fields and hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import hypothesis.strategies as st
import pytest
from hypothesis import given
from pydantic import ValidationError

from exsync.model import (
    MODELS,
    Attendee,
    Contact,
    Event,
    MailMessage,
    Occurrence,
    Task,
    field_hashes,
    model_for,
    projection_hash,
    value_hash,
)


def test_values_are_normalised_when_an_item_is_built() -> None:
    c = Contact(
        first_name=" Zoe\u0308 ", notes="a  \r\nb\r\n", job_title=None,
        emails=["Zoe@Example.COM", "zoe@example.com", "", "x@XN--MNCHEN-3YA.DE"],
        business_phones=[" +44 1 ", ""], categories="VIP, firm ,Firm,VIP", birthday="1990-02-03T00:00:00",
    )  # fmt: skip
    assert c.first_name == "Zoë"
    assert c.notes == "a\nb"
    assert c.job_title == ""
    assert c.emails == ["Zoe@example.com", "x@münchen.de"]
    assert c.business_phones == ["+44 1"]
    assert c.categories == ["Firm", "firm", "VIP"]
    assert c.birthday == "1990-02-03"


def test_items_are_frozen_and_strict() -> None:
    c = Contact(first_name="Ada")
    with pytest.raises(ValidationError):
        c.first_name = "Bob"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Contact(nickname="Ada")  # type: ignore[call-arg]


def test_attendees_are_ordered_by_address_and_normalised() -> None:
    e = Event(attendees=[
        Attendee(email="zed@Example.com"), Attendee(email="Amy@EXAMPLE.com", name=" Amy "),
        Attendee(email="bob@xn--mnchen-3ya.de", role="optional"),
    ])  # fmt: skip
    assert [a.email for a in e.attendees] == ["Amy@example.com", "bob@münchen.de", "zed@example.com"]
    assert e.attendees[0].name == "Amy"
    shuffled = Event(attendees=list(reversed(e.attendees)))
    assert shuffled.projection() == e.projection()


def test_exceptions_are_ordered_by_original_start() -> None:
    late = Occurrence(original_start="2026-03-09T09:00:00", subject="Moved")
    early = Occurrence(original_start="2026-03-02 09:00", cancelled="1")
    e = Event(recurrence="FREQ=WEEKLY;BYDAY=MO", exceptions=[late, early])
    assert [o.original_start for o in e.exceptions] == ["2026-03-02 09:00", "2026-03-09 09:00"]
    assert e.exceptions[0].cancelled is True


def test_subject_and_location_are_cut_to_255() -> None:
    e = Event(subject="s" * 400, location="l " * 1000)
    assert len(e.subject) == 255 and len(e.location) <= 255 and not e.location.endswith(" ")
    assert len(Task(subject="t" * 300).subject) == 255
    assert len(Occurrence(original_start="2026-01-01", subject="o" * 300).subject) == 255


@pytest.mark.parametrize(
    ("item", "carried"),
    [
        (Event(ical_uid="uid-1", organizer="Boss@Example.com", is_organizer=False, body_html="<p>x</p>"),
         {"ical_uid", "organizer", "is_organizer", "body_html"}),
        (Task(body_html="<p>x</p>"), {"body_html"}),
        (MailMessage(body_html="<p>x</p>", size_bytes=10, folder="inbox"),
         {"body_html", "size_bytes", "conversation_id", "in_reply_to", "folder", "direction"}),
        (Contact(), set()),
    ],
)  # fmt: skip
def test_projection_is_the_compared_fields_only(
    item: Event | Task | MailMessage | Contact, carried: set[str]
) -> None:
    projection = item.projection()
    assert set(projection) == set(type(item).COMPARED)
    assert set(item.carried()) == carried
    assert not set(projection) & carried
    json.dumps(projection)  # JSON-compatible


def test_carried_fields_never_change_the_projection() -> None:
    a = Event(subject="Call", ical_uid="a", body_html="<b>Call</b>", is_organizer=True)
    b = Event(subject="Call", ical_uid="b", body_html="", is_organizer=False, organizer="x@y.z")
    assert a.projection() == b.projection()
    assert projection_hash(a.projection()) == projection_hash(b.projection())


def test_with_changes_normalises_and_keeps_the_rest() -> None:
    c = Contact(first_name="Ada", city="London")
    d = c.with_changes({"city": " Paris\r\n", "emails": ["A@B.COM"]})
    assert (d.first_name, d.city, d.emails) == ("Ada", "Paris", ["A@b.com"])  # type: ignore[attr-defined]
    assert c.city == "London"


@pytest.mark.parametrize("model", [Event, Task])
def test_a_new_body_replaces_the_formatted_body(model: type[Event] | type[Task]) -> None:
    item = model(body="Agenda", body_html="<p><b>Agenda</b></p>")
    assert item.with_changes({"subject": "Other"}).body_html == "<p><b>Agenda</b></p>"  # type: ignore[attr-defined]
    assert item.with_changes({"body": " Agenda\r\n"}).body_html == "<p><b>Agenda</b></p>"  # type: ignore[attr-defined]  # same text
    assert item.with_changes({"body": "New"}).body_html == ""  # type: ignore[attr-defined]
    both = item.with_changes({"body": "New", "body_html": "<p>New</p>"})
    assert both.body_html == "<p>New</p>"  # type: ignore[attr-defined]


def test_identity_and_meeting_rules() -> None:
    assert Event(ical_uid="uid-1").identity() == "uid-1"
    assert Event().identity() is None and Contact().identity() is None
    guest = Event(attendees=[Attendee(email="a@b.c")], is_organizer=False)
    assert guest.mailbox_read_only() and guest.removal_unlinks()
    own = Event(attendees=[Attendee(email="a@b.c")])
    assert not own.mailbox_read_only() and own.removal_unlinks()
    assert not Event().mailbox_read_only() and not Event().removal_unlinks()


def test_models_by_part() -> None:
    assert {part: model_for(part) for part in MODELS} == {
        "contacts": Contact, "calendar": Event, "tasks": Task, "mail": MailMessage,
    }  # fmt: skip


# -- hashes ---------------------------------------------------------------------------------------


def test_field_hashes_are_per_field_and_stable() -> None:
    a = Contact(first_name="Ada", city="London").projection()
    b = Contact(first_name="Ada", city="Paris").projection()
    ha, hb = field_hashes(a), field_hashes(b)
    assert set(ha) == set(a)
    assert ha["first_name"] == hb["first_name"] and ha["city"] != hb["city"]
    assert field_hashes(Contact(first_name="Ada", city="London").projection()) == ha
    assert value_hash(["b", "a"]) != value_hash(["a", "b"])  # lists are ordered values
    assert value_hash({"x": 1, "y": 2}) == value_hash({"y": 2, "x": 1})
    assert value_hash("") != value_hash(None)  # the model maps None to "" before hashing, not the hash


def test_hashes_are_the_same_in_every_process() -> None:
    """Hashes may be kept and compared later: no per-process salt (unlike Python's hash())."""
    code = (
        "from exsync.model import Contact, projection_hash; "
        "print(projection_hash(Contact(first_name='Ada', categories='b,a,B', emails=['x@Y.z']).projection()))"
    )
    seen = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                       capture_output=True, text=True, check=True).stdout.strip()
        for seed in range(4)
    }  # fmt: skip
    assert len(seen) == 1
    assert seen == {
        projection_hash(Contact(first_name="Ada", categories="b,a,B", emails=["x@Y.z"]).projection())
    }


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=12), VALUES, max_size=8), st.randoms(use_true_random=False))
def test_projection_hash_ignores_field_order(fields: dict[str, object], rnd: object) -> None:
    items = list(fields.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    assert projection_hash(dict(items)) == projection_hash(fields)
    assert field_hashes(dict(items)) == field_hashes(fields)


@given(st.dictionaries(st.text(max_size=12), VALUES, min_size=1, max_size=8), st.data())
def test_projection_hash_sees_every_field(fields: dict[str, object], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(fields)))
    changed = {**fields, name: ["a value no strategy draws", fields[name]]}
    assert projection_hash(changed) != projection_hash(fields)


CONTACT_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "first_name": st.text(max_size=10), "city": st.text(max_size=10) | st.none(),
        "emails": st.lists(st.emails() | st.text(max_size=8), max_size=3),
        "categories": st.lists(st.sampled_from(["Firm", "firm", "VIP", " vip ", ""]), max_size=4),
        "notes": st.text(max_size=20),
    },
)  # fmt: skip


@given(CONTACT_FIELDS)
def test_rebuilding_an_item_from_its_projection_changes_nothing(fields: dict[str, object]) -> None:
    """Normalisation is idempotent at the item level too: what was written reads back the same."""
    item = Contact(**fields)  # type: ignore[arg-type]
    again = Contact(**item.projection())
    assert again == item
    assert projection_hash(again.projection()) == projection_hash(item.projection())
