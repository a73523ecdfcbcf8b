"""Delta listings, applied to a mirror, always reproduce the full listing (Hypothesis)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from exsync.connector import Create, Delete, Scope, Side, TokenExpired, Update
from exsync.model import Event, Task
from exsync.testing import MemoryConnector, MemoryStore

OPS = ["put", "create", "other-part", "edit", "touch", "remove", "filter", "restore", "soft", "update",
       "delete", "expire", "sync"]  # fmt: skip
scripts = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 30)), max_size=60)


class Mirror:
    """What a client holds after a full listing and the deltas since."""

    def __init__(self, connector: MemoryConnector) -> None:
        self.connector = connector
        self.versions: dict[str, str] = {}
        self.token = ""
        self.full()

    def full(self) -> None:
        listing = self.connector.changes(None)
        assert listing.full and listing.token is not None
        self.versions = {e.id: e.version for e in listing.entries}
        self.token = listing.token

    def catch_up(self) -> None:
        try:
            delta = self.connector.changes(self.token)
        except TokenExpired:
            self.full()
            return
        assert not delta.full and delta.token is not None
        for id in delta.removed:
            self.versions.pop(id, None)
        for entry in delta.entries:
            self.versions[entry.id] = entry.version
        self.token = delta.token


def step(store: MemoryStore, tasks: MemoryConnector, op: str, n: int) -> None:
    """One change made by a user, by sync, or by the server."""
    if op == "put":
        store.put(Task(subject=f"t{n}"))
    elif op == "create":
        tasks.apply([Create(Task(subject=f"c{n}"), f"k{n}")])
    elif op == "other-part":  # the calendar shares the store (and the change counter)
        store.put(Event(subject=f"e{n}"))
    elif op == "expire":
        store.expire_tokens()
    ids = [r.id for r in store.records("tasks")]
    if not ids or op in ("put", "create", "other-part", "expire", "sync"):
        return
    id = ids[n % len(ids)]
    record = store.get(id)
    assert record is not None
    actions: dict[str, Callable[[], object]] = {
        "edit": lambda: store.edit(id, subject=f"e{n}"),
        "touch": lambda: store.touch(id),
        "remove": lambda: store.remove(id),
        "filter": lambda: store.set_scope(id, Scope.FILTER, "filtered"),
        "restore": lambda: store.set_scope(id, Scope.IN),
        "soft": lambda: store.soft_delete(id),
        "update": lambda: tasks.apply([Update(id, {"done": n % 2}, record.version)]),
        "delete": lambda: tasks.apply([Delete(id, record.version)]),
    }
    actions[op]()


@settings(max_examples=200, deadline=None)
@given(scripts)
def test_a_mirror_fed_by_deltas_matches_the_full_listing(script: list[tuple[str, int]]) -> None:
    store = MemoryStore(Side.BUSINESS)
    tasks = MemoryConnector(store, Side.BUSINESS, "tasks")
    mirror = Mirror(tasks)
    for op, n in script:
        step(store, tasks, op, n)
        if op == "sync" or n % 4 == 0:
            mirror.catch_up()
            assert mirror.versions == {e.id: e.version for e in tasks.changes(None).entries}
    mirror.catch_up()
    assert mirror.versions == {e.id: e.version for e in tasks.changes(None).entries}
