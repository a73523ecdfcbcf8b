"""One writer per (profile, part): the lock, across processes, and its takeover from dead holders."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from exsync.state import StateStore, holder_is_dead, make_holder

# A lock holder in its own process. It prints "ready", waits for "go", tries the lock, prints
# "acquired <holder>" or "refused", then waits for "release" (or to be killed) and releases.
HOLDER = """
import sys
from exsync.state import StateStore, make_holder

url, profile, part = sys.argv[1:4]
store = StateStore(url, create=False)
holder = make_holder()
print("ready", flush=True)
sys.stdin.readline()
ok = store.acquire_lock(profile, part, holder, lease_seconds=600)
print(f"acquired {holder}" if ok else "refused", flush=True)
sys.stdin.readline()
if ok:
    store.release_lock(profile, part, holder)
store.close()
print("released", flush=True)
"""


class Holder:
    def __init__(self, url: str, profile: str = "JD", part: str = "contacts") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, profile, part],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def hear(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line, f"holder process ended early (exit code {self.proc.poll()})"
        return line

    def try_lock(self) -> bool:
        self.say("go")
        return self.hear().startswith("acquired")

    def release(self) -> None:
        self.say("release")
        assert self.hear() == "released"
        assert self.proc.wait(timeout=30) == 0


@contextmanager
def holders(url: str, count: int) -> Iterator[list[Holder]]:
    started = [Holder(url) for _ in range(count)]
    try:
        for holder in started:
            assert holder.hear() == "ready"
        yield started
    finally:
        for holder in started:
            if holder.proc.poll() is None:
                holder.proc.kill()
            holder.proc.wait(timeout=30)


def test_a_live_holder_in_another_process_keeps_the_lock(store: StateStore, state_url: str) -> None:
    with holders(state_url, 2) as (a, b):
        assert a.try_lock() is True
        assert b.try_lock() is False
        assert store.acquire_lock("JD", "contacts", make_holder()) is False  # and from here too
        assert store.acquire_lock("JD", "calendar", make_holder()) is True  # another pair is free
        b.release()
        a.release()
    assert store.lock_holder("JD", "contacts") is None
    with holders(state_url, 1) as (b_again,):
        assert b_again.try_lock() is True
        b_again.release()


def test_racing_processes_get_the_lock_exactly_once(store: StateStore, state_url: str) -> None:
    with holders(state_url, 4) as racers:
        for racer in racers:
            racer.say("go")  # all at once, then collect the answers
        answers = [racer.hear() for racer in racers]
        assert sum(answer.startswith("acquired") for answer in answers) == 1, answers
        winner = next(a for a in answers if a.startswith("acquired")).split()[1]
        info = store.lock_holder("JD", "contacts")
        assert info is not None and info.holder == winner
        for racer in racers:
            racer.release()


def test_a_killed_holders_lock_is_taken_over(store: StateStore, state_url: str) -> None:
    with holders(state_url, 1) as (victim,):
        assert victim.try_lock() is True
        me = make_holder()
        assert store.acquire_lock("JD", "contacts", me) is False  # alive: hands off
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(timeout=30)
        assert store.acquire_lock("JD", "contacts", me) is True
    info = store.lock_holder("JD", "contacts")
    assert info is not None and info.holder == me


def test_a_killed_but_unreaped_holder_counts_as_dead(store: StateStore, state_url: str) -> None:
    with holders(state_url, 1) as (victim,):
        assert victim.try_lock() is True
        os.kill(victim.proc.pid, signal.SIGKILL)  # not waited for: a zombie until the finally
        me = make_holder()
        deadline = time.monotonic() + 10
        while not store.acquire_lock("JD", "contacts", me):
            assert time.monotonic() < deadline, "the zombie's lock was never taken over"
            time.sleep(0.05)


def test_an_expired_lease_is_taken_over_and_the_old_holder_learns_it(store: StateStore) -> None:
    elsewhere = "worker-2.firm.example:4242:deadbeef"  # another host: only its lease can end it
    assert store.acquire_lock("JD", "tasks", elsewhere, lease_seconds=0.3) is True
    me = make_holder()
    assert store.acquire_lock("JD", "tasks", me) is False
    time.sleep(0.5)
    assert store.acquire_lock("JD", "tasks", me) is True
    assert store.renew_lock("JD", "tasks", elsewhere, 600) is False
    store.release_lock("JD", "tasks", elsewhere)  # a late release by the old holder changes nothing
    info = store.lock_holder("JD", "tasks")
    assert info is not None and info.holder == me


def test_a_holder_whose_process_is_gone_loses_the_lock_at_once(store: StateStore) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = f"{socket.gethostname()}:{int(finished.stdout)}:0badc0de"
    assert holder_is_dead(gone)
    assert store.acquire_lock("JD", "mail", gone, lease_seconds=600) is True
    me = make_holder()
    assert store.acquire_lock("JD", "mail", me) is True


def test_holders_that_may_be_alive_are_not_declared_dead() -> None:
    here = socket.gethostname()
    assert not holder_is_dead(make_holder())  # this very process
    assert not holder_is_dead(f"{here}:{os.getpid()}:other")  # another store in this process
    assert not holder_is_dead(f"{here}:1:init")  # pid 1 exists (or is not ours to signal)
    assert not holder_is_dead("another-host:1:abc")
    assert not holder_is_dead("no-pid-here")
    assert not holder_is_dead(f"{here}:0:abc")  # never signal a process group


def test_make_holder_names_host_pid_and_a_token(store: StateStore) -> None:
    host, pid, token = store.make_holder().rsplit(":", 2)
    assert (host, int(pid), len(token)) == (socket.gethostname(), os.getpid(), 8)
    assert make_holder() != make_holder()


def test_renew_extends_the_lease_and_reacquiring_renews(store: StateStore) -> None:
    me = make_holder()
    assert store.acquire_lock("JD", "contacts", me, lease_seconds=60) is True
    first = store.lock_holder("JD", "contacts")
    assert first is not None
    assert first.expires_at - first.acquired_at == pytest.approx(
        timedelta(seconds=60), abs=timedelta(seconds=1)
    )
    assert abs(first.acquired_at - datetime.now(UTC)) < timedelta(minutes=1)

    assert store.renew_lock("JD", "contacts", me, 3600) is True
    renewed = store.lock_holder("JD", "contacts")
    assert renewed is not None and renewed.expires_at > first.expires_at + timedelta(minutes=50)

    assert store.acquire_lock("JD", "contacts", me, lease_seconds=7200) is True  # same holder: renews
    again = store.lock_holder("JD", "contacts")
    assert again is not None and again.expires_at > renewed.expires_at
    assert store.renew_lock("JD", "contacts", "someone-else:1:x", 60) is False


def test_release_frees_the_lock_only_for_its_holder(store: StateStore) -> None:
    me, other = make_holder(), make_holder()
    assert store.acquire_lock("JD", "contacts", me) is True
    store.release_lock("JD", "contacts", other)
    assert store.acquire_lock("JD", "contacts", other) is False
    store.release_lock("JD", "contacts", me)
    assert store.lock_holder("JD", "contacts") is None
    assert store.acquire_lock("JD", "contacts", other) is True
