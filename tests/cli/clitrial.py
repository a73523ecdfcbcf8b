"""A trial setup in a temp folder, and the real ``exsync`` command run on it in a subprocess.

The config uses the file-backed sides of this version: ``[business] url = "memory:business.json"``
and ``[mailbox] kind = "memory"`` with one JSON file per mailbox in ``mailboxes/``. Tests change the
sides through ``JsonFileStore`` between runs, as the firm's users and servers would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exsync.connector import Side, Staff
from exsync.testing import JsonFileStore

CONFIG = """
[business]
url = "memory:business.json"

[mailbox]
kind = "memory"
data = "mailboxes"
"""

STAFF = [
    Staff(1, "JD", "Jane Doe", "jd@firm.example", True, "Europe/Paris"),
    Staff(2, "AB", "Alan Brook", "ab@firm.example", True, ""),
]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)  # fails unless stdout is exactly one JSON document

    def __str__(self) -> str:  # shown by pytest when an assertion on the result fails
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class Trial:
    folder: Path

    def write_config(self, extra: str = "", *, text: str | None = None) -> None:
        body = textwrap.dedent(text) if text is not None else CONFIG + textwrap.dedent(extra)
        (self.folder / "exsync.toml").write_text(body, encoding="utf-8")

    def start(self) -> None:
        """The config with the memory sides, and two staff members (JD, AB) on an empty business side."""
        self.write_config()
        JsonFileStore(self.folder / "business.json", Side.BUSINESS, staff=STAFF)

    @property
    def business(self) -> JsonFileStore:
        return JsonFileStore(self.folder / "business.json", Side.BUSINESS)

    def mailbox(self, code: str) -> JsonFileStore:
        path = self.folder / "mailboxes" / f"{code}.json"
        assert path.exists(), f"no mailbox file for {code}: has a sync run?"
        return JsonFileStore(path, Side.MAILBOX)

    def mailbox_items(self, code: str) -> list[dict[str, Any]]:
        """The items as stored in the mailbox file (what a write would change)."""
        data = json.loads((self.folder / "mailboxes" / f"{code}.json").read_text(encoding="utf-8"))
        items: list[dict[str, Any]] = data["items"]
        return items

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "exsync.cli.app", *args],
            cwd=self.folder, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        return Result(done.returncode, done.stdout, done.stderr)

    def run_json(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = self.run(*args, "--json", env=env)
        result.json  # noqa: B018 (exactly one JSON document, whatever the exit code)
        return result


def runs_by_pair(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(run["profile"], run["part"]): run for run in document["runs"]}
