"""``exsync profile list | show | set``: who is synced, and each setting with the layer it came from."""

from __future__ import annotations

from clitrial import STAFF, Trial, runs_by_pair

from exsync.connector import Staff

LAYERED = """
[defaults.contacts]
interval = "30m"

[profiles.JD]
tasks = { direction = "to-mailbox" }

[policy]
users_may_change = ["calendar.window"]
"""


def setting(trial: Trial, code: str, key: str) -> tuple[object, str]:
    result = trial.run_json("profile", "show", code)
    assert result.code == 0, result
    entry = result.json["settings"][key]
    return entry["value"], entry["origin"]


def test_list_shows_active_and_stopped_profiles(trial: Trial) -> None:
    business = trial.business
    business.set_staff([*STAFF, Staff(3, "CD", "Chris Dale", "cd@firm.example")])
    assert trial.run("sync").code == 0
    business.set_staff([*STAFF, Staff(3, "CD", "Chris Dale", "cd@firm.example", active=False)])

    machine = trial.run_json("profile", "list")
    human = trial.run("profile", "list")

    assert machine.code == 0, machine
    profiles = {p["code"]: p for p in machine.json["profiles"]}
    assert [p["code"] for p in machine.json["profiles"]] == ["JD", "AB", "CD"]  # by staff id
    assert profiles["JD"]["email"] == "jd@firm.example" and profiles["JD"]["name"] == "Jane Doe"
    assert profiles["JD"]["active"] is True and profiles["JD"]["stopped_reason"] == ""
    assert profiles["CD"]["active"] is False and "no longer active" in profiles["CD"]["stopped_reason"]
    assert human.code == 0
    assert "Chris Dale" in human.stdout and "stopped: staff member CD is no longer active" in human.stdout

    synced = trial.run_json("sync")
    assert {run["profile"] for run in synced.json["runs"]} == {"JD", "AB"}  # stopped: not synced


def test_show_names_the_layer_of_every_setting_and_set_changes_it(trial: Trial) -> None:
    trial.write_config(LAYERED)
    config_before = (trial.folder / "exsync.toml").read_bytes()

    shown = trial.run_json("profile", "show", "JD")

    assert shown.code == 0, shown
    settings = shown.json["settings"]
    assert settings["calendar.direction"] == {"value": "both", "origin": "built-in"}
    assert settings["contacts.interval"] == {"value": "30m", "origin": "file:defaults"}
    assert settings["tasks.direction"] == {"value": "to-mailbox", "origin": "file:profile"}
    assert settings["time_zone"] == {"value": "Europe/Paris", "origin": "staff"}
    assert settings["calendar.window.past_days"]["origin"] == "built-in"
    assert shown.json["profile"]["code"] == "JD"
    assert setting(trial, "AB", "tasks.direction") == ("both", "built-in")

    changed = trial.run_json("profile", "set", "JD", "calendar.direction=to-mailbox")

    assert changed.code == 0, changed
    assert changed.json["origin"] == "store:profile(admin)" and changed.json["before"]["origin"] == "built-in"
    assert setting(trial, "JD", "calendar.direction") == ("to-mailbox", "store:profile(admin)")
    assert setting(trial, "AB", "calendar.direction") == ("both", "built-in")

    assert trial.run("profile", "set", "--defaults", "calendar.interval=10m").code == 0
    assert setting(trial, "AB", "calendar.interval") == ("10m", "store:defaults")

    human = trial.run("profile", "show", "JD")
    assert human.code == 0
    line = next(line for line in human.stdout.splitlines() if "calendar.direction" in line)
    assert "to-mailbox" in line and "store:profile(admin)" in line
    assert (trial.folder / "exsync.toml").read_bytes() == config_before  # never rewrites the file


def test_a_changed_setting_applies_to_the_next_sync(trial: Trial) -> None:
    assert trial.run("profile", "set", "AB", "tasks.direction=off").code == 0

    result = trial.run_json("sync")

    assert result.code == 0, result
    pairs = runs_by_pair(result.json)
    assert ("AB", "tasks") not in pairs and ("JD", "tasks") in pairs


def test_a_user_may_change_only_unlocked_keys(trial: Trial) -> None:
    trial.write_config(LAYERED)

    locked = trial.run("profile", "set", "JD", "calendar.direction=off", "--as-user")
    locked_json = trial.run_json("profile", "set", "JD", "calendar.direction=off", "--as-user")
    defaults = trial.run("profile", "set", "--defaults", "calendar.window.past_days=30", "--as-user")
    unlocked = trial.run("profile", "set", "JD", "calendar.window.past_days=30", "--as-user")

    assert locked.code == 2, locked
    assert "calendar.direction is locked" in locked.stderr and "users_may_change" in locked.stderr
    assert locked_json.code == 2 and locked_json.json["key"] == "calendar.direction"
    assert setting(trial, "JD", "calendar.direction") == ("both", "built-in")
    assert defaults.code == 2 and "only an admin" in defaults.stderr
    assert unlocked.code == 0, unlocked
    assert setting(trial, "JD", "calendar.window.past_days") == (30, "store:profile(user)")


def test_set_refuses_wrong_values_keys_and_profiles(trial: Trial) -> None:
    value = trial.run_json("profile", "set", "JD", "calendar.direction=sideways")
    key = trial.run("profile", "set", "JD", "calendar.directon=both")
    profile = trial.run("profile", "set", "ZZ", "calendar.direction=both")
    shape = trial.run("profile", "set", "JD", "calendar.direction")
    show = trial.run("profile", "show", "ZZ")

    assert value.code == 2 and value.json["key"] == "calendar.direction", value
    assert "to-mailbox" in value.json["error"]  # the fix lists the allowed values
    assert key.code == 2 and 'did you mean "calendar.direction"' in key.stderr, key
    assert profile.code == 2 and "ZZ" in profile.stderr and "JD" in profile.stderr, profile
    assert shape.code == 2 and "KEY=VALUE" in shape.stderr, shape
    assert show.code == 2 and "ZZ" in show.stderr
    assert setting(trial, "JD", "calendar.direction") == ("both", "built-in")
