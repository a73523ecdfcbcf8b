"""`exsync` against a SQL business database: the reference schema on SQLite, a mapping file, and the
errors an admin meets (a wrong mapping, a database that cannot be reached)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from clitrial import Trial, runs_by_pair
from sqlalchemy import create_engine, text

from exsync.business.reference.generate import generate
from exsync.business.reference.schema import create_schema

SQL_CONFIG = """
[business]
url = "sqlite:///firm.db"
mapping = "{mapping}"

[mailbox]
kind = "memory"
data = "mailboxes"

[defaults.mail]
direction = "off"
"""


@pytest.fixture
def firm(tmp_path: Path) -> Trial:
    engine = create_engine(f"sqlite:///{tmp_path / 'firm.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        generate(conn, seed=3, staff=3, companies=10, people=60, activities=40, now=datetime.now(UTC))
    engine.dispose()
    trial = Trial(tmp_path)
    trial.write_config(text=SQL_CONFIG.format(mapping="reference"))
    return trial


def active_staff(trial: Trial) -> list[str]:
    engine = create_engine(f"sqlite:///{trial.folder / 'firm.db'}")
    with engine.connect() as conn:
        codes = sorted(conn.execute(text("SELECT code FROM staff WHERE active = 1")).scalars())
    engine.dispose()
    return codes


def test_sync_a_reference_database_then_nothing_to_do(firm: Trial) -> None:
    first = firm.run_json("sync")
    assert first.code == 0, first
    runs = runs_by_pair(first.json)
    codes = sorted({profile for profile, _ in runs})
    assert codes == active_staff(firm) and len(codes) >= 2
    assert all(run["outcome"] == "ok" for run in runs.values()), first
    people = firm.run("profile", "list")
    assert people.code == 0 and all(code in people.stdout for code in codes), people
    assert sum(run["mailbox"]["created"] for run in runs.values()) > 60
    second = firm.run_json("sync")
    assert second.code == 0, second
    for run in second.json["runs"]:
        assert run["mailbox"] == run["business"] == {"created": 0, "updated": 0, "deleted": 0}, second


def test_a_person_added_with_plain_sql_reaches_every_mailbox(firm: Trial) -> None:
    assert firm.run("sync").code == 0
    engine = create_engine(f"sqlite:///{firm.folder / 'firm.db'}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO people (first_name, last_name) VALUES ('Rosalind', 'Franklin')"))
    engine.dispose()
    result = firm.run_json("sync", "--part", "contacts")
    assert result.code == 0, result
    assert [run["mailbox"]["created"] for run in result.json["runs"]] == [1] * len(active_staff(firm)), result


def test_a_wrong_mapping_stops_with_the_key_and_the_fix(firm: Trial) -> None:
    mapping = (Path(__file__).parents[2] / "src/exsync/business/reference/mapping.toml").read_text()
    (firm.folder / "mine.toml").write_text(
        mapping.replace('job_title = "job_title"', 'job_title = "jobtitle"')
    )
    firm.write_config(text=SQL_CONFIG.format(mapping="mine.toml"))
    result = firm.run_json("sync")
    assert result.code == 2, result
    assert result.json["key"] == "mapping.contacts.fields.job_title"
    assert "'jobtitle'" in result.json["error"] and "Fix:" in result.json["error"]


def test_a_database_that_cannot_be_reached_fails_the_command(tmp_path: Path) -> None:
    trial = Trial(tmp_path)
    config = SQL_CONFIG.format(mapping="reference").replace(
        "sqlite:///firm.db", "postgresql+psycopg://exsync@127.0.0.1:1/firm?connect_timeout=2"
    )
    trial.write_config(text=config)
    result = trial.run_json("sync")
    assert result.code == 1, result
    assert "business database: cannot reach it" in result.json["error"]
