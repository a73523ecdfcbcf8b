"""The shared Graph client against the sandbox over HTTPS: paging, delta, `$batch`, retries on 429/503/504
and lost connections, the 4-per-mailbox limit, tokens (secret, certificate, renewal), typed errors, and the
wiring of kind = "graph"/"sandbox" (a sandbox server's folder, or the sandbox in this process)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from mailbox_fixtures import new_upn, trust

from exsync.connector.errors import (
    AuthFailed,
    Gone,
    PermissionDenied,
    Rejected,
    Throttled,
    TokenExpired,
    Unavailable,
    VersionConflict,
)
from exsync.mailbox.graph.auth import MsalTokens
from exsync.mailbox.graph.client import GraphClient, SubRequest
from exsync.mailbox.graph.side import GraphMailboxes, close_in_process_sandbox, in_process_sandbox
from exsync.mailbox.graph.testing import TENANT, TEST_POLICY, sandbox_client, sandbox_tokens
from exsync.mailbox.graph.transport import (
    CachedTokenSource,
    RetryPolicy,
    Transport,
    close_transports,
    http_client,
    retry_after,
)
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.sandbox.server import DataFolderInUse, SandboxServer
from exsync.service.wiring import open_mailbox
from exsync.settings import config_from_dict
from exsync.settings.schema import Certificate


# -- helpers ---------------------------------------------------------------------------------------------
def arm(control: httpx.Client, **fault: Any) -> None:
    control.post("/_sandbox/faults", json=fault).raise_for_status()


def stats(control: httpx.Client) -> dict[str, Any]:
    response = control.get("/_sandbox/stats")
    response.raise_for_status()
    return dict(response.json())


def counted(control: httpx.Client, upn: str, key: str) -> int:
    return int(stats(control)["requests"].get(upn, {}).get(key, 0))


def make_contacts(client: GraphClient, names: list[str]) -> list[dict[str, Any]]:
    answers = client.batch(
        [SubRequest(n, "POST", f"{client.root}/contacts", {"givenName": n}) for n in names]
    )
    assert [a.status for a in answers] == [201] * len(names)
    return [a.body for a in answers]


class Envelopes:
    """Records the sub-requests of every `$batch` envelope a transport sends."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, transport: Transport) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        send = transport.send

        def recording(mailbox: str, method: str, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
            if url.endswith("/$batch"):
                self.sent.append(json.loads(args[1])["requests"])
            return send(mailbox, method, url, *args, **kwargs)

        monkeypatch.setattr(transport, "send", recording)


# -- reading ---------------------------------------------------------------------------------------------
def test_get_and_get_all_follow_every_page(graph_client: GraphClient, control: httpx.Client) -> None:
    make_contacts(graph_client, [f"Page {n}" for n in range(7)] + ["Ann O'Neil"])
    everything = graph_client.get_all(
        f"{graph_client.root}/contacts", {"$select": "givenName"}, prefer=("odata.maxpagesize=3",)
    )
    assert sorted(c["givenName"] for c in everything) == sorted(
        [f"Page {n}" for n in range(7)] + ["Ann O'Neil"]
    )
    assert counted(control, graph_client.mailbox, "GET /users/{user-id}/contacts") == 3  # 3 + 3 + 2
    # Query values are percent-encoded as Graph reads them (a space, a doubled quote).
    found = graph_client.get_all(f"{graph_client.root}/contacts", {"$filter": "givenName eq 'Ann O''Neil'"})
    assert [c["givenName"] for c in found] == ["Ann O'Neil"]
    assert graph_client.get(graph_client.root)["userPrincipalName"] == graph_client.mailbox


def test_every_request_asks_for_immutable_ids(graph_client: GraphClient) -> None:
    created = make_contacts(graph_client, ["Imm"])[0]
    # The sandbox gives immutable ids only when asked; they start "AAMkA" like Exchange's.
    assert created["id"].startswith("AAMkA")
    assert graph_client.get(f"{graph_client.root}/contacts/{created['id']}")["id"] == created["id"]


def test_delta_rounds_and_an_expired_link(graph_client: GraphClient, control: httpx.Client) -> None:
    first, second = make_contacts(graph_client, ["Delta One", "Delta Two"])
    path = f"{graph_client.root}/contacts/delta"
    start = graph_client.delta(path, {"$select": "givenName"}, None, prefer=("odata.maxpagesize=1",))
    assert sorted(i["givenName"] for i in start.items) == ["Delta One", "Delta Two"] and start.removed == []
    graph_client.delete(f"{graph_client.root}/contacts/{first['id']}")
    graph_client.patch(f"{graph_client.root}/contacts/{second['id']}", {"givenName": "Delta Changed"})
    later = graph_client.delta(path, None, start.link)
    assert [i["givenName"] for i in later.items] == ["Delta Changed"]
    assert later.removed == [first["id"]]
    quiet = graph_client.delta(path, None, later.link)
    assert quiet.items == [] and quiet.removed == []
    control.post("/_sandbox/expire-delta-tokens").raise_for_status()
    with pytest.raises(TokenExpired):
        graph_client.delta(path, None, quiet.link)


def test_typed_errors(graph_client: GraphClient) -> None:
    contact = make_contacts(graph_client, ["Typed"])[0]
    url = f"{graph_client.root}/contacts/{contact['id']}"
    with pytest.raises(Gone, match="contacts/AAMkAnothing"):
        graph_client.get(f"{graph_client.root}/contacts/AAMkAnothing")
    with pytest.raises(VersionConflict):
        graph_client.patch(url, {"givenName": "Late"}, if_match='W/"stale"')
    with pytest.raises(Rejected, match="noSuchProperty"):
        graph_client.patch(url, {"noSuchProperty": 1})
    current = graph_client.get(url)
    assert current["givenName"] == "Typed"
    updated = graph_client.patch(url, {"givenName": "Fresh"}, if_match=current["@odata.etag"])
    assert updated["givenName"] == "Fresh"
    graph_client.delete(url, if_match=updated["@odata.etag"])
    with pytest.raises(Gone):
        graph_client.delete(url)


def test_permission_denied(graph_client: GraphClient, control: httpx.Client) -> None:
    control.post(
        "/_sandbox/permissions", json={"userPrincipalName": graph_client.mailbox, "deny": ["contacts"]}
    ).raise_for_status()
    with pytest.raises(PermissionDenied, match="ErrorAccessDenied"):
        graph_client.get_all(f"{graph_client.root}/contacts")
    assert graph_client.get_all(f"{graph_client.root}/calendars")  # the other parts still answer


# -- $batch ----------------------------------------------------------------------------------------------
def test_batch_of_45_in_chunks_with_throttled_sub_requests(
    graph_client: GraphClient, control: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelopes = Envelopes(monkeypatch, graph_client.transport)
    throttled_before = stats(control)["throttled"]
    arm(control, status=429, count=3, retryAfter=0.2, path=f"{graph_client.mailbox}/contacts")
    names = [f"Batch {n:02}" for n in range(45)]
    answers = graph_client.batch(
        [SubRequest("same-id", "POST", f"{graph_client.root}/contacts", {"givenName": n}) for n in names]
    )
    assert [a.status for a in answers] == [201] * 45
    assert [a.body["givenName"] for a in answers] == names  # in the order asked, whatever was retried
    assert [len(e) for e in envelopes.sent] == [20, 20, 5, 3]  # the 3 refused went again, alone
    assert stats(control)["throttled"] - throttled_before == 3
    assert len(graph_client.get_all(f"{graph_client.root}/contacts")) == 45  # nothing created twice


def test_a_dropped_batch_of_reads_is_sent_again_a_batch_with_writes_is_not(
    graph_client: GraphClient, control: httpx.Client
) -> None:
    created = graph_client.post(f"{graph_client.root}/contacts", {"givenName": "Once"})
    read = SubRequest("1", "GET", f"{graph_client.root}/contacts/{created['id']}")
    arm(control, drop=True, count=1, path=r"^/\$batch$")
    (answer,) = graph_client.batch([read])  # the answer was lost: asking again is harmless
    assert answer.status == 200 and answer.body["givenName"] == "Once"

    write = SubRequest("2", "POST", f"{graph_client.root}/contacts", {"givenName": "Twice?"})
    arm(control, drop="after", count=1, path=r"^/\$batch$")
    with pytest.raises(Unavailable):
        graph_client.batch([write])  # created, but its answer lost: never sent again
    names = [c["givenName"] for c in graph_client.get_all(f"{graph_client.root}/contacts")]
    assert sorted(names) == ["Once", "Twice?"]  # no duplicate


def test_batch_gives_up_a_sub_request_throttled_past_the_bound(
    sandbox_server: SandboxServer, control: httpx.Client
) -> None:
    client = sandbox_client(sandbox_server, new_upn(sandbox_server), policy=RetryPolicy(max_wait=0.5))
    arm(control, status=429, count=-1, retryAfter=0.3, path=f"{client.mailbox}/contacts")
    started = time.monotonic()
    (answer,) = client.batch([SubRequest("1", "GET", f"{client.root}/contacts")])
    assert answer.status == 429 and time.monotonic() - started < 5
    error = client.error_for(answer, "listing contacts")
    assert isinstance(error, Throttled) and error.wait == pytest.approx(0.3)
    assert "listing contacts" in str(error)


def test_scenario_36_throttling_in_the_middle_of_a_batch(
    graph_client: GraphClient, control: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = make_contacts(graph_client, [f"Row {n}" for n in range(1, 21)])
    envelopes = Envelopes(monkeypatch, graph_client.transport)
    seventh = contacts[6]["id"]
    arm(control, status=429, count=1, retryAfter=1.0, path=f"contacts/{seventh}$")
    started = time.monotonic()
    answers = graph_client.batch(
        [
            SubRequest(str(n), "PATCH", f"{graph_client.root}/contacts/{c['id']}", {"surname": f"Done {n}"})
            for n, c in enumerate(contacts, 1)
        ]
    )
    assert time.monotonic() - started >= 1.0  # request 7 waited its Retry-After
    assert [a.status for a in answers] == [200] * 20
    assert [a.body["surname"] for a in answers] == [f"Done {n}" for n in range(1, 21)]
    # Requests 1–6 and 8–20 went once; only 7 was sent again, on its own.
    assert [len(e) for e in envelopes.sent] == [20, 1]
    assert envelopes.sent[1][0]["url"].endswith(seventh)
    assert counted(control, graph_client.mailbox, "PATCH /users/{user-id}/contacts/{contact-id}") == 21


def test_scenario_37_partial_failure_inside_a_batch(
    graph_client: GraphClient, control: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = make_contacts(graph_client, [f"Item {n}" for n in range(20)])
    envelopes = Envelopes(monkeypatch, graph_client.transport)
    for index in (2, 9, 15):
        arm(control, status=429, count=1, retryAfter=0.2, path=f"contacts/{contacts[index]['id']}$")
    arm(control, status=503, count=1, retryAfter=0.1, path=f"contacts/{contacts[12]['id']}$")
    bodies: list[dict[str, Any]] = [{"surname": f"New {n}"} for n in range(20)]
    bodies[5] = {"surname": "New 5", "notAContactProperty": True}  # Graph refuses this one item
    answers = graph_client.batch(
        [
            SubRequest(str(n), "PATCH", f"{graph_client.root}/contacts/{c['id']}", bodies[n])
            for n, c in enumerate(contacts)
        ]
    )
    assert [a.status for a in answers] == [400 if n == 5 else 200 for n in range(20)]
    error = graph_client.error_for(answers[5], f"contact {contacts[5]['id']}")
    assert isinstance(error, Rejected) and contacts[5]["id"] in str(error)
    # The 429s and the 503 went again (each after its own wait), the 400 did not.
    again = sorted(r["url"].rsplit("/", 1)[1] for envelope in envelopes.sent[1:] for r in envelope)
    assert again == sorted(contacts[n]["id"] for n in (2, 9, 12, 15))
    stored = {c["id"]: c.get("surname") for c in graph_client.get_all(f"{graph_client.root}/contacts")}
    assert [stored[c["id"]] for c in contacts] == [None if n == 5 else f"New {n}" for n in range(20)]


# -- retries ---------------------------------------------------------------------------------------------
def test_503_with_retry_after_is_retried(graph_client: GraphClient, control: httpx.Client) -> None:
    arm(control, status=503, count=2, retryAfter=0.2, path=f"{graph_client.mailbox}/contacts$")
    started = time.monotonic()
    assert graph_client.get_all(f"{graph_client.root}/contacts") == []
    assert time.monotonic() - started >= 0.4
    assert counted(control, graph_client.mailbox, "GET /users/{user-id}/contacts") == 3


def test_504_past_the_bound_is_unavailable_and_429_throttled(
    sandbox_server: SandboxServer, control: httpx.Client
) -> None:
    client = sandbox_client(sandbox_server, new_upn(sandbox_server), policy=RetryPolicy(max_wait=0.4))
    arm(control, status=504, count=-1, path=f"{client.mailbox}/contacts$")
    with pytest.raises(Unavailable, match="GatewayTimeout"):
        client.get(f"{client.root}/contacts")
    control.delete("/_sandbox/faults")
    arm(control, status=429, count=-1, retryAfter=5, path=f"{client.mailbox}/contacts$")
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        client.get(f"{client.root}/contacts")
    assert caught.value.wait == 5 and time.monotonic() - started < 1  # a wait past the bound is not slept


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = 1_750_000_000.0
    in_ten = format_datetime(dt.datetime.fromtimestamp(now + 10, dt.UTC), usegmt=True)
    assert retry_after(in_ten, now=lambda: now) == pytest.approx(10)
    past = format_datetime(dt.datetime.fromtimestamp(now - 10, dt.UTC), usegmt=True)
    assert retry_after(past, now=lambda: now) == 0
    assert retry_after("0.25") == 0.25 and retry_after("30") == 30
    assert retry_after(None) is None and retry_after("soon") is None and retry_after("-1") is None
    # The policy waits what Graph says, else backs off with jitter, doubling.
    policy = RetryPolicy(base=1.0, cap=8.0)
    soon = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10), usegmt=True)
    assert policy.delay({"retry-after": soon}, 0) == pytest.approx(10, abs=2)
    assert 0.5 <= policy.delay({}, 0) <= 1.0 and 2.0 <= policy.delay({}, 2) <= 4.0
    assert 4.0 <= policy.delay({}, 10) <= 8.0


def test_a_retry_after_date_from_the_server_is_waited(
    sandbox_server: SandboxServer, graph_client: GraphClient
) -> None:
    """A gateway answering 503 with an HTTP-date Retry-After, in front of the sandbox."""
    when = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2), usegmt=True)
    with Proxy(sandbox_server, answer_first=f"503 Service Unavailable\r\nRetry-After: {when}") as proxy:
        client = sandbox_client(sandbox_server, graph_client.mailbox, graph_url=f"{proxy.url}/v1.0")
        started = time.monotonic()
        assert client.get(client.root)["userPrincipalName"] == graph_client.mailbox
        assert time.monotonic() - started >= 1.0  # the date is whole seconds: at least 1 s from now
        assert proxy.connections >= 2
        close_transports(proxy.url)


class Proxy:
    """A TCP relay to the sandbox on a port of its own: it drops its first ``drop`` connections (all
    with -1) before TLS, or answers the first one itself with ``answer_first`` (a status line and
    headers) over TLS with the sandbox's certificate, as a gateway in front of Graph would."""

    def __init__(self, server: SandboxServer, *, drop: int = 0, answer_first: str | None = None) -> None:
        self.server = server
        self.drop = drop
        self.answer_first = answer_first
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> Proxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.drop == -1 or self.connections <= self.drop:
                conn.close()
            elif self.answer_first is not None and self.connections == 1:
                threading.Thread(target=self._answer, args=(conn, self.answer_first), daemon=True).start()
            else:
                upstream = socket.create_connection(("127.0.0.1", self.server.port))
                for a, b in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _answer(self, conn: socket.socket, status: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server.tls.cert, self.server.tls.key)
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def test_dropped_connections_are_retried_then_unavailable(
    sandbox_server: SandboxServer, graph_client: GraphClient
) -> None:
    upn = graph_client.mailbox
    with Proxy(sandbox_server, drop=2) as proxy:
        client = sandbox_client(sandbox_server, upn, graph_url=f"{proxy.url}/v1.0")
        # Dropped before the request left: safe to send again, even a POST.
        assert client.post(f"{client.root}/contacts", {"givenName": "Through"})["givenName"] == "Through"
        assert proxy.connections == 3
        close_transports(proxy.url)
    with Proxy(sandbox_server, drop=-1) as proxy:
        bound = RetryPolicy(max_wait=1.0, base=0.1, cap=0.3)
        client = sandbox_client(sandbox_server, upn, graph_url=f"{proxy.url}/v1.0", policy=bound)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="could not be reached"):
            client.get(client.root)
        assert proxy.connections >= 3 and time.monotonic() - started < 5
        close_transports(proxy.url)


def test_a_lost_answer_is_retried_only_when_sending_again_is_safe(
    sandbox_server: SandboxServer, graph_client: GraphClient, control: httpx.Client
) -> None:
    impatient = Transport(
        sandbox_server.graph_url,
        sandbox_tokens(sandbox_server),
        httpx.Client(verify=trust(sandbox_server), timeout=0.5),
        policy=TEST_POLICY,
    )
    client = GraphClient(impatient, graph_client.mailbox)
    arm(control, latencyMs=1500, count=1, path=f"{client.mailbox}/contacts$")
    assert client.get_all(f"{client.root}/contacts") == []  # the slow GET timed out and was sent again
    arm(control, latencyMs=1500, count=1, path=f"{client.mailbox}/contacts$")
    with pytest.raises(Unavailable, match="ReadTimeout"):
        client.post(f"{client.root}/contacts", {"givenName": "Maybe"})
    time.sleep(1.2)  # the sandbox finishes the POST we gave up on
    # Not sent twice: a second POST could have made a duplicate.
    assert counted(control, client.mailbox, "POST /users/{user-id}/contacts") == 1
    impatient.close()


# -- the per-mailbox limit -------------------------------------------------------------------------------
def test_at_most_four_requests_in_flight_per_mailbox_across_clients(
    sandbox_server: SandboxServer, graph_client: GraphClient, control: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    upn = graph_client.mailbox
    # Two transports (two HTTP clients, as two configurations would have) on the same mailbox.
    other = sandbox_client(sandbox_server, upn, policy=RetryPolicy(max_wait=19.0))
    assert other.transport is not graph_client.transport
    lock = threading.Lock()
    in_flight = peak = 0

    def counting(transport: Transport) -> None:
        request = transport.http.request

        def wrapper(*args: Any, **kwargs: Any) -> httpx.Response:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            try:
                return request(*args, **kwargs)
            finally:
                with lock:
                    in_flight -= 1

        monkeypatch.setattr(transport.http, "request", wrapper)

    counting(graph_client.transport)
    counting(other.transport)
    throttled_before = stats(control)["throttled"]
    arm(control, latencyMs=150, count=-1, path=upn)

    def work(client: GraphClient) -> None:
        for _ in range(3):
            client.get(client.root)

    threads = [threading.Thread(target=work, args=(c,)) for c in [graph_client, other] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 4  # used, and never exceeded
    assert stats(control)["throttled"] == throttled_before  # Graph never had to refuse one
    assert counted(control, upn, "GET /users/{user-id}") == 24


# -- tokens ----------------------------------------------------------------------------------------------
def test_a_401_renews_the_token_once(graph_client: GraphClient, control: httpx.Client) -> None:
    tokens = graph_client.transport.tokens
    assert isinstance(tokens, CachedTokenSource)
    graph_client.get(graph_client.root)
    before = tokens.fetched
    arm(control, status=401, count=1, path=f"{graph_client.mailbox}$")
    assert graph_client.get(graph_client.root)["userPrincipalName"] == graph_client.mailbox
    assert tokens.fetched == before + 1
    arm(control, status=401, count=2, path=f"{graph_client.mailbox}$")
    with pytest.raises(AuthFailed, match="InvalidAuthenticationToken"):
        graph_client.get(graph_client.root)
    assert tokens.fetched == before + 2  # renewed once, then given up


def test_a_wrong_secret_fails_sign_in_without_showing_it(sandbox_server: SandboxServer) -> None:
    tokens = sandbox_tokens(sandbox_server, secret="wrong-secret-value")
    with pytest.raises(AuthFailed) as caught:
        tokens.token()
    assert "invalid_client" in str(caught.value) and "wrong-secret-value" not in str(caught.value)
    assert DEFAULT_CLIENT_ID in str(caught.value)
    tokens.close()


def test_msal_ignores_requests_ca_bundle_from_the_environment(
    sandbox_server: SandboxServer, graph_client: GraphClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(self_signed("someone else")[1])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_ca))
    tokens = sandbox_tokens(sandbox_server)
    assert tokens.token()  # trusted the sandbox's CA all the same
    tokens.close()


def self_signed(name: str, password: bytes | None = None) -> tuple[bytes, bytes]:
    """A throwaway RSA key and certificate: (key PEM, certificate PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("password", [None, "pem-password"])
def test_msal_with_a_certificate(
    sandbox_server: SandboxServer, graph_client: GraphClient, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, password: str | None,
) -> None:  # fmt: skip
    key_pem, cert_pem = self_signed("exsync test app", password.encode() if password else None)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key_pem + cert_pem)
    section: dict[str, Any] = {"path": str(pem)}
    if password:
        monkeypatch.setenv("EXSYNC_TEST_PEM_PASSWORD", password)
        section["password"] = {"env": "EXSYNC_TEST_PEM_PASSWORD"}
    tokens = MsalTokens(
        tenant=TENANT,
        client_id=DEFAULT_CLIENT_ID,
        login_url=sandbox_server.url,
        graph_url=sandbox_server.graph_url,
        certificate=Certificate.model_validate(section),
        ca_bundle=sandbox_server.tls.ca,
    )
    client = GraphClient(
        Transport(sandbox_server.graph_url, tokens, http_client(sandbox_server.tls.ca)), graph_client.mailbox
    )
    assert client.get(client.root)["userPrincipalName"] == graph_client.mailbox
    claims = json.loads(_b64decode(tokens.token().split(".")[1]))
    assert claims["appidacr"] == "2"  # signed in with the certificate, not a secret
    client.transport.close()


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def fast_server() -> Iterator[SandboxServer]:
    """Time runs 3600 times faster: a token lives about a second."""
    with SandboxServer(time_scale=3600) as server:
        yield server
        close_transports(server.url)


def test_scenario_40_the_token_expires_mid_run(fast_server: SandboxServer) -> None:
    upn = new_upn(fast_server)
    client = sandbox_client(fast_server, upn)
    tokens = client.transport.tokens
    assert isinstance(tokens, CachedTokenSource)
    client.get(client.root)
    first = tokens.token()
    time.sleep(1.3)  # past its lifetime and the 5 minutes' skew Graph allows (in sandbox time)
    assert client.get(client.root)["userPrincipalName"] == upn  # the next request got a fresh token
    assert tokens.token() != first
    # A token Graph calls expired while this process still trusts it (clocks apart): the 401 makes it
    # be renewed, and the run goes on.
    trusting = CachedTokenSource(lambda: (tokens.token(), 1e9), clock=lambda: 0.0)
    stale = Transport(fast_server.graph_url, trusting, http_client(fast_server.tls.ca), policy=TEST_POLICY)
    stuck = GraphClient(stale, upn)
    stuck.get(stuck.root)
    time.sleep(1.3)
    assert stuck.get(stuck.root)["userPrincipalName"] == upn
    assert trusting.fetched == 2
    stale.close()


# -- wiring ----------------------------------------------------------------------------------------------
def sandbox_config(tmp_path: Path, data: Path) -> Any:
    return config_from_dict(
        {"business": {"url": "memory:business.json"}, "mailbox": {"kind": "sandbox", "data": str(data)}},
        path=tmp_path / "exsync.toml",
    )


def same_answers(client: GraphClient) -> list[Any]:
    """A few requests of every kind, reduced to what two sandboxes answer alike."""
    created = client.post(f"{client.root}/contacts", {"givenName": "Same", "emailAddresses": []})
    listed = client.get_all(
        f"{client.root}/contacts", {"$select": "givenName"}, prefer=("odata.maxpagesize=1",)
    )
    round_ = client.delta(f"{client.root}/contacts/delta", {"$select": "givenName"}, None)
    answers = client.batch(
        [
            SubRequest("a", "GET", f"{client.root}/contacts/{created['id']}"),
            SubRequest("b", "PATCH", f"{client.root}/contacts/{created['id']}", {"bogus": 1}),
        ]
    )
    try:
        client.get(f"{client.root}/contacts/AAMkAmissing")
        missing = "found"
    except Gone as exc:
        missing = str(exc).split(": ", 1)[1]
    return [
        sorted(created),
        [c["givenName"] for c in listed],
        [i["givenName"] for i in round_.items],
        "$deltatoken=" in round_.link,
        [(a.status, sorted(a.body)) for a in answers],
        type(client.error_for(answers[1], "x")).__name__,
        missing,
        sorted(k for k in client.get(client.root) if k != "id"),
    ]


def test_the_in_process_sandbox_answers_as_over_https(
    sandbox_server: SandboxServer, graph_client: GraphClient, tmp_path: Path
) -> None:
    data = tmp_path / "sandbox"
    config = sandbox_config(tmp_path, data)
    mailboxes = open_mailbox(config)
    try:
        assert isinstance(mailboxes, GraphMailboxes)
        in_process_sandbox(data.resolve()).sandbox.add_user(graph_client.mailbox)
        local = mailboxes.client(graph_client.mailbox)
        assert local.transport.graph_url.startswith("https://in-process.sandbox.invalid")
        assert same_answers(local) == same_answers(graph_client)
        link = local.delta(f"{local.root}/contacts/delta", None, None).link
        # The folder is this process's while it lives: a sandbox server is refused, naming us.
        with pytest.raises(DataFolderInUse, match=str(os.getpid())):
            SandboxServer(data)
    finally:
        close_in_process_sandbox(data)
    # Free again; a delta link from the in-process sandbox goes on over HTTPS to a server of the folder.
    with SandboxServer(data) as server:
        over_https = open_mailbox(config)
        assert isinstance(over_https, GraphMailboxes)
        client = over_https.client(graph_client.mailbox)
        client.post(f"{client.root}/contacts", {"givenName": "Later"})
        assert [i["givenName"] for i in client.delta("unused", None, link).items] == ["Later"]
        close_transports(server.url)


def test_open_mailbox_talks_https_to_the_server_owning_the_folder(tmp_path: Path) -> None:
    data = tmp_path / "served"
    with SandboxServer(data, users=["ann@firm.example"]) as server:
        mailboxes = open_mailbox(sandbox_config(tmp_path, data))
        assert isinstance(mailboxes, GraphMailboxes)
        client = mailboxes.client("ann@firm.example")
        assert client.transport.graph_url == server.graph_url
        client.post(f"{client.root}/contacts", {"givenName": "Over HTTPS"})
        assert [c["givenName"] for c in client.get_all(f"{client.root}/contacts")] == ["Over HTTPS"]
        assert server.sandbox.stats.requests["ann@firm.example"]["POST /users/{user-id}/contacts"] == 1
        close_transports(server.url)


def test_the_mail_part_is_not_served_yet(graph_client: GraphClient) -> None:
    from exsync.connector import PartUnsupported
    from exsync.settings import MailSettings
    from exsync.state.records import ProfileRow

    mailboxes = GraphMailboxes(graph_client.transport)
    profile = ProfileRow(code="AN", staff_id=1, email=graph_client.mailbox)
    with pytest.raises(PartUnsupported, match=r"mail\.direction"):
        mailboxes.connector(profile, "mail", MailSettings())
    assert mailboxes.client(graph_client.mailbox.upper()) is mailboxes.client(graph_client.mailbox)


def test_open_mailbox_kind_graph_signs_in_through_msal(
    sandbox_server: SandboxServer, graph_client: GraphClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXSYNC_TEST_GRAPH_SECRET", DEFAULT_CLIENT_SECRET)
    mailbox = {
        "kind": "graph",
        "tenant": "firm.example",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": {"env": "EXSYNC_TEST_GRAPH_SECRET"},
        "graph_url": sandbox_server.graph_url,
        "login_url": sandbox_server.url,
        "ca_bundle": str(sandbox_server.tls.ca),
    }
    config = config_from_dict(
        {"business": {"url": "memory:business.json"}, "mailbox": mailbox}, path=tmp_path / "exsync.toml"
    )
    mailboxes = open_mailbox(config)
    assert isinstance(mailboxes, GraphMailboxes)
    assert open_mailbox(config).transport is mailboxes.transport  # one HTTP client per configuration
    client = mailboxes.client(graph_client.mailbox)
    assert client.get(client.root)["userPrincipalName"] == graph_client.mailbox
    tokens = client.transport.tokens
    assert isinstance(tokens, MsalTokens) and tokens.scope == "https://graph.microsoft.com/.default"
