"""Engine benchmark: one pair (contacts) on in-memory connectors, state in a temporary SQLite file.

Run from the repository root::

    python benchmarks/engine.py                  # 10,000 and 100,000 links, each case 3 times
    python benchmarks/engine.py --quick          # 1,000 and 10,000 links (smoke run)
    python benchmarks/engine.py --json           # the figures as one JSON document on stdout
    python benchmarks/engine.py --profile        # plus one cProfile'd run per case (stderr / JSON)
    python benchmarks/engine.py --sizes 50000 --repeat 1

For each size N a setup process puts N business contacts in a ``MemoryStore``, runs the initial sync
(N creates in the mailbox: timed and reported, not part of the headline) and saves the fixture: both
stores (pickled), their listings and the state database. Every run of every (size, case) then
happens in a fresh spawned process that loads the fixture, so its timings and its peak RSS are its
own:

- ``full``: ``RunOptions(full=True)`` with nothing changed: both sides list every item with its
  version; the run must make zero writes and fetch nothing.
- ``delta``: 1% of the business rows get a new ``job_title`` and another 1% of the mailbox items a
  new ``mobile_phone``; a normal (delta) run must make exactly N/100 updates on each side.
- ``lean``: ``full`` again, with connectors that hold only their listings: no item data is resident,
  so the process's peak RSS is what the engine itself needs (the in-memory stores of ``full`` and
  ``delta`` stand in for servers and take ~3.6 KB per link).

Figures per case (fastest of ``--repeat`` runs; the highest peak): wall seconds of
``PairRun.run()`` (lock, listings, links, plan, writes, bookkeeping), links per second (N / wall),
peak RSS (``ru_maxrss`` of the case process; on Linux its high-water mark is first reset to the RSS
of the loaded fixture, so loading's transient garbage is not counted but everything resident is),
the fixture's RSS and the run's own growth, and a baseline measured in the same process right after
the run: the cheapest possible full reconciliation, i.e. both full listings turned into
``{id: version}`` dicts, the links read with plain ``sqlite3`` into dicts, and every version
compared. ``eng/base`` (wall / baseline) is the figure to compare across machines: both halves
slow down together on a busy one.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import itertools
import json
import multiprocessing
import os
import pickle
import platform
import pstats
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from exsync.connector import Changes, Connector, Entry, Outcome, Record, Scope, Side, Write
from exsync.engine import PairRun, Policy, RunOptions, RunReport, direction
from exsync.model import Contact
from exsync.state import StateStore
from exsync.testing.memory import MemoryConnector, MemoryStore, _Row

PROFILE, PART = "BENCH", "contacts"
FINGERPRINT = "bench-settings-v1"  # a stored fingerprint that matches: the delta run is a delta run
POLICY = Policy(direction=direction("both"))
CASES = ("full", "delta", "lean")
CHANGED_SHARE = 100  # 1 in 100 items edited on each side in the delta case

# Targets, for the 100,000-link size (the time ratio target applies to every pair of sizes 10x apart).
TARGET_SIZE = 100_000
TARGET_FULL_SECONDS = 2.0
TARGET_PEAK_MB = 300.0
TARGET_RATIO_PER_10X = 12.0

# What the fixture keeps of a MemoryStore besides its rows: counters and indexes (plain values).
_STORE_STATE = ("_stamps", "_gone", "_seq", "_floor", "_versions", "_created", "_row_numbers")


# -- fixture -------------------------------------------------------------------------------------


def contact(n: int) -> Contact:
    return Contact(
        first_name=f"First{n}",
        last_name=f"Last{n}",
        job_title="Associate",
        department=f"Dept {n % 40}",
        company=f"Client {n % 997} Ltd",
        emails=[f"person{n}@client{n % 997}.example.com"],
        business_phones=[f"+44 20 7946 {n % 10000:04d}"],
        street=f"{n % 300} High Street",
        city="London",
        postal_code=f"EC{n % 9 + 1}A 1BB",
        country="United Kingdom",
        categories=["Clients"],
    )


def connectors(business: MemoryStore, mailbox: MemoryStore) -> tuple[MemoryConnector, MemoryConnector]:
    return (MemoryConnector(business, Side.BUSINESS, PART), MemoryConnector(mailbox, Side.MAILBOX, PART))


def pair_run(business: Connector, mailbox: Connector, store: StateStore, *, full: bool) -> PairRun:
    options = RunOptions(full=full, sleep=lambda seconds: None)
    return PairRun(PROFILE, PART, POLICY, business, mailbox, store, FINGERPRINT, options)


def save_stores(stores: list[MemoryStore], path: Path) -> None:
    """Both stores in one pickle (items the initial sync shares between them stay shared).

    Rows go as plain tuples: unpickling 400,000 slotted dataclasses one ``__setstate__`` at a time
    would take longer than the benchmark.
    """
    states = []
    for store in stores:
        state: dict[str, Any] = {"side": store.side.value, "name": store.name, "tables": store.tables}
        state.update({name: getattr(store, name) for name in _STORE_STATE})
        state["rows"] = [
            (r.record.id, r.record.version, r.record.item, r.record.stamp, r.record.scope.value,
             r.record.scope_reason, r.part, r.owner, r.created, r.changed)
            for r in store._rows.values()
        ]  # fmt: skip
        states.append(state)
    with path.open("wb") as f:
        pickle.dump(states, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_stores(path: Path) -> list[MemoryStore]:
    gc.disable()  # the cyclic GC would rescan the growing heap many times over while objects pile up
    try:
        return _load_stores(path)
    finally:
        gc.enable()


def _load_stores(path: Path) -> list[MemoryStore]:
    with path.open("rb") as f:
        states = pickle.load(f)
    stores = []
    for state in states:
        store = MemoryStore(state["side"], name=state["name"], tables=state["tables"])
        for name in _STORE_STATE:
            setattr(store, name, state[name])
        for id, version, item, stamp, scope, reason, part, owner, created, changed in state["rows"]:
            record = Record(id, version, item, stamp, Scope(scope), reason)
            row = _Row(record, Entry(id, version, stamp), part, owner, created, changed)
            store._rows[id] = row
            store._parts[part][id] = row
        stores.append(store)
    return stores


class ListingConnector:
    """A side that holds no items, only its listing (the ``lean`` case).

    Like ``MemoryConnector`` it answers a listing from entries built beforehand, so the run is timed
    without a connector's own work; anything but a full listing is a failure: a full reconciliation
    with nothing changed fetches and writes nothing.
    """

    def __init__(self, side: Side, rows: list[tuple[str, str, str | None]], token: str) -> None:
        self.side, self.token = side, token
        self.entries = [Entry(id, version, stamp) for id, version, stamp in rows]

    def changes(self, token: str | None) -> Changes:
        assert token is None, "the lean case lists in full"
        return Changes(list(self.entries), token=self.token)

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        raise AssertionError(f"the lean case fetched {len(ids)} {self.side.value} item(s)")

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        raise AssertionError(f"the lean case looked up {len(stamps)} {self.side.value} stamp(s)")

    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        raise AssertionError(f"the lean case wrote {len(writes)} {self.side.value} item(s)")


def save_listings(sides: list[MemoryConnector], path: Path) -> None:
    listings = []
    for conn in sides:
        changes = conn.changes(None)
        rows = [(e.id, e.version, e.stamp) for e in changes.entries]
        listings.append((conn.side.value, rows, changes.token))
    with path.open("wb") as f:
        pickle.dump(listings, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_listings(path: Path) -> list[ListingConnector]:
    gc.disable()
    try:
        with path.open("rb") as f:
            listings = pickle.load(f)
        return [ListingConnector(Side(side), rows, token) for side, rows, token in listings]
    finally:
        gc.enable()


def db_url(path: Path) -> str:
    return f"sqlite:///{path}"


def setup(size: int, folder: str) -> dict[str, Any]:
    """In its own process: N business contacts, the initial sync, the fixture saved in ``folder``."""
    where = Path(folder)
    business_store, mailbox_store = MemoryStore(Side.BUSINESS), MemoryStore(Side.MAILBOX)
    business, mailbox = connectors(business_store, mailbox_store)
    started = time.perf_counter()
    for n in range(1, size + 1):
        business_store.put(contact(n))
    put_seconds = time.perf_counter() - started
    with StateStore(db_url(where / "state.db")) as store:
        gc.collect()
        started = time.perf_counter()
        report = pair_run(business, mailbox, store, full=False).run()
        seconds = time.perf_counter() - started
    created = report.tally.writes[Side.MAILBOX].created
    assert report.outcome == "ok", report.message
    assert created == size and len(mailbox_store) == size, (created, len(mailbox_store))
    assert business_store.calls.writes == 0
    save_stores([business_store, mailbox_store], where / "stores.pickle")
    save_listings([business, mailbox], where / "listings.pickle")
    return {
        "size": size,
        "put_seconds": put_seconds,
        "initial_sync_seconds": seconds,
        "initial_items_per_second": size / seconds,
        "peak_rss_mb": _maxrss_mb(),
    }


# -- one case --------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, else KiB


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except OSError:
        return None


def _reset_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux: ``ru_maxrss`` follows it); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def edit_one_percent(business: MemoryStore, mailbox: MemoryStore, size: int) -> int:
    """Edit business rows n = 100, 200, … and the mailbox copies of rows n = 50, 150, … (disjoint)."""
    edited = 0
    for n in range(CHANGED_SHARE, size + 1, CHANGED_SHARE):
        business.edit(f"people:{n}", job_title=f"Partner {n}")
        edited += 1
    for record in mailbox.records(PART):
        n = int((record.stamp or "").rsplit(":", 1)[-1])
        if n % CHANGED_SHARE == CHANGED_SHARE // 2:
            mailbox.edit(record.id, mobile_phone=f"+44 7700 {n % 1000000:06d}")
    return edited


def baseline(business: Connector, mailbox: Connector, db: Path) -> tuple[float, int]:
    """The cheapest full reconciliation: listings and links as plain dicts, every version compared.

    Returns the seconds it took and how many items differ from their link (0 when all is in step).
    """
    started = time.perf_counter()
    listed = {side: {e.id: e.version for e in conn.changes(None).entries}
              for side, conn in ((Side.BUSINESS, business), (Side.MAILBOX, mailbox))}  # fmt: skip
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT business_id, mailbox_id, business_version, mailbox_version FROM links "
            "WHERE profile = ? AND part = ?",
            (PROFILE, PART),
        ).fetchall()
    finally:
        con.close()
    linked = {
        Side.BUSINESS: {b: bv for b, _, bv, _ in rows if b is not None},
        Side.MAILBOX: {m: mv for _, m, _, mv in rows if m is not None},
    }
    differ = 0
    for side in Side:
        now, then = listed[side], linked[side]
        differ += sum(1 for ident, version in now.items() if then.get(ident) != version)
        differ += sum(1 for ident in then if ident not in now)
    return time.perf_counter() - started, differ


def check(case: str, report: RunReport, stores: list[MemoryStore], edited: int) -> dict[str, Any]:
    """The run did what the case expects; returns its writes per side."""
    writes = {side.value: report.tally.writes[side].as_dict() for side in Side}
    calls = [asdict(store.calls) for store in stores]
    assert report.outcome == "ok", report.message
    assert not report.tally.errors, report.tally.errors
    if case in ("full", "lean"):
        assert report.full, f"the {case} case did not run a full reconciliation"
        assert all(n == 0 for counts in writes.values() for n in counts.values()), writes
        assert all(c["creates"] + c["updates"] + c["deletes"] + c["fetches"] == 0 for c in calls), calls
    else:
        assert not report.full, "the delta case ran a full reconciliation"
        expected = {"created": 0, "updated": edited, "deleted": 0}
        assert writes == {"business": expected, "mailbox": expected}, writes
        assert all(c["creates"] + c["updates"] + c["deletes"] == edited for c in calls), calls
    return writes


def run_case(
    size: int, case: str, folder: str, rep: int, profile: bool, baseline_repeat: int
) -> dict[str, Any]:
    """In its own process: load the fixture, prepare the case, time one run, then the baseline."""
    bare_mb = _rss_mb()  # the interpreter with exsync imported: what an engine-only process starts from
    where = Path(folder)
    db = where / f"{case}-{rep}.db"
    shutil.copyfile(where / "state.db", db)  # setup closed its store: no -wal file to copy with it
    business: Any
    mailbox: Any
    stores: list[MemoryStore] = []
    edited = 0
    if case == "lean":
        business, mailbox = load_listings(where / "listings.pickle")
    else:
        stores = load_stores(where / "stores.pickle")
        business, mailbox = connectors(*stores)
        if case == "delta":
            edited = edit_one_percent(stores[0], stores[1], size)
    store = StateStore(db_url(db), create=False)
    run = pair_run(business, mailbox, store, full=case != "delta")
    load_peak_mb = _maxrss_mb()
    gc.collect()
    fixture_mb = _rss_mb()
    reset = _reset_peak()  # to the RSS now: what is resident stays counted, loading's spikes do not

    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = run.run()
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    peak_mb = _maxrss_mb()
    writes = check(case, report, stores, edited)
    store.close()

    baseline_seconds = float("inf")
    for _ in range(baseline_repeat):
        gc.collect()
        took, differ = baseline(business, mailbox, db)
        assert differ == 0, f"{differ} items out of step after the {case} run"
        baseline_seconds = min(baseline_seconds, took)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    out: dict[str, Any] = {
        "size": size,
        "case": case,
        "seconds": seconds,
        "peak_rss_mb": peak_mb,
        "peak_is_run_only": reset,
        "fixture_rss_mb": fixture_mb,
        "bare_rss_mb": bare_mb,
        "load_peak_rss_mb": load_peak_mb,
        "baseline_seconds": baseline_seconds,
        "changed_items": 2 * edited,
        "writes": writes,
    }
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
        out["profile"] = text.getvalue()
    return out


# -- driver ----------------------------------------------------------------------------------


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Call ``fn(*args)`` in a fresh spawned process (one task per process) and return its result."""
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


def summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One (size, case) over its repetitions: the fastest run's time, the highest peak."""
    best = min(reps, key=lambda r: r["seconds"])
    out = dict(best)
    own = [r["peak_rss_mb"] - r["fixture_rss_mb"] for r in reps if r["fixture_rss_mb"] is not None]
    out.update(
        repeats=len(reps),
        all_seconds=[r["seconds"] for r in reps],
        items_per_second=best["size"] / best["seconds"],
        peak_rss_mb=max(r["peak_rss_mb"] for r in reps),
        baseline_seconds=min(r["baseline_seconds"] for r in reps),
        run_own_rss_mb=max(own) if own else None,
    )
    out["engine_over_baseline"] = out["seconds"] / out["baseline_seconds"]
    if own and best["bare_rss_mb"] is not None:
        # What a process running only the engine would peak at: the interpreter with its imports plus
        # what the run itself added (the in-memory stores stand in for servers and are left out).
        out["engine_only_peak_mb"] = best["bare_rss_mb"] + max(own)
    else:
        out["engine_only_peak_mb"] = None
    return out


@dataclass
class Target:
    name: str
    value: float | None
    limit: float
    unit: str
    strict: bool = True  # "under the limit"; False: "at most the limit"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value < self.limit if self.strict else self.value <= self.limit

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit, "unit": self.unit,
                "strict": self.strict, "met": self.met}  # fmt: skip


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("PASS" if met else "MISS")


def ratios(results: list[dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    """Time ratio of each size to the previous one, per case, with the target scaled to the size ratio."""
    by = {(r["size"], r["case"]): r for r in results}
    out = []
    for small, big in itertools.pairwise(sizes):
        for case in CASES:
            a, b = by[(small, case)], by[(big, case)]
            limit = TARGET_RATIO_PER_10X * (big / small) / 10
            ratio = b["seconds"] / a["seconds"]
            out.append({"case": case, "small": small, "big": big, "ratio": ratio, "limit": limit,
                        "baseline_ratio": b["baseline_seconds"] / a["baseline_seconds"],
                        "met": ratio <= limit})  # fmt: skip
    return out


def targets(results: list[dict[str, Any]], scaling: list[dict[str, Any]]) -> list[Target]:
    by = {(r["size"], r["case"]): r for r in results}

    def figure(case: str, name: str) -> float | None:
        r = by.get((TARGET_SIZE, case))
        return None if r is None else r[name]

    n = f"{TARGET_SIZE:,} links"
    out = [Target(f"full run of {n}: wall time", figure("full", "seconds"), TARGET_FULL_SECONDS, "s")]
    for case in CASES:
        what = "no items held" if case == "lean" else "in-memory stores included"
        name = f"{case} run of {n}: peak RSS, whole process ({what})"
        out.append(Target(name, figure(case, "peak_rss_mb"), TARGET_PEAK_MB, "MB"))
    for case in CASES:
        if case != "lean":
            name = f"{case} run of {n}: peak RSS, engine alone (estimate: interpreter + own growth)"
            out.append(Target(name, figure(case, "engine_only_peak_mb"), TARGET_PEAK_MB, "MB"))
    for s in scaling:
        name = f"time ratio {s['big']:,}/{s['small']:,}, {s['case']}"
        out.append(Target(name, s["ratio"], s["limit"], "x", strict=False))
    return out


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def print_report(doc: dict[str, Any]) -> None:
    w = print
    m = doc["machine"]
    w(f"exsync engine benchmark: Python {m['python']} on {m['platform']}, {m['cpus']} CPUs")
    w("contacts part, in-memory connectors, state in a temporary SQLite file; "
      f"fastest of {doc['repeat']} runs per row, each in a fresh process")  # fmt: skip
    w("")
    w("Initial sync (setup, not in the headline):")
    w(f"  {'links':>8}  {'put rows s':>10}  {'sync s':>7}  {'items/s':>8}  {'peak RSS MB':>11}")
    for s in doc["setup"]:
        w(f"  {s['size']:>8,}  {s['put_seconds']:>10.2f}  {s['initial_sync_seconds']:>7.2f}  "
          f"{s['initial_items_per_second']:>8,.0f}  {s['peak_rss_mb']:>11.0f}")  # fmt: skip
    w("")
    w("Runs, one fresh process each: full = RunOptions(full=True), nothing changed, zero writes; delta =")
    w("1% of rows edited on each side, a delta run, N/100 updates per side; lean = full again with")
    w("listing-only connectors that hold no items, only their listings (the engine's own footprint).")
    w("wall = PairRun.run(); items/s = links / wall; RSS in MB: peak of the case process (what is resident")
    w("included), fixture = resident before the run, own = peak - fixture, engine = interpreter with")
    w("imports + own; base s = dict-only full reconciliation in the same process; eng/base = wall / base.")
    head = (
        f"  {'links':>8}  {'case':<5}  {'wall s':>7}  {'(runs)':<20}  {'items/s':>8}  {'peak':>5}  "
        f"{'fixture':>7}  {'own':>4}  {'engine':>6}  {'base s':>6}  {'eng/base':>8}  {'writes':>6}"
    )
    w(head)
    for r in doc["cases"]:
        writes = sum(n for counts in r["writes"].values() for n in counts.values())
        runs = "/".join(f"{x:.2f}" for x in r["all_seconds"])
        peak = _mb(r["peak_rss_mb"]) + ("" if r["peak_is_run_only"] else "*")
        w(f"  {r['size']:>8,}  {r['case']:<5}  {r['seconds']:>7.3f}  {runs:<20}  "
          f"{r['items_per_second']:>8,.0f}  {peak:>5}  {_mb(r['fixture_rss_mb']):>7}  "
          f"{_mb(r['run_own_rss_mb']):>4}  {_mb(r['engine_only_peak_mb']):>6}  "
          f"{r['baseline_seconds']:>6.3f}  {r['engine_over_baseline']:>7.1f}x  {writes:>6}")  # fmt: skip
    if any(not r["peak_is_run_only"] for r in doc["cases"]):
        w("  * the high-water mark could not be reset: the peak includes loading the fixture")
    w("")
    w("Scaling (time ratio between sizes; linear is the size ratio):")
    for s in doc["scaling"]:
        w(f"  {s['case']:<5}  {s['big']:>8,}/{s['small']:<8,}  {s['ratio']:6.2f}x  (limit {s['limit']:g}x; "
          f"baseline {s['baseline_ratio']:.2f}x)  {verdict(s['met'])}")  # fmt: skip
    w("")
    w("Targets:")
    for t in doc["targets"]:
        value = "not measured" if t["value"] is None else f"{t['value']:.2f} {t['unit']}"
        limit = f"{'<' if t['strict'] else '<='} {t['limit']:g} {t['unit']}"
        w(f"  {verdict(t['met']):<4}  {t['name']}: {value} ({limit})")
    for name, text in doc.get("profiles", {}).items():
        print(f"\n== profile: {name} (a separate run; times include profiler overhead) ==", file=sys.stderr)
        print(text, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated link counts")
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes 1000,10000")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case (fastest kept)")
    parser.add_argument("--baseline-repeat", type=int, default=3, help="baseline runs per process (best)")
    parser.add_argument("--profile", action="store_true", help="one more run per case under cProfile")
    args = parser.parse_args(argv)
    sizes = [1000, 10000] if args.quick else sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if any(size < CHANGED_SHARE for size in sizes):
        parser.error(f"sizes must be at least {CHANGED_SHARE}")
    if args.repeat < 1 or args.baseline_repeat < 1:
        parser.error("--repeat and --baseline-repeat must be at least 1")

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    setups, results, profiles = [], [], {}
    with tempfile.TemporaryDirectory(prefix="exsync-bench-") as tmp:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            progress(f"{size:,} links: setup and initial sync…")
            setups.append(in_child(setup, size, str(folder)))
            for case in CASES:
                reps = []
                for rep in range(args.repeat):
                    progress(f"{size:,} links: {case} run {rep + 1}/{args.repeat}…")
                    figures = in_child(run_case, size, case, str(folder), rep, False, args.baseline_repeat)
                    reps.append(figures)
                results.append(summarise(reps))
                if args.profile:
                    progress(f"{size:,} links: {case} run under cProfile…")
                    profiled = in_child(run_case, size, case, str(folder), args.repeat, True, 1)
                    profiles[f"{size:,} links, {case}"] = profiled["profile"]
            shutil.rmtree(folder)
    scaling = ratios(results, sizes)
    doc = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "sizes": sizes,
        "repeat": args.repeat,
        "setup": setups,
        "cases": results,
        "scaling": scaling,
        "targets": [t.as_json() for t in targets(results, scaling)],
    }
    if args.profile:
        doc["profiles"] = profiles
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print_report(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
