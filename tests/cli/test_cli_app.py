"""The ``exsync`` console script and the commands this version has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from exsync import __version__
from exsync.cli.app import app


def test_only_this_versions_commands_are_registered() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]

    assert set(commands) == {"sync", "profile", "resume", "conflicts", "sandbox", "demo"}
    assert set(commands["profile"].commands) == {"list", "show", "set"}


def test_the_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "exsync"

    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"exsync {__version__}"


def test_without_a_command_it_prints_help_and_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exsync.cli.app"], capture_output=True, text=True, check=False, cwd=tmp_path
    )

    assert done.returncode == 2
    assert "sync" in done.stdout + done.stderr and "Traceback" not in done.stderr
