"""Exit code 2: a broken configuration or a wrong command line, with a message naming the key and the fix."""

from __future__ import annotations

import pytest
from clitrial import Trial

COMMANDS = [
    ("sync",),
    ("profile", "list"),
    ("profile", "show", "JD"),
    ("profile", "set", "JD", "calendar.direction=both"),
    ("resume", "--profile", "JD", "--part", "contacts"),
    ("conflicts",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unknown_key_stops_every_command(trial: Trial, command: tuple[str, ...]) -> None:
    trial.write_config('[defaults.calendar]\ndirecton = "both"\n')

    human = trial.run(*command)
    machine = trial.run_json(*command)

    assert human.code == 2, human
    assert "defaults.calendar.directon" in human.stderr and "did you mean `direction`" in human.stderr
    assert human.stdout == ""
    assert machine.code == 2
    assert machine.json["key"] == "defaults.calendar.directon"
    assert "unknown key" in machine.json["error"]


def test_an_interval_under_a_minute_is_named(trial: Trial) -> None:
    trial.write_config('[defaults.contacts]\ninterval = "30s"\n')

    result = trial.run_json("sync")

    assert result.code == 2, result
    assert result.json["key"] == "defaults.contacts.interval"
    assert "defaults.contacts.interval" in result.stderr and "1m" in result.stderr


def test_a_missing_config_file_is_named(trial: Trial) -> None:
    result = trial.run("sync", "--config", "elsewhere.toml")

    assert result.code == 2, result
    assert "elsewhere.toml" in result.stderr and "--config" in result.stderr


def test_the_config_option_picks_the_file(trial: Trial) -> None:
    (trial.folder / "exsync.toml").rename(trial.folder / "other.toml")

    assert trial.run("profile", "list", "--config", "other.toml").code == 0
    assert trial.run("profile", "list").code == 2


def test_an_unknown_part_names_the_valid_ones(trial: Trial) -> None:
    human = trial.run("sync", "--part", "calender")
    machine = trial.run_json("sync", "--part", "calender")
    conflicts = trial.run("conflicts", "--part", "notes")

    assert human.code == 2, human
    assert "contacts, calendar, tasks, mail" in human.stderr and "did you mean calendar" in human.stderr
    assert machine.code == 2 and "calender" in machine.json["error"]
    assert conflicts.code == 2 and "contacts, calendar, tasks, mail" in conflicts.stderr
    assert not (trial.folder / "mailboxes").exists()  # refused before anything ran


def test_a_usage_error_is_exit_2_with_a_json_document(trial: Trial) -> None:
    result = trial.run_json("sync", "--no-such-option")

    assert result.code == 2, result
    assert "--no-such-option" in result.json["error"]


def test_an_unreachable_identity_platform_fails_the_pairs_without_the_secret(trial: Trial) -> None:
    secret = "s3cr3t-Do-Not-Print"
    trial.write_config(
        text="""
        [business]
        url = "memory:business.json"

        [mailbox]
        tenant = "contoso.onmicrosoft.com"
        client_id = "11111111-2222-3333-4444-555555555555"
        client_secret = { env = "EXSYNC_TEST_SECRET" }
        login_url = "https://127.0.0.1:9"
        graph_url = "https://127.0.0.1:9/v1.0"
        """
    )

    result = trial.run("sync", "--json", env={"EXSYNC_TEST_SECRET": secret})

    assert result.code == 1, result
    assert {run["outcome"] for run in result.json["runs"]} <= {"failed", "skipped"}
    assert any("127.0.0.1:9" in str(run.get("message", "")) for run in result.json["runs"]), result.json
    assert secret not in result.stdout + result.stderr
