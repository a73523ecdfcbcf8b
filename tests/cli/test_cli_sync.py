"""``exsync sync``: the JSON contract, idempotence, selection, dry runs and failing pairs."""

from __future__ import annotations

from clitrial import Trial, runs_by_pair

from exsync.model import Contact, Event, Task

ZERO = {"created": 0, "updated": 0, "deleted": 0}
PAIRS = [(code, part) for code in ("JD", "AB") for part in ("contacts", "calendar", "tasks", "mail")]


def seed(trial: Trial) -> list[str]:
    """5 contacts and 2 events for JD, 3 contacts and 1 task for AB; returns JD's contact ids."""
    business = trial.business
    jd = [
        business.put(
            Contact(first_name=f"Client{n}", last_name="Jones", emails=[f"c{n}@client.example"]), owner="JD"
        )
        for n in range(5)
    ]
    for n in range(3):
        business.put(Contact(first_name=f"Lead{n}", last_name="Smith"), owner="AB")
    for day in (2, 3):
        business.put(
            Event(subject=f"Hearing {day}", start=f"2026-03-0{day} 10:00", end=f"2026-03-0{day} 11:00",
                  time_zone="Europe/Paris"),
            owner="JD",
        )  # fmt: skip
    business.put(Task(subject="File the brief", due="2026-03-05"), owner="AB")
    return jd


def test_first_sync_creates_in_the_mailboxes_and_the_second_writes_nothing(trial: Trial) -> None:
    seed(trial)

    first = trial.run_json("sync")

    assert first.code == 0, first
    document = first.json
    assert [(run["profile"], run["part"]) for run in document["runs"]] == PAIRS  # staff id, then part order
    for run in document["runs"]:
        assert {"profile", "part", "outcome", "mailbox", "business", "conflicts", "errors"} <= set(run)
        assert set(run["mailbox"]) == set(run["business"]) == {"created", "updated", "deleted"}
        assert run["outcome"] == "ok" and run["errors"] == [] and run["conflicts"] == 0
        assert run["business"] == ZERO
    runs = runs_by_pair(document)
    assert runs["JD", "contacts"]["mailbox"] == {"created": 5, "updated": 0, "deleted": 0}
    assert runs["JD", "calendar"]["mailbox"]["created"] == 2
    assert runs["AB", "contacts"]["mailbox"]["created"] == 3
    assert runs["AB", "tasks"]["mailbox"]["created"] == 1
    assert len(trial.mailbox_items("JD")) == 7 and len(trial.mailbox_items("AB")) == 4
    assert "JD contacts" in first.stderr  # progress goes to stderr, never into the JSON

    second = trial.run_json("sync")

    assert second.code == 0, second
    assert all(run["mailbox"] == ZERO and run["business"] == ZERO for run in second.json["runs"])
    assert all(run["outcome"] == "ok" for run in second.json["runs"])


def test_human_output_is_a_table_of_runs(trial: Trial) -> None:
    seed(trial)

    result = trial.run("sync")

    assert result.code == 0, result
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["JD", "contacts", "ok", "5/0/0", "0/0/0", "0"] in rows
    assert ["AB", "tasks", "ok", "1/0/0", "0/0/0", "0"] in rows
    assert "syncing AB tasks" in result.stderr


def test_profile_and_part_select_the_pairs(trial: Trial) -> None:
    seed(trial)

    result = trial.run_json("sync", "--profile", "AB", "--part", "tasks", "--part", "contacts")

    assert result.code == 0, result
    pairs = [(run["profile"], run["part"]) for run in result.json["runs"]]
    assert pairs == [("AB", "contacts"), ("AB", "tasks")]
    assert not (trial.folder / "mailboxes" / "JD.json").exists()


def test_an_unknown_profile_is_a_usage_error(trial: Trial) -> None:
    result = trial.run_json("sync", "--profile", "ZZ")

    assert result.code == 2, result
    assert "ZZ" in result.json["error"] and "JD" in result.json["error"]


def test_dry_run_prints_the_plan_and_writes_nothing(trial: Trial) -> None:
    jd = seed(trial)

    fresh = trial.run("sync", "--dry-run", "--profile", "JD")

    assert fresh.code == 0, fresh
    assert trial.mailbox_items("JD") == []
    assert fresh.stdout.count("create in mailbox: business people:") == 5
    assert "nothing was written" in fresh.stdout

    assert trial.run("sync").code == 0
    before = trial.mailbox_items("JD")
    business = trial.business
    added = business.put(Contact(first_name="New", last_name="Client"), owner="JD")
    business.edit(jd[0], job_title="Partner")

    human = trial.run("sync", "--dry-run")
    planned = trial.run_json("sync", "--dry-run", "--profile", "JD", "--part", "contacts")

    assert human.code == 0 and planned.code == 0, (human, planned)
    assert trial.mailbox_items("JD") == before
    assert f"create in mailbox: business {added}, mailbox -" in human.stdout
    assert f"business {jd[0]}, mailbox AAMk" in human.stdout and "changed in business" in human.stdout
    assert "Plan for AB contacts: nothing to do" in human.stdout
    [run] = planned.json["runs"]
    assert run["mailbox"] == ZERO  # the counts are writes made, and a dry run makes none
    plan = {op["business"]: op for op in run["plan"]}
    assert set(plan) == {added, jd[0]}
    assert plan[added]["action"] == "create in mailbox" and plan[added]["mailbox"] is None
    assert plan[jd[0]]["mailbox"] and plan[jd[0]]["reason"]

    real = trial.run_json("sync", "--profile", "JD", "--part", "contacts")

    assert runs_by_pair(real.json)["JD", "contacts"]["mailbox"] == {"created": 1, "updated": 1, "deleted": 0}


def test_a_failing_side_fails_its_pair_with_exit_1(trial: Trial) -> None:
    seed(trial)
    assert trial.run("sync").code == 0
    trial.mailbox("JD").faults.unavailable(n=1)  # JD's mailbox answers its next call with "unavailable"

    result = trial.run_json("sync")

    assert result.code == 1, result
    runs = runs_by_pair(result.json)
    assert runs["JD", "contacts"]["outcome"] == "failed"
    assert "unavailable" in runs["JD", "contacts"]["message"]
    assert runs["JD", "calendar"]["outcome"] == "ok" and runs["AB", "contacts"]["outcome"] == "ok"

    assert trial.run("sync").code == 0  # the next run retries it


def test_a_rejected_item_is_reported_and_the_others_are_written(trial: Trial) -> None:
    business = trial.business
    good = business.put(Contact(first_name="Good"), owner="JD")
    assert trial.run("sync", "--part", "contacts").code == 0
    bad = business.put(Contact(first_name="Bad"), owner="JD")
    later = business.put(Contact(first_name="Later"), owner="JD")
    trial.mailbox("JD").faults.reject(f"contacts:{bad}", "the mailbox refused it")

    result = trial.run_json("sync", "--part", "contacts")
    human = trial.run("sync", "--part", "contacts")

    assert result.code == 1, result
    run = runs_by_pair(result.json)["JD", "contacts"]
    assert run["outcome"] == "failed" and run["mailbox"]["created"] == 1
    [error] = run["errors"]
    assert bad in error["item"] and "the mailbox refused it" in error["message"]
    stamps = {item["stamp"] for item in trial.mailbox_items("JD")}
    assert stamps == {f"contacts:{good}", f"contacts:{later}"}
    assert human.code == 1 and "the mailbox refused it" in human.stdout
