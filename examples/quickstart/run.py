"""The quick start: a trial setup in ./exsync-trial/, generated, synced, changed on both sides, synced again.

Run from the repository root with the Python that has exsync installed:

    python examples/quickstart/run.py [FOLDER]

The business side is a generated reference database (``firm.db``, SQLite), the mailboxes are JSON files
(``mailboxes/CODE.json``), so nothing outside the folder is touched. Running it again starts over.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from exsync.business.reference.generate import generate
from exsync.business.reference.schema import create_schema
from exsync.connector import Side
from exsync.testing import JsonFileStore

HERE = Path(__file__).resolve().parent
MARKER = ".exsync-trial"  # only a folder carrying it is ever cleared


def prepare(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists():
            sys.exit(f"{folder} exists and is not an exsync trial folder: choose another folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by examples/quickstart/run.py\n", encoding="utf-8")
    shutil.copy(HERE / "exsync.toml", folder / "exsync.toml")


def build_firm(folder: Path) -> str:
    """A reference database: 4 staff (one has left), 40 companies, 300 people, 200 activities."""
    url = f"sqlite:///{folder / 'firm.db'}"
    engine = create_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        counts = generate(
            conn, seed=2026, staff=4, companies=40, people=300, activities=200, now=datetime.now(UTC)
        )
    engine.dispose()
    print(f"Reference database {folder / 'firm.db'}: {counts.staff} staff, {counts.companies} companies, "
          f"{counts.people} people, {counts.activities} activities.")  # fmt: skip
    return url


def exsync(folder: Path, *args: str) -> int:
    print(f"\n$ exsync {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "exsync.cli.app", *args], cwd=folder, check=False).returncode


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "exsync-trial").resolve()
    prepare(folder)
    url = build_firm(folder)
    codes = [exsync(folder, "sync"), exsync(folder, "sync")]  # the second run has nothing to write

    # Changes made outside sync: a user moves an appointment in Outlook, the firm adds a client contact.
    engine = create_engine(url)
    with engine.begin() as conn:
        code = conn.execute(text("SELECT code FROM staff WHERE active = 1 ORDER BY id")).scalars().first()
        conn.execute(text(
            "INSERT INTO people (first_name, last_name, email, job_title)"
            " VALUES ('Rosalind', 'Franklin', 'rosalind@helix.example', 'Chemist')"
        ))  # fmt: skip
    engine.dispose()
    mailbox = JsonFileStore(folder / "mailboxes" / f"{code}.json", Side.MAILBOX)
    meeting = next(r for r in mailbox.records("calendar") if not getattr(r.item, "attendees", None))
    mailbox.edit(meeting.id, location="Video call")
    print(f"\n{code} moved “{getattr(meeting.item, 'subject', '')}” to a video call in their calendar; "
          "the firm added Rosalind Franklin to its database.")  # fmt: skip
    codes += [exsync(folder, "sync"), exsync(folder, "profile", "show", "MS")]

    print(f"\nThe trial is in {folder}. Try, from there: exsync profile list, exsync sync --dry-run,")
    print("exsync profile set MS calendar.direction=to-mailbox, exsync conflicts (see README.md),")
    print("or look into firm.db with any SQLite tool.")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
