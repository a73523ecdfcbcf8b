"""`exsync demo`: one command builds a reference database, a sandbox with a mailbox per staff member and
a config, and syncs everything; a second run writes nothing; later commands use the same sandbox."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from exsync.sandbox.app import Sandbox


def exsync(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "exsync.cli.app", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def pair_counts(stdout: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(profile, part) → (mailbox, business) writes as created/updated/deleted, from the sync table."""
    rows = re.findall(r"^\s+([A-Z]+)\s+(contacts|calendar|tasks)\s+ok\s+(\S+)\s+(\S+)", stdout, re.MULTILINE)
    return {(profile, part): (mailbox, business) for profile, part, mailbox, business in rows}


def test_demo_builds_syncs_and_runs_again_as_a_no_op(tmp_path: Path) -> None:
    folder = tmp_path / "demo"

    first = exsync(tmp_path, "demo", "--dir", str(folder))

    assert first.returncode == 0, first.stderr
    config = (folder / "exsync.toml").read_text()
    assert 'kind = "sandbox"' in config and 'data = "sandbox"' in config
    engine = create_engine(f"sqlite:///{folder / 'firm.db'}")
    with engine.connect() as conn:
        staff = conn.execute(text("SELECT code, email FROM staff WHERE active = 1 ORDER BY id")).all()
        people = conn.execute(text("SELECT count(*) FROM people")).scalar_one()
    engine.dispose()
    assert people >= 1900 and len(staff) >= 3
    counts = pair_counts(first.stdout)
    assert {profile for profile, _ in counts} == {code for code, _ in staff}
    created = {pair: int(mailbox.split("/")[0]) for pair, (mailbox, _) in counts.items()}
    assert all(n > 0 for n in created.values()), counts  # every part of every mailbox got items
    assert f"exsync sandbox --data {folder / 'sandbox'}" in first.stdout

    # What the sync wrote is in the sandbox's state: one mailbox per active staff member, with contacts.
    sandbox = Sandbox(folder / "sandbox")
    try:
        upns = {m.upn.lower() for m in sandbox.store.mailboxes.values()}
        contacts = sum(1 for item in sandbox.store.items.values() if item.kind == "contact")
    finally:
        sandbox.close()
    assert upns == {str(email).lower() for _, email in staff}
    assert contacts == sum(n for (_, part), n in created.items() if part == "contacts")

    second = exsync(tmp_path, "demo", "--dir", str(folder))

    assert second.returncode == 0, second.stderr
    again = pair_counts(second.stdout)
    assert again.keys() == counts.keys()
    assert set(again.values()) == {("0/0/0", "0/0/0")}, again

    # Later commands with that config use the same sandbox state, in-process, with nothing to write.
    synced = exsync(folder, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    runs = [run for run in json.loads(synced.stdout)["runs"] if run["outcome"] == "ok"]
    assert runs and all(sum(run["mailbox"].values()) == 0 for run in runs)


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")

    done = exsync(tmp_path, "demo", "--dir", str(tmp_path))

    assert done.returncode == 2
    assert "not an exsync demo" in done.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "exsync.toml").exists()


def test_commands_talk_to_a_sandbox_server_that_owns_the_folder(tmp_path: Path) -> None:
    from exsync.sandbox.server import SandboxServer

    folder = tmp_path / "demo"
    assert exsync(tmp_path, "demo", "--dir", str(folder)).returncode == 0
    with SandboxServer(folder / "sandbox") as server:
        synced = exsync(folder, "sync", "--json", "--part", "tasks")
        trusted = ssl.create_default_context(cafile=str(server.tls.ca))
        stats = httpx.get(f"{server.url}/_sandbox/stats", verify=trusted).json()
    assert synced.returncode == 0, synced.stderr
    # The sync's requests reached the server: counted under the mailboxes it owns.
    assert any("tasks" in key for counts in stats["requests"].values() for key in counts), stats
