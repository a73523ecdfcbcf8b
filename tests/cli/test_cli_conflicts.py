"""``exsync conflicts``: a field both sides changed is logged with both values and what was kept."""

from __future__ import annotations

from clitrial import Trial, runs_by_pair

from exsync.model import Event


def test_a_field_changed_on_both_sides_is_in_the_conflict_log(trial: Trial) -> None:
    business = trial.business
    event = business.put(
        Event(subject="Hearing", start="2026-03-02 10:00", end="2026-03-02 11:00", time_zone="Europe/Paris"),
        owner="JD",
    )
    assert trial.run("sync").code == 0
    assert trial.run_json("conflicts").json == {"conflicts": []}
    mailbox = trial.mailbox("JD")
    [copy] = mailbox.records("calendar")
    mailbox.edit(copy.id, location="Room B")
    business.edit(event, location="Court 3")

    synced = trial.run_json("sync", "--part", "calendar")

    assert synced.code == 0, synced
    assert runs_by_pair(synced.json)["JD", "calendar"]["conflicts"] == 1
    [kept] = trial.mailbox("JD").records("calendar")
    assert isinstance(kept.item, Event) and kept.item.location == "Court 3"  # business-wins

    logged = trial.run_json("conflicts")

    assert logged.code == 0, logged
    [entry] = logged.json["conflicts"]
    assert entry["profile"] == "JD" and entry["part"] == "calendar" and entry["key"] == f"calendar:{event}"
    assert entry["field"] == "location"
    assert entry["business_value"] == "Court 3" and entry["mailbox_value"] == "Room B"
    assert entry["winner"] == "business" and entry["kept_value"] == "Court 3"
    assert entry["at"]

    assert trial.run_json("conflicts", "--unresolved").json["conflicts"] == logged.json["conflicts"]
    assert trial.run_json("conflicts", "--profile", "JD", "--part", "calendar").json == logged.json
    assert trial.run_json("conflicts", "--part", "contacts").json == {"conflicts": []}
    assert trial.run_json("conflicts", "--profile", "AB").json == {"conflicts": []}

    human = trial.run("conflicts")
    assert human.code == 0
    row = next(line for line in human.stdout.splitlines() if "location" in line)
    assert all(text in row for text in ("JD", "calendar", '"Court 3"', '"Room B"', "business"))
