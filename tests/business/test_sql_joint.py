"""The state store in the business database: the rows sync writes and the links that record them
commit together, so a crash between the two leaves neither (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlfirm import TODAY, Firm, open_firm

from exsync.business.sql import SqlBusiness
from exsync.connector import Side
from exsync.engine import PairRun, RunOptions
from exsync.engine.policy import policy_for
from exsync.model import Event
from exsync.settings import ProfileSettings, fingerprint
from exsync.state import StateStore
from exsync.testing.faults import Crash
from exsync.testing.memory import MemoryConnector, MemoryStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_firm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Firm]:
    """A firm in a database of its own (the state store's tables go into it too)."""
    url = (
        f"sqlite:///{tmp_path / 'firm.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    yield from open_firm(url)


def crash_before_recording(step: str) -> None:
    if step == "before-record":
        raise Crash(step)


def run(firm: Firm, store: StateStore, mailbox: MemoryStore, **options: object) -> None:
    settings = ProfileSettings().calendar
    business = SqlBusiness.open(firm.url, today=TODAY)
    try:
        business.join_state_store(store)
        PairRun(
            "AB", "calendar", policy_for(settings), business.connector(firm.profile(), "calendar", settings),
            MemoryConnector(mailbox, Side.MAILBOX, "calendar"), store, fingerprint(settings),
            RunOptions(**options),  # type: ignore[arg-type]
        ).run()  # fmt: skip
    finally:
        business.close()


def rows(firm: Firm) -> list[str]:
    return [r[0] for r in firm.sql("SELECT subject FROM activities ORDER BY id")]


def test_the_store_in_the_same_database_is_joined(own_firm: Firm, tmp_path: Path) -> None:
    with StateStore(own_firm.url) as same, StateStore(f"sqlite:///{tmp_path / 'state.db'}") as other:
        assert own_firm.business.join_state_store(same)
        assert not own_firm.business.join_state_store(other)


def test_a_crash_before_recording_rolls_the_row_back_with_its_link(own_firm: Firm) -> None:
    mailbox = MemoryStore(Side.MAILBOX, name="AB")
    mailbox.put(Event(subject="Dentist", start="2026-03-18 08:00", end="2026-03-18 09:00", time_zone="UTC"))
    with StateStore(own_firm.url) as store:
        with pytest.raises(Crash):
            run(own_firm, store, mailbox, on_step=crash_before_recording)
        assert rows(own_firm) == []  # the insert went with the transaction the crash aborted
        assert own_firm.sql("SELECT COUNT(*) FROM exsync_stamps")[0][0] == 0
        assert store.links("AB", "calendar") == {}
        run(own_firm, store, mailbox)
        assert rows(own_firm) == ["Dentist"]
        assert len(store.links("AB", "calendar")) == 1


def test_with_a_separate_store_the_row_stays_and_is_paired_by_its_stamp(
    own_firm: Firm, tmp_path: Path
) -> None:
    """The contrast: without the joint transaction the row outlives the crash, and the creation
    token pairs it on the next run instead of creating it twice."""
    mailbox = MemoryStore(Side.MAILBOX, name="AB")
    mailbox.put(Event(subject="Dentist", start="2026-03-18 08:00", end="2026-03-18 09:00", time_zone="UTC"))
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
        with pytest.raises(Crash):
            run(own_firm, store, mailbox, on_step=crash_before_recording)
        assert rows(own_firm) == ["Dentist"]
        run(own_firm, store, mailbox)
        assert rows(own_firm) == ["Dentist"]
        assert len(store.links("AB", "calendar")) == 1
        with own_firm.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM exsync_stamps")).scalar_one() == 1
