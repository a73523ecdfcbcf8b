"""The quick start: a trial setup in ./exsync-trial/, seeded, synced, changed on both sides, synced again.

Run from the repository root with the Python that has exsync installed:

    python examples/quickstart/run.py [FOLDER]

Both sides are JSON files (``business.json`` and ``mailboxes/CODE.json``), so nothing outside the folder
is touched. Running it again starts the trial over.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from exsync.connector import Side, Staff
from exsync.model import Contact, Event, Task
from exsync.testing import JsonFileStore

HERE = Path(__file__).resolve().parent
MARKER = ".exsync-trial"  # only a folder carrying it is ever cleared

STAFF = [
    Staff(1, "JD", "Jane Doe", "jane.doe@firm.example", True, "Europe/Paris"),
    Staff(2, "MS", "Marc Simon", "marc.simon@firm.example", True, "Europe/Brussels"),
]


def prepare(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists():
            sys.exit(f"{folder} exists and is not an exsync trial folder: choose another folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by examples/quickstart/run.py\n", encoding="utf-8")
    shutil.copy(HERE / "exsync.toml", folder / "exsync.toml")


def seed(folder: Path) -> JsonFileStore:
    """About 20 items: firm-wide and private contacts, appointments and tasks of two staff members."""
    business = JsonFileStore(folder / "business.json", Side.BUSINESS, staff=STAFF)
    firm = [  # no owner: every profile's contact folder gets them
        Contact(first_name="Ada", last_name="Lovelace", company="Analytical Engines Ltd", job_title="CEO",
                emails=["ada@engines.example"], business_phones=["+44 20 7946 0000"], city="London",
                country="United Kingdom", categories=["Client"]),
        Contact(first_name="Grace", last_name="Hopper", company="Compiler & Co", job_title="Counsel",
                emails=["grace@compiler.example"], city="Arlington", country="United States"),
        Contact(first_name="Alan", last_name="Turing", company="Bletchley Partners",
                emails=["alan@bletchley.example", "a.turing@personal.example"], city="Manchester"),
        Contact(first_name="Émilie", last_name="du Châtelet", company="Cour d'appel de Paris",
                job_title="Greffière", emails=["greffe@ca-paris.example"], city="Paris", country="France"),
    ]  # fmt: skip
    for contact in firm:
        business.put(contact)
    own = {
        "JD": [Contact(first_name="Marie", last_name="Curie", emails=["marie@radium.example"], city="Paris"),
               Contact(first_name="Pierre", last_name="Curie", emails=["pierre@radium.example"]),
               Contact(first_name="Hedy", last_name="Lamarr", mobile_phone="+1 310 555 0100")],
        "MS": [Contact(first_name="Niels", last_name="Bohr", company="Institute", city="Copenhagen"),
               Contact(first_name="Lise", last_name="Meitner", emails=["lise@fission.example"])],
    }  # fmt: skip
    today = date.today()

    def day(n: int) -> str:
        return (today + timedelta(days=n)).isoformat()

    events = {
        "JD": [Event(subject="Hearing: Lovelace v. Babbage", location="Court 3", start=f"{day(3)} 09:30",
                     end=f"{day(3)} 11:00", time_zone="Europe/Paris"),
               Event(subject="Client meeting — Curie estate", start=f"{day(5)} 14:00", end=f"{day(5)} 15:00",
                     time_zone="Europe/Paris"),
               Event(subject="Firm retreat", start=day(20), end=day(21), all_day=True)],
        "MS": [Event(subject="Call with Bohr", start=f"{day(1)} 10:00", end=f"{day(1)} 10:30",
                     time_zone="Europe/Brussels"),
               Event(subject="Deposition prep", location="Room B", start=f"{day(8)} 13:00",
                     end=f"{day(8)} 17:00", time_zone="Europe/Brussels")],
    }  # fmt: skip
    tasks = {
        "JD": [Task(subject="File the appeal brief", due=day(7), priority="high"),
               Task(subject="Review engagement letter", due=day(2))],
        "MS": [Task(subject="Send Meitner the draft", due=day(4)),
               Task(subject="Time sheet", due=day(1), priority="low")],
    }  # fmt: skip
    for code in ("JD", "MS"):
        for item in [*own[code], *events[code], *tasks[code]]:
            business.put(item, owner=code)
    return business


def exsync(folder: Path, *args: str) -> int:
    print(f"\n$ exsync {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "exsync.cli.app", *args], cwd=folder, check=False).returncode


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "exsync-trial").resolve()
    prepare(folder)
    business = seed(folder)
    print(f"Trial setup in {folder}: {len(business)} business records for staff JD and MS.")
    codes = [exsync(folder, "sync"), exsync(folder, "sync")]  # the second run has nothing to write

    # Changes made outside sync: a user moves an appointment in Outlook, the firm adds a client.
    mailbox = JsonFileStore(folder / "mailboxes" / "JD.json", Side.MAILBOX)
    meeting = next(r for r in mailbox.records("calendar") if "Curie" in getattr(r.item, "subject", ""))
    mailbox.edit(meeting.id, location="Video call")
    business.put(Contact(first_name="Rosalind", last_name="Franklin", emails=["rosalind@helix.example"]))
    print("\nJane moved the Curie meeting to a video call in her calendar; the firm added Rosalind Franklin.")
    codes += [exsync(folder, "sync"), exsync(folder, "profile", "show", "MS")]

    print(f"\nThe trial is in {folder}. Try, from there: exsync profile list, exsync sync --dry-run,")
    print("exsync profile set JD calendar.direction=to-mailbox, exsync conflicts (see README.md).")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
