"""`exsync sandbox` as a process: it prints where it serves and the CA to trust, owns its data folder alone,
keeps its state and its CA across a stop (SIGTERM) and a restart, and refuses a bad --time-scale."""

from __future__ import annotations

import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

EXSYNC = Path(sys.executable).with_name("exsync")
SERVING = re.compile(r"serving (https://127\.0\.0\.1:(\d+))/v1\.0/")
UPN = "a@firm.example"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def read_until(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in {self.output}")

    @property
    def text(self) -> str:
        return "".join(self.output)


def _spawn(*args: str) -> Running:
    process = subprocess.Popen(
        [str(EXSYNC), "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Running(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.put(line)
        running.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return running


Spawn = Callable[..., Running]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Starts `exsync sandbox …` processes and makes sure none outlives the test."""
    started: list[Running] = []

    def start(*args: str) -> Running:
        running = _spawn(*args)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=10)


def _start(spawn: Spawn, *args: str) -> tuple[Running, str]:
    running = spawn(*args)
    url = running.read_until(SERVING.pattern).group(1)
    running.read_until(r"state:")  # the rest of the banner
    return running, url


def _client(url: str, ca: Path) -> httpx.Client:
    with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(ca))) as plain:
        issued = plain.post(
            "/firm/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "exsync-sandbox",
                "client_secret": "exsync-sandbox",
                "scope": "https://graph.microsoft.com/.default",
            },
        )
    issued.raise_for_status()
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}", "Prefer": 'IdType="ImmutableId"'}
    trusted = ssl.create_default_context(cafile=str(ca))
    return httpx.Client(base_url=url, verify=trusted, headers=headers, timeout=30)


def _stop(running: Running) -> int:
    running.process.send_signal(signal.SIGTERM)
    return running.process.wait(timeout=30)


def test_serves_owns_its_folder_and_keeps_state_across_a_restart(spawn: Spawn, tmp_path: Path) -> None:
    data = tmp_path / "sandbox-data"
    port = _free_port()
    first, url = _start(spawn, "--port", str(port), "--data", str(data), "--user", UPN)
    assert url == f"https://127.0.0.1:{port}"
    ca = data / "tls" / "ca.pem"
    assert str(ca) in first.text  # the CA to trust is printed
    authority = ca.read_bytes()

    # A second process on the same folder is refused, naming the owner.
    second = spawn("--port", str(_free_port()), "--data", str(data))
    second.read_until(r"in use by")
    assert second.process.wait(timeout=30) == 1
    assert f"process {first.process.pid}" in second.text
    assert url in second.text

    with _client(url, ca) as client:
        made = client.post(f"/v1.0/users/{UPN}/contacts", json={"givenName": "Hal", "surname": "Restart"})
        assert made.status_code == 201
    contact_id = made.json()["id"]

    assert _stop(first) == 0  # a clean stop on SIGTERM

    third, url = _start(spawn, "--port", str(port), "--data", str(data), "--user", UPN)
    try:
        assert ca.read_bytes() == authority  # the CA is made once: clients keep trusting it
        with _client(url, ca) as client:
            kept = client.get(f"/v1.0/users/{UPN}/contacts/{contact_id}")
            assert kept.status_code == 200
            assert kept.json()["givenName"] == "Hal"
            # --user for an existing mailbox adds nothing.
            listed = client.get(f"/v1.0/users/{UPN}/contacts").json()["value"]
            assert [c["id"] for c in listed] == [contact_id]
    finally:
        assert _stop(third) == 0


def test_without_data_it_runs_in_memory_with_a_temporary_ca(spawn: Spawn) -> None:
    running, url = _start(spawn, "--port", str(_free_port()), "--user", UPN)
    printed = re.search(r"CA certificate:\s+(\S+)", running.text)
    assert printed is not None
    ca = Path(printed.group(1))
    assert ca.name == "ca.pem" and ca.exists()
    assert "in memory" in running.text
    with _client(url, ca) as client:
        assert client.get(f"/v1.0/users/{UPN}").json()["userPrincipalName"] == UPN
    assert _stop(running) == 0
    assert not ca.exists()  # the temporary folder goes with the process


@pytest.mark.parametrize("scale", ["0", "-1", "nan"])
def test_a_time_scale_must_be_positive(spawn: Spawn, scale: str) -> None:
    running = spawn("--port", str(_free_port()), "--time-scale", scale)
    running.read_until(r"--time-scale")
    assert "must be a positive number" in running.text
    assert running.process.wait(timeout=30) == 2
