"""Exit code 3: a guard suspends a pair; ``exsync resume`` and ``sync --force`` get it going again."""

from __future__ import annotations

from clitrial import Trial, runs_by_pair

from exsync.model import Contact


def link_twelve(trial: Trial) -> list[str]:
    business = trial.business
    ids = [business.put(Contact(first_name=f"Client{n}", last_name="Roe"), owner="JD") for n in range(12)]
    assert trial.run("sync", "--part", "contacts").code == 0
    assert len(trial.mailbox_items("JD")) == 12
    return ids


def test_a_side_that_suddenly_looks_empty_suspends_until_resumed(trial: Trial) -> None:
    business = trial.business
    for id in link_twelve(trial):
        business.remove(id)

    guarded = trial.run_json("sync", "--full", "--part", "contacts")

    assert guarded.code == 3, guarded
    run = runs_by_pair(guarded.json)["JD", "contacts"]
    assert run["outcome"] == "suspended" and "looks empty" in run["message"]
    assert run["mailbox"]["deleted"] == 0
    assert len(trial.mailbox_items("JD")) == 12  # nothing was deleted

    still = trial.run("sync", "--part", "contacts")
    assert still.code == 3, still
    assert "exsync resume" in still.stdout

    resumed = trial.run_json("resume", "--profile", "JD", "--part", "contacts")
    assert resumed.code == 0, resumed
    assert resumed.json["resumed"] is True and "looks empty" in resumed.json["reason"]
    again = trial.run("resume", "--profile", "JD", "--part", "contacts")
    assert again.code == 0 and "no suspension" in again.stdout

    forced = trial.run_json("sync", "--force", "--part", "contacts")

    assert forced.code == 0, forced
    assert runs_by_pair(forced.json)["JD", "contacts"]["mailbox"]["deleted"] == 12
    assert trial.mailbox_items("JD") == []


def test_a_suspended_pair_wins_over_a_failed_one(trial: Trial) -> None:
    business = trial.business
    ids = link_twelve(trial)
    for id in ids:
        business.remove(id)
    trial.mailbox("AB").faults.unavailable(n=1)

    result = trial.run_json("sync", "--full", "--part", "contacts")

    assert result.code == 3, result
    runs = runs_by_pair(result.json)
    assert runs["JD", "contacts"]["outcome"] == "suspended" and runs["AB", "contacts"]["outcome"] == "failed"


def test_resume_checks_its_arguments(trial: Trial) -> None:
    link_twelve(trial)

    unknown_profile = trial.run("resume", "--profile", "ZZ", "--part", "contacts")
    unknown_part = trial.run_json("resume", "--profile", "JD", "--part", "contact")
    missing = trial.run("resume", "--profile", "JD")

    assert unknown_profile.code == 2 and "ZZ" in unknown_profile.stderr, unknown_profile
    assert unknown_part.code == 2 and "contacts, calendar, tasks, mail" in unknown_part.json["error"]
    assert missing.code == 2 and "--part" in missing.stderr
