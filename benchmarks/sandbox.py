"""Sandbox load check: the requests per second the Graph sandbox serves on this machine, and how much of
its time goes outside the request handler (TLS, HTTP parsing, uvicorn).

Run from the repository root::

    python benchmarks/sandbox.py              # each measure 3 runs of 3 s (fastest kept)
    python benchmarks/sandbox.py --quick      # 1 run of 1 s each (smoke run)
    python benchmarks/sandbox.py --threads 8 --seconds 5 --repeat 5
    python benchmarks/sandbox.py --memory     # no data folder: nothing written to SQLite
    python benchmarks/sandbox.py --profile    # plus a cProfile of each measure, in-process
    python benchmarks/sandbox.py --json       # the figures as one JSON document on stdout

The server runs in a process of its own, as it does for the benchmarks that use it: ``SandboxServer``
(HTTPS through uvicorn, its own CA) on a data folder in a temporary directory (SQLite written through on
every change, as ``exsync sandbox`` does; ``--memory`` for the in-memory store of the test suite), with
one mailbox per client thread (so the 4-concurrent-requests limit per mailbox is never what is measured)
and the per-mailbox rate limit raised out of the way. Each mailbox holds 500 contacts in its Contacts
folder and 50 in a folder of their own. The clients are ``--threads`` httpx clients (HTTP/1.1,
keep-alive, one per thread, each on its own mailbox) in this process.

Measures (requests per second over ``--seconds``, fastest of ``--repeat`` runs, all interleaved):

- ``contact GET``: ``GET /v1.0/users/{upn}/contacts/{id}`` of a random one of the 500;
- ``delta page (50)``: ``GET …/contactFolders/{id}/contacts/delta`` with ``Prefer: odata.maxpagesize=50``
  on the 50-contact folder: a new round every time, one page of 50 contacts and a deltaLink;
- ``contact POST``: ``POST /v1.0/users/{upn}/contacts`` of a realistic contact (the folder grows);
- ``$batch of 20 GETs``: ``POST /v1.0/$batch`` of 20 contact GETs (the rate counts envelopes).

Baselines, measured in the same run because these machines are noisy:

- ``trivial TLS app``: the same clients against an ASGI app that answers every request with a fixed
  small JSON body, served by uvicorn with the sandbox's own configuration (same certificate, loop,
  HTTP parser, keep-alive) in the server process: the ceiling of the transport. ``× trivial`` is the
  measure's rate over this one.
- ``direct``: the same requests through ``Sandbox.serve(Request)`` in the server process, no HTTP at all:
  the ceiling of the handler.

Per HTTP measure the server process reports its CPU time and the time spent inside ``Sandbox.handle``
(wrapped with a counter): ``in handler`` is the share of the server's CPU spent in the handler, the rest
is TLS, HTTP parsing, uvicorn and the ASGI adapter. ``server ms/req`` is the server's CPU per request and
``capacity`` the rate one core would serve at that cost; ``busy`` is the server's CPU over wall time: well
below 100% means the clients, not the server, set the rate (on a 2-core machine the clients in one
Python process share the GIL and compete with the server for the cores).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import multiprocessing
import os
import platform
import pstats
import random
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

MAILBOX_CONTACTS = 500
FOLDER_CONTACTS = 50
BATCH_SIZE = 20
SPECS_PER_THREAD = 200  # requests prepared per thread and measure, cycled through
WARMUP_REQUESTS = 20  # per thread, before each run
TRIVIAL_BODY = json.dumps({"@odata.context": "trivial", "id": "AAMkAtrivial", "value": "ok"}).encode()
USER_AGENT = "exsync-benchmark"

out = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, highlight=False)


def progress(message: str) -> None:
    err.print(f"[dim]{message}[/dim]")


@dataclass(frozen=True)
class Spec:
    """One request as a client sends it: the path with its query, body and extra headers."""

    method: str
    url: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


# -- the server process ----------------------------------------------------------------------------


@dataclass
class Seeded:
    """What the server process tells the clients: where it is and what the mailboxes hold."""

    url: str
    trivial_url: str
    ca: str
    upns: list[str]
    contacts: dict[str, list[str]]  # upn → contact ids in the Contacts folder
    folders: dict[str, str]  # upn → id of the 50-contact folder
    versions: dict[str, str] = field(default_factory=dict)


class HandlerMeter:
    """Wraps `Sandbox.handle` (an instance attribute shadows the method) to add up the time inside it."""

    def __init__(self, sandbox: Any) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._handle = sandbox.handle
        sandbox.handle = self.handle

    def handle(self, req: Any, ticket: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return self._handle(req, ticket)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def contact_body(n: int, rng: random.Random) -> dict[str, Any]:
    given = rng.choice(("Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro"))
    surname = rng.choice(("Meyer", "O'Neil", "Novák", "Dubois", "Smith", "Tanaka", "García"))
    return {
        "givenName": given,
        "surname": f"{surname} {n}",
        "emailAddresses": [{"address": f"{given.lower()}.{n}@client{n % 97}.example", "name": given}],
        "businessPhones": [f"+44 20 7946 {n % 10000:04d}"],
        "mobilePhone": f"+44 7700 9{n % 100000:05d}",
        "companyName": f"Client {n % 97} Ltd",
        "jobTitle": "Partner",
        "businessAddress": {
            "street": f"{n} High Street",
            "city": "London",
            "postalCode": "EC1A 1BB",
            "countryOrRegion": "United Kingdom",
        },  # fmt: skip
        "categories": ["Firm"],
    }


def _trivial_app() -> Callable[..., Any]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(TRIVIAL_BODY)).encode())]

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": TRIVIAL_BODY})

    return app


def server_process(conn: Connection, threads: int, memory: bool) -> None:
    """The child: the sandbox and the trivial app served over TLS; commands from the parent on `conn`."""
    import uvicorn

    from exsync.sandbox.http import Request
    from exsync.sandbox.server import SandboxServer

    folder = None if memory else tempfile.TemporaryDirectory(prefix="exsync-bench-sandbox-")
    upns = [f"bench{n}@firm.example" for n in range(threads)]
    server = SandboxServer(Path(folder.name) if folder else None, users=upns, requests_per_window=10**9)
    sandbox = server.sandbox
    rng = random.Random(20260315)

    def seed(method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        # Straight to the handler: no token needed for the seeding.
        response = sandbox.handle(Request.from_url(method, url, {}, json.dumps(body).encode()))
        assert response.status == 201, response.body
        return dict(response.body)

    contacts: dict[str, list[str]] = {}
    folders: dict[str, str] = {}
    for upn in upns:
        base = f"/v1.0/users/{upn}"
        contacts[upn] = [seed("POST", f"{base}/contacts", contact_body(n, rng))["id"]
                         for n in range(MAILBOX_CONTACTS)]  # fmt: skip
        folders[upn] = seed("POST", f"{base}/contactFolders", {"displayName": "Bench"})["id"]
        for n in range(FOLDER_CONTACTS):
            seed("POST", f"{base}/contactFolders/{folders[upn]}/contacts", contact_body(n, rng))

    # The transport's ceiling: the sandbox's own uvicorn settings, a trivial app.
    mine = server._server.config  # the same settings, whatever server.py sets
    trivial_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    trivial_socket.bind((server.host, 0))
    trivial = uvicorn.Server(
        uvicorn.Config(
            _trivial_app(),
            ssl_certfile=mine.ssl_certfile,
            ssl_keyfile=mine.ssl_keyfile,
            log_level="warning",
            lifespan="off",
            access_log=False,
            loop=mine.loop,
            http=mine.http,
            timeout_keep_alive=mine.timeout_keep_alive,
        )  # fmt: skip
    )
    trivial_thread = threading.Thread(target=trivial.run, kwargs={"sockets": [trivial_socket]}, daemon=True)
    server.start()
    trivial_thread.start()
    while not trivial.started:
        time.sleep(0.01)
    meter = HandlerMeter(sandbox)
    versions = {"uvicorn": uvicorn.__version__}
    for name in ("uvloop", "httptools", "h11"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "absent"
    host, port = trivial_socket.getsockname()
    seeded = Seeded(
        server.url, f"https://{host}:{port}", str(server.tls.ca), upns, contacts, folders, versions
    )
    conn.send(asdict(seeded))  # plain data: this module is __mp_main__ here, __main__ in the parent

    marks = (0.0, 0.0, 0.0, 0)
    try:
        while True:
            command, *rest = conn.recv()
            if command == "start":
                marks = (time.perf_counter(), time.process_time(), meter.seconds, meter.calls)
                conn.send(None)
            elif command == "stop":
                wall, cpu = time.perf_counter() - marks[0], time.process_time() - marks[1]
                conn.send({"wall": wall, "cpu": cpu, "handler": meter.seconds - marks[2],
                           "handled": meter.calls - marks[3]})  # fmt: skip
            elif command == "direct":
                conn.send(direct(sandbox, rest[0], rest[1]))
            elif command == "profile":
                conn.send(profile_direct(sandbox, rest[0], rest[1]))
            elif command == "quit":
                break
    finally:
        trivial.should_exit = True
        trivial_thread.join(timeout=10)
        server.stop()
        if folder is not None:
            folder.cleanup()


def _requests(specs: Sequence[Spec], base_url: str) -> list[Any]:
    from exsync.sandbox.http import Request

    return [Request.from_url(s.method, s.url, dict(s.headers), s.body, base_url) for s in specs]


def direct(sandbox: Any, specs: Sequence[Spec], seconds: float) -> dict[str, float]:
    """The handler's ceiling: `Sandbox.serve` in a loop, the Request built each time as the ASGI adapter
    does (from the parsed URL, without HTTP)."""
    from exsync.sandbox.http import Request

    base = "https://127.0.0.1"
    for req in _requests(specs[:WARMUP_REQUESTS], base):
        sandbox.serve(req)
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    for spec in itertools.cycle(specs):
        response = sandbox.serve(Request.from_url(spec.method, spec.url, dict(spec.headers), spec.body, base))
        assert response.status < 300, response.body
        count += 1
        if count % 16 == 0 and time.perf_counter() >= deadline:
            break
    return {"requests": count, "wall": time.perf_counter() - started}


def profile_direct(sandbox: Any, specs: Sequence[Spec], count: int) -> str:
    requests = _requests(list(itertools.islice(itertools.cycle(specs), count)), "https://127.0.0.1")
    profiler = cProfile.Profile()
    profiler.enable()
    for req in requests:
        sandbox.serve(req)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
    lines = text.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    root = str(Path(__file__).resolve().parents[1]) + "/"
    return "\n".join(line.replace(root, "") for line in lines[start:] if line.strip())


# -- the clients -----------------------------------------------------------------------------------


@dataclass
class Run:
    requests: int
    wall: float
    latencies: list[float]
    errors: int = 0
    server: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.wall


class HttpxClient:
    """What exsync's own Graph client sends with: httpx, HTTP/1.1, one keep-alive connection."""

    def __init__(self, url: str, ca: str, headers: dict[str, str]) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.client = httpx.Client(base_url=url, verify=ca, headers=headers, limits=limits, timeout=60)

    def prepare(self, spec: Spec) -> Any:
        return spec

    def send(self, prepared: Any) -> int:
        spec: Spec = prepared
        response = self.client.request(
            spec.method, spec.url, content=spec.body or None, headers=dict(spec.headers)
        )
        return response.status_code

    def close(self) -> None:
        self.client.close()


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on a TLS socket, requests encoded beforehand: it costs a small
    fraction of what httpx costs per request, so the server, not the client, sets the rate."""

    def __init__(self, url: str, ca: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.tls = ssl.create_default_context(cafile=ca)
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock: ssl.SSLSocket | None = None
        self.buffer = b""

    def prepare(self, spec: Spec) -> Any:
        extra = "".join(f"{k}: {v}\r\n" for k, v in spec.headers)
        head = (
            f"{spec.method} {spec.url} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.headers}{extra}"
            f"Content-Length: {len(spec.body)}\r\n\r\n"
        )
        return head.encode() + spec.body

    def send(self, prepared: Any) -> int:
        fresh = self.sock is None
        try:
            return self._exchange(prepared)
        except OSError:  # ssl.SSLError and ConnectionError too
            self.close()
            if fresh:
                raise
            return self._exchange(prepared)  # the server closed an idle connection: once more, as httpx does

    def _exchange(self, prepared: bytes) -> int:
        if self.sock is None:
            raw = socket.create_connection((self.host, self.port))
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
            self.buffer = b""
        sock = self.sock
        sock.sendall(prepared)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._recv(sock)
        length = 0
        for line in buffer[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        rest = buffer[end + 4 :]
        while len(rest) < length:
            rest += self._recv(sock)
        self.buffer = rest[length:]
        return int(buffer[9:12])

    @staticmethod
    def _recv(sock: ssl.SSLSocket) -> bytes:
        chunk = sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


Client = HttpxClient | RawClient
CLIENTS: dict[str, type[HttpxClient] | type[RawClient]] = {"httpx": HttpxClient, "raw": RawClient}


def http_run(
    clients: Sequence[Client], specs: Sequence[Sequence[Spec]], seconds: float, conn: Connection
) -> Run:
    """Every thread sends its own requests back to back for `seconds`; the server counts meanwhile."""
    warmed, go = threading.Barrier(len(clients) + 1), threading.Barrier(len(clients) + 1)
    counts = [0] * len(clients)
    errors = [0] * len(clients)
    latencies: list[list[float]] = [[] for _ in clients]
    deadline = [0.0]

    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            client = clients[n]
            prepared = [client.prepare(s) for s in specs[n]]
            for request in prepared[:WARMUP_REQUESTS]:
                client.send(request)
            warmed.wait()
            go.wait()
            times, until = latencies[n], deadline[0]
            for request in itertools.cycle(prepared):
                started = time.perf_counter()
                status = client.send(request)
                times.append(time.perf_counter() - started)
                counts[n] += 1
                errors[n] += status >= 300
                if started >= until:
                    return
        except BaseException as exc:
            failures.append(exc)
            warmed.abort()  # the others and the main thread stop waiting
            go.abort()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: reported below
        warmed.wait()
    conn.send(("start",))
    conn.recv()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    with contextlib.suppress(threading.BrokenBarrierError):
        go.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    conn.send(("stop",))
    server = conn.recv()
    if failures:
        raise RuntimeError(f"a client failed: {failures[0]!r}") from failures[0]
    return Run(sum(counts), wall, sorted(itertools.chain(*latencies)), sum(errors), server)


@dataclass
class Measure:
    name: str
    specs: list[list[Spec]]  # per thread
    trivial: bool = False  # against the trivial app
    per_request: int = 1  # Graph requests in one HTTP request ($batch)
    runs: dict[str, list[Run]] = field(default_factory=dict)  # per client kind
    direct: list[dict[str, float]] = field(default_factory=list)
    profile: str = ""

    def best(self, client: str) -> Run:
        return max(self.runs[client], key=lambda r: r.rate)

    @property
    def direct_rate(self) -> float:
        return max(d["requests"] / d["wall"] for d in self.direct) if self.direct else 0.0


def measures(seeded: Seeded, rng: random.Random) -> list[Measure]:
    def each(make: Callable[[str, int], Spec]) -> list[list[Spec]]:
        return [[make(upn, n) for n in range(SPECS_PER_THREAD)] for upn in seeded.upns]

    def get(upn: str, _: int) -> Spec:
        return Spec("GET", f"/v1.0/users/{upn}/contacts/{rng.choice(seeded.contacts[upn])}")

    def delta(upn: str, _: int) -> Spec:
        url = f"/v1.0/users/{upn}/contactFolders/{seeded.folders[upn]}/contacts/delta"
        return Spec("GET", url, headers=(("Prefer", "odata.maxpagesize=50"),))

    def post(upn: str, n: int) -> Spec:
        body = json.dumps(contact_body(10_000 + n, rng)).encode()
        return Spec("POST", f"/v1.0/users/{upn}/contacts", body, (("Content-Type", "application/json"),))

    def batch(upn: str, _: int) -> Spec:
        requests = [{"id": str(i + 1), "method": "GET", "url": f"/users/{upn}/contacts/{contact}"}
                    for i, contact in enumerate(rng.sample(seeded.contacts[upn], BATCH_SIZE))]  # fmt: skip
        return Spec("POST", "/v1.0/$batch", json.dumps({"requests": requests}).encode(),
                    (("Content-Type", "application/json"),))  # fmt: skip

    return [
        Measure("trivial TLS app", each(lambda _upn, _n: Spec("GET", "/trivial")), trivial=True),
        Measure("contact GET", each(get)),
        Measure("delta page (50)", each(delta)),
        Measure("contact POST", each(post)),
        Measure(f"$batch of {BATCH_SIZE} GETs", each(batch), per_request=BATCH_SIZE),
    ]


def token(seeded: Seeded) -> str:
    response = httpx.post(
        f"{seeded.url}/firm/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "exsync-sandbox",
            "client_secret": "exsync-sandbox",
            "scope": "https://graph.microsoft.com/.default",
        },  # fmt: skip
        verify=seeded.ca,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def check(client: httpx.Client, measure: Measure) -> str | None:
    """None if the measure's request works; else why (a sandbox without `$batch` yet, say)."""
    spec = measure.specs[0][0]
    response = client.request(spec.method, spec.url, content=spec.body or None, headers=dict(spec.headers))
    if response.status_code >= 300:
        return f"{response.status_code} {response.text[:200]}"
    if measure.name.startswith("$batch"):
        statuses = [r.get("status") for r in response.json().get("responses", [])]
        if len(statuses) != BATCH_SIZE or any(s != 200 for s in statuses):
            return f"sub-requests answered {statuses}"
    if measure.name.startswith("delta"):
        page = response.json()
        if len(page.get("value", [])) != FOLDER_CONTACTS or "@odata.deltaLink" not in page:
            return f"expected one page of {FOLDER_CONTACTS} contacts, got {len(page.get('value', []))}"
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=server_process, args=(child, args.threads, args.memory), daemon=True)
    progress(f"starting the sandbox in its own process and seeding {args.threads} mailboxes…")
    process.start()
    try:
        seeded = Seeded(**parent.recv())
        headers = {"Authorization": f"Bearer {token(seeded)}", "User-Agent": USER_AGENT}
        todo = measures(seeded, random.Random(7))
        skipped: dict[str, str] = {}
        with httpx.Client(base_url=seeded.url, verify=seeded.ca, headers=headers) as probe:
            for measure in [m for m in todo if not m.trivial]:
                problem = check(probe, measure)
                if problem is not None:
                    skipped[measure.name] = problem
                    progress(f"{measure.name}: skipped ({problem})")
        todo = [m for m in todo if m.name not in skipped]
        clients = {
            (kind, trivial): [CLIENTS[kind](seeded.trivial_url if trivial else seeded.url, seeded.ca, headers)
                              for _ in range(args.threads)]
            for kind in args.clients for trivial in (False, True)
        }  # fmt: skip
        try:
            for round_ in range(args.repeat):
                for measure in todo:
                    if not measure.trivial:
                        progress(f"run {round_ + 1}/{args.repeat}: {measure.name}, direct…")
                        specs = [
                            _with(s, headers) for group in zip(*measure.specs, strict=True) for s in group
                        ]
                        parent.send(("direct", specs, args.seconds))
                        measure.direct.append(parent.recv())
                    for kind in args.clients:
                        progress(f"run {round_ + 1}/{args.repeat}: {measure.name}, {kind} clients…")
                        chosen = clients[kind, measure.trivial]
                        measure.runs.setdefault(kind, []).append(
                            http_run(chosen, measure.specs, args.seconds, parent)
                        )
            if args.profile:
                for measure in [m for m in todo if not m.trivial]:
                    progress(f"cProfile: {measure.name}…")
                    specs = [_with(s, headers) for s in measure.specs[0]]
                    parent.send(("profile", specs, args.profile_requests))
                    measure.profile = parent.recv()
        finally:
            for group in clients.values():
                for client in group:
                    client.close()
        parent.send(("quit",))
        process.join(timeout=30)
    finally:
        if process.is_alive():
            process.kill()
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "server": seeded.versions,
        "threads": args.threads,
        "seconds": args.seconds,
        "repeat": args.repeat,
        "store": "in memory" if args.memory else "data folder (SQLite)",
        "measures": todo,
        "skipped": skipped,
    }


def _with(spec: Spec, headers: dict[str, str]) -> Spec:
    return Spec(spec.method, spec.url, spec.body, (*headers.items(), *spec.headers))


# -- report ----------------------------------------------------------------------------------------


def figures(measure: Measure, trivial: Measure, client: str) -> dict[str, Any]:
    best = measure.best(client)
    server = best.server
    cpu_per_request = server["cpu"] / best.requests
    figure = {
        "name": measure.name,
        "client": client,
        "rate": best.rate,
        "rates": [r.rate for r in measure.runs[client]],
        "errors": sum(r.errors for r in measure.runs[client]),
        "vs_trivial": best.rate / trivial.best(client).rate,
        "server_ms_per_request": cpu_per_request * 1000,
        "capacity": 1 / cpu_per_request,
        "busy": server["cpu"] / server["wall"],
        "latency_p50_ms": statistics.median(best.latencies) * 1000,
        "latency_p99_ms": best.latencies[int(len(best.latencies) * 0.99)] * 1000,
    }
    if not measure.trivial:
        figure["in_handler"] = server["handler"] / server["cpu"]
        figure["handler_ms_per_request"] = server["handler"] / max(server["handled"], 1) * 1000
        figure["direct_rate"] = measure.direct_rate
        figure["vs_direct"] = best.rate / measure.direct_rate
        figure["graph_requests_per_second"] = best.rate * measure.per_request
    return figure


CLIENT_TITLES = {
    "httpx": "httpx clients (what exsync sends with)",
    "raw": "raw TLS socket clients (cheap: the server's own ceiling)",
}


def report(doc: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
    m, s = doc["machine"], doc["server"]
    out.print(
        f"[bold]exsync sandbox load check[/bold]: Python {m['python']} on {m['platform']}, {m['cpus']} CPUs"
    )
    out.print(
        f"server: its own process, uvicorn {s['uvicorn']} (uvloop {s['uvloop']}, httptools "
        f"{s['httptools']}), TLS; store: {doc['store']}; clients: {doc['threads']} threads in this "
        f"process, one keep-alive connection and one mailbox each; fastest of {doc['repeat']} runs of "
        f"{doc['seconds']:g} s"
    )
    for client, figures_ in rows.items():
        table = Table(title=CLIENT_TITLES[client], title_justify="left")
        columns = ("measure", "req/s", "× trivial", "direct req/s", "HTTP/direct", "in handler",
                   "server ms/req", "capacity/core", "busy", "p50 ms", "p99 ms", "runs (req/s)")  # fmt: skip
        for name in columns:
            table.add_column(name, justify="left" if name in ("measure", "runs (req/s)") else "right")
        for r in figures_:
            direct = "in_handler" in r
            table.add_row(
                r["name"] + (f"  [red]{r['errors']} errors[/red]" if r["errors"] else ""),
                f"{r['rate']:,.0f}",
                f"{r['vs_trivial']:.2f}×",
                f"{r['direct_rate']:,.0f}" if direct else "",
                f"{r['vs_direct']:.2f}×" if direct else "",
                f"{r['in_handler']:.0%}" if direct else "",
                f"{r['server_ms_per_request']:.2f}",
                f"{r['capacity']:,.0f}",
                f"{r['busy']:.0%}",
                f"{r['latency_p50_ms']:.1f}",
                f"{r['latency_p99_ms']:.1f}",
                "/".join(f"{x:,.0f}" for x in r["rates"]),
            )
        out.print(table)
        trivial = figures_[0]
        for r in figures_[1:]:
            batch = (
                f" ({r['graph_requests_per_second']:,.0f} Graph requests/s)" if "$batch" in r["name"] else ""
            )
            out.print(
                f"  {r['name']}: {r['rate']:,.0f} req/s{batch} ({r['vs_trivial']:.2f}× the trivial TLS app "
                f"at {trivial['rate']:,.0f} req/s; {r['vs_direct']:.2f}× direct at {r['direct_rate']:,.0f} "
                f"req/s); in handler {r['in_handler']:.0%}, outside {1 - r['in_handler']:.0%}"
            )
    for name, why in doc["skipped"].items():
        out.print(f"[yellow]{name}: skipped[/yellow] ({why})")
    out.print(
        "[dim]direct: Sandbox.serve in the server process, no HTTP; in handler: time in Sandbox.handle over "
        "the server process's CPU time (the rest: TLS, HTTP parsing, uvicorn, the ASGI adapter, admission); "
        "server ms/req: its CPU per request; capacity/core: 1 / that; busy: server CPU / wall (well below "
        "100%: the clients, not the server, set the rate)[/dim]"
    )
    for measure in doc["measures"]:
        if measure.profile:
            out.print(f"[bold]cProfile of {measure.name}, in-process (Sandbox.serve), by own time[/bold]")
            out.print(measure.profile, markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run of 1 s per measure")
    parser.add_argument("--threads", type=int, default=4, help="client threads, one mailbox each (default 4)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="length of one run (default 3; --quick 1)"
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per measure, fastest kept (default 3)")
    parser.add_argument(
        "--client", choices=("httpx", "raw", "both"), default="both", help="which clients (default both)"
    )
    parser.add_argument("--memory", action="store_true", help="no data folder: the in-memory store")
    parser.add_argument("--profile", action="store_true", help="plus a cProfile of each measure, in-process")
    parser.add_argument("--profile-requests", type=int, default=1000, help="requests per profile")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (1.0 if args.quick else 3.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.clients = ("httpx", "raw") if args.client == "both" else (args.client,)
    if args.threads < 1 or args.repeat < 1 or args.seconds <= 0:
        parser.error("--threads and --repeat must be at least 1, --seconds positive")
    doc = run(args)
    trivial = doc["measures"][0]
    rows = {client: [figures(m, trivial, client) for m in doc["measures"]] for client in args.clients}
    if args.json:
        profiles = {m.name: m.profile for m in doc["measures"] if m.profile}
        rest = {k: v for k, v in doc.items() if k != "measures"}
        json.dump({**rest, "figures": rows, "profiles": profiles}, sys.stdout, indent=2)
        print()
    else:
        report(doc, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
