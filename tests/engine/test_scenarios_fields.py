"""SCENARIOS.md 63, 65, 66: field content — very long values, HTML bodies, whitespace and empties."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from exsync.connector import Outcome, Side, Update, Write
from exsync.model import Canonical, Contact, Event, Task
from exsync.testing.memory import MemoryConnector

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type

NONE = {"created": 0, "updated": 0, "deleted": 0}


def ok(report: Any) -> Any:
    assert report.outcome == "ok", report.as_json()
    return report


def patches(connector: MemoryConnector) -> list[dict[str, Any]]:
    """Records the patch of every update the connector is asked for, from now on."""
    seen: list[dict[str, Any]] = []
    inner = connector.apply

    def apply(writes: Sequence[Write]) -> list[Outcome]:
        seen.extend(dict(w.patch) for w in writes if isinstance(w, Update))
        return inner(writes)

    connector.apply = apply  # type: ignore[method-assign]
    return seen


def synced(h: Harness, item: Canonical) -> tuple[str, str]:
    bid = h.b.put(item)
    report = ok(h.run())
    assert report.tally.writes[Side.MAILBOX].created == 1
    mid = h.mailbox_id(bid)
    assert mid is not None
    return bid, mid


# -- 63. very long fields -------------------------------------------------------------------------
LONG_SUBJECT = "Hearing in the matter of Smith v. Jones, " * 10  # 410 characters
LONG_LOCATION = "Courtroom 4B, second floor, " * 72  # 2,016 characters
BIG_BODY = ("Line of the minutes with some text." * 28 + "\n") * 3_100  # about 3 MB


def test_scenario_63_long_fields_are_cut_deterministically(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("calendar")
    assert len(LONG_SUBJECT) >= 400 and len(LONG_LOCATION) >= 2_000 and len(BIG_BODY) >= 3_000_000
    event = Event(subject=LONG_SUBJECT, location=LONG_LOCATION, body=BIG_BODY,
                  start="2026-04-01 09:00", end="2026-04-01 12:00")  # fmt: skip
    # The model's limits: subject and location 255 characters, cut the same way every time.
    assert event.subject == LONG_SUBJECT[:255].rstrip() and len(event.subject) <= 255
    assert event.location == LONG_LOCATION[:255].rstrip()
    assert Event(subject=LONG_SUBJECT).subject == event.subject
    assert Event(subject=event.subject).subject == event.subject  # cutting again changes nothing

    bid, mid = synced(h, event)

    mailbox = h.m.get(mid)
    assert mailbox is not None
    assert mailbox.item.subject == event.subject  # type: ignore[attr-defined]
    assert mailbox.item.location == event.location  # type: ignore[attr-defined]
    same_body = mailbox.item.body == event.body  # type: ignore[attr-defined]  # (no 3 MB diff on failure)
    assert same_body and len(event.body) > 2_900_000  # no limit on the body: it travels whole
    assert h.snapshot(bid) == event.projection()  # the hash is over the cut projection
    assert h.b.calls.writes == 0  # the cut value is never written back over the business value
    h.assert_quiet()
    h.assert_quiet(full=True)


def test_scenario_63_only_the_edited_field_is_written_back(make_harness: Callable[..., Harness]) -> None:
    """The business side keeps its own (full) subject and location: a mailbox edit of another field
    is written back as that field alone."""
    h = make_harness("calendar")
    _, mid = synced(h, Event(subject=LONG_SUBJECT, location=LONG_LOCATION, start="2026-04-01 09:00",
                               end="2026-04-01 12:00"))  # fmt: skip
    to_business = patches(h.business)
    h.m.edit(mid, body="Bring the file.")

    report = ok(h.run())

    assert report.tally.writes[Side.BUSINESS].updated == 1
    assert to_business == [{"body": "Bring the file."}]
    h.assert_quiet()


def test_scenario_63_long_task_subject(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("tasks")
    _, mid = synced(h, Task(subject="x" * 400, body="y" * 100_000))
    assert h.m.get(mid).item.subject == "x" * 255  # type: ignore[union-attr]
    h.assert_quiet()


# -- 65. HTML in the mailbox, plain text in the business database ---------------------------------
BODY = "Agenda:\n1. Introductions\n2. Next steps"
HTML = "<html><body><p><b>Agenda:</b></p><ol><li>Introductions</li><li>Next steps</li></ol></body></html>"


def item_with_body(part: str) -> Canonical:
    if part == "calendar":
        return Event(subject="Kick-off", body=BODY, start="2026-04-01 09:00", end="2026-04-01 10:00")
    return Task(subject="Kick-off", body=BODY, due="2026-04-01")


@pytest.mark.parametrize("part", ["calendar", "tasks"])
def test_scenario_65_formatted_body_is_not_replaced_by_plain_text(
    make_harness: Callable[..., Harness], part: str
) -> None:
    h = make_harness(part)
    bid, mid = synced(h, item_with_body(part))
    # Outlook stores the body formatted; its plain-text projection is the business's text.
    h.m.edit(mid, body_html=HTML, body="Agenda:\r\n1. Introductions  \r\n2. Next steps\r\n")

    report = ok(h.run())

    assert {s.value: report.tally.writes[s].as_dict() for s in Side} == {"business": NONE, "mailbox": NONE}
    assert h.m.get(mid).item.body_html == HTML  # type: ignore[union-attr]
    h.assert_quiet()
    assert h.m.get(mid).item.body_html == HTML  # type: ignore[union-attr]

    # The business body really changes: the mailbox body is replaced, formatting and all.
    to_mailbox = patches(h.mailbox)
    h.b.edit(bid, body="Agenda:\n1. Introductions\n2. Next steps\n3. Fees")

    report = ok(h.run())

    assert report.tally.writes[Side.MAILBOX].updated == 1
    assert to_mailbox == [{"body": "Agenda:\n1. Introductions\n2. Next steps\n3. Fees"}]
    record = h.m.get(mid)
    assert record is not None
    assert record.item.body == "Agenda:\n1. Introductions\n2. Next steps\n3. Fees"  # type: ignore[attr-defined]
    assert record.item.body_html == ""  # type: ignore[attr-defined]  # the stale formatted copy is gone
    assert h.b.calls.writes == 0
    h.assert_quiet()


# -- 66. line endings, trailing spaces, None and "" ----------------------------------------------
def test_scenario_66_whitespace_and_empties_cause_no_update(harness: Harness) -> None:
    h = harness
    bid, mid = synced(h, Contact(first_name="Zoë", last_name="Ng", notes="first line\nsecond line",
                                 job_title=None, department="", emails=["zoe@example.com"]))  # fmt: skip
    # Each side's server hands the same values back in its own way.
    h.m.edit(mid, notes="first line  \r\nsecond line\r\n", job_title="", department=None, last_name=" Ng ")
    h.b.edit(bid, notes="first line\rsecond line   ", job_title=None, first_name="Zoe\u0308")  # NFD "ë"

    report = ok(h.run())

    assert {s.value: report.tally.writes[s].as_dict() for s in Side} == {"business": NONE, "mailbox": NONE}
    assert report.tally.conflicts == 0
    link = h.link(bid)
    record_b, record_m = h.b.get(bid), h.m.get(mid)
    assert link is not None and record_b is not None and record_m is not None
    assert (link.business_version, link.mailbox_version) == (record_b.version, record_m.version)
    h.assert_quiet()


def test_scenario_66_event_fields(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("calendar")
    _, mid = synced(h, Event(subject="Call", body="a\nb", location=None, reminder_minutes=None,
                               start="2026-04-01 09:00", end="2026-04-01 09:30"))  # fmt: skip
    h.m.edit(mid, body="a\r\nb \r\n", location="", reminder_minutes="", start="2026-04-01T09:00:00")
    h.assert_quiet()
