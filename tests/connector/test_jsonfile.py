"""The file-backed store: what one process writes, the next one reads."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exsync.connector import Create, Rejected, Scope, Side, Staff, Update, Written
from exsync.model import Contact, Event
from exsync.testing import Crash, JsonFileStore, MemoryConnector


def contact(n: int) -> Contact:
    return Contact(first_name=f"Ada{n}", notes="line 1\nline 2", emails=[f"ada{n}@example.com"])


def test_a_new_store_needs_a_side_and_is_written(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.json"
    with pytest.raises(ValueError, match="which side"):
        JsonFileStore(path)
    JsonFileStore(path, Side.MAILBOX)
    assert json.loads(path.read_text())["side"] == "mailbox"
    assert JsonFileStore(path).side is Side.MAILBOX
    with pytest.raises(ValueError, match="mailbox side"):
        JsonFileStore(path, Side.BUSINESS)


def test_everything_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "business.json"
    store = JsonFileStore(path, Side.BUSINESS, tables={"calendar": "events"})
    contacts = MemoryConnector(store, Side.BUSINESS, "contacts", owner="JD")
    kept = contacts.put(contact(1), "AAMk1")
    hidden = store.put(contact(2), owner="AB")
    gone = store.put(contact(3))
    event = store.put(Event(subject="Hearing", start="2026-03-02 10:00", time_zone="Europe/Paris"))
    store.soft_delete(hidden)
    store.set_staff([Staff(1, "JD", "Jane Doe", "jd@firm.example", time_zone="Europe/Paris")])
    token = contacts.changes(None).token
    store.remove(gone)
    store.faults.reject(kept, "bad phone")
    contacts.changes(None)

    again = JsonFileStore(path)
    assert again.records() == store.records()
    assert event == "events:1"
    assert again.staff() == store.staff()
    assert again.calls == store.calls and again.calls.lists == 2
    reopened = MemoryConnector(again, Side.BUSINESS, "contacts", owner="JD")
    assert reopened.fetch([hidden])[hidden].scope is Scope.DELETED
    assert token is not None
    assert gone in reopened.changes(token).removed  # delta tokens stay valid
    version = reopened.fetch([kept])[kept].version
    [outcome] = reopened.apply([Update(kept, {"notes": "x"}, version)])
    assert isinstance(outcome, Rejected) and str(outcome) == "bad phone"  # faults too
    assert again.put(contact(4)) == "people:4"  # numbering goes on


def test_each_operation_sees_what_another_process_wrote(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.json"
    ours, theirs = JsonFileStore(path, Side.MAILBOX), JsonFileStore(path)
    id = ours.put(contact(1), "contacts:people:1")
    assert theirs.get(id) is not None
    theirs.edit(id, first_name="Grace")
    ours.touch(id)  # reloads first: the edit is not lost
    record = JsonFileStore(path).get(id)
    assert record is not None and isinstance(record.item, Contact) and record.item.first_name == "Grace"
    theirs.faults.throttle(1)  # a fault set in a test reaches the other process
    [outcome] = MemoryConnector(ours, Side.MAILBOX, "contacts").apply([Create(contact(2), "k")])
    assert not isinstance(outcome, Written)
    theirs.reload()  # plain attributes show the file as of the last operation
    assert theirs.faults.pending == []  # consumed, and saved as consumed


def test_a_write_before_a_crash_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.json"
    store = JsonFileStore(path, Side.MAILBOX)
    mailbox = MemoryConnector(store, Side.MAILBOX, "contacts")
    store.faults.crash_after(1)
    with pytest.raises(Crash):
        mailbox.apply([Create(contact(1), "contacts:people:1"), Create(contact(2), "contacts:people:2")])
    assert [r.stamp for r in JsonFileStore(path).records()] == ["contacts:people:1"]


def test_a_subprocess_shares_the_store(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.json"
    store = JsonFileStore(path, Side.MAILBOX)
    id = store.put(contact(1), "contacts:people:1")
    script = textwrap.dedent(
        f"""
        from exsync.connector import Update
        from exsync.testing import JsonFileStore, MemoryConnector
        mailbox = MemoryConnector(JsonFileStore({str(path)!r}), "mailbox", "contacts")
        record = mailbox.fetch([{id!r}])[{id!r}]
        print(mailbox.apply([Update(record.id, {{"job_title": "Engineer"}}, record.version)]))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    record = store.get(id)
    assert record is not None and isinstance(record.item, Contact)
    assert record.item.job_title == "Engineer"
    assert store.calls.updates == 1 and store.calls.fetches == 1
