"""The mailbox side over Microsoft Graph: a connector per (profile, part) on one shared transport —
Microsoft 365 itself, a sandbox server process, or the demo's sandbox running in this process."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from exsync.connector import AuthFailed, Connector, PartUnsupported
from exsync.mailbox.graph.auth import GLOBAL_GRAPH, MsalTokens
from exsync.mailbox.graph.client import GraphClient
from exsync.mailbox.graph.transport import (
    CachedTokenSource,
    Transport,
    close_transport,
    http_client,
    shared_transport,
)
from exsync.settings import CalendarSettings, ConfigError, ContactsSettings, PartSettings, TasksSettings
from exsync.settings.schema import MailboxSection
from exsync.state.records import ProfileRow

SANDBOX_TENANT = "firm"
# The in-process sandbox's address: a reserved name (RFC 2606) that no request can ever leave for.
IN_PROCESS_ORIGIN = "https://in-process.sandbox.invalid"


@dataclass
class GraphMailboxes:
    """Every mailbox reached through one transport; one GraphClient per mailbox, shared by its parts."""

    transport: Transport
    clients: dict[str, GraphClient] = field(default_factory=dict)

    def client(self, upn: str) -> GraphClient:
        client = self.clients.get(upn.lower())
        if client is None:
            client = self.clients[upn.lower()] = GraphClient(self.transport, upn)
        return client

    def connector(self, profile: ProfileRow, part: str, settings: PartSettings) -> Connector:
        client = self.client(profile.email)
        # The part modules are imported when first needed: a run of one part loads only its own.
        if part == "contacts" and isinstance(settings, ContactsSettings):
            from exsync.mailbox.graph.contacts import ContactsConnector

            return ContactsConnector(client, settings, profile)
        if part == "calendar" and isinstance(settings, CalendarSettings):
            from exsync.mailbox.graph.calendar import CalendarConnector

            return CalendarConnector(client, settings, profile)
        if part == "tasks" and isinstance(settings, TasksSettings):
            from exsync.mailbox.graph.tasks import TasksConnector

            return TasksConnector(client, settings, profile)
        if part == "mail":
            raise PartUnsupported(
                'the e-mail archive over Graph comes in a later release; set mail.direction = "off" to stop '
                "trying"
            )
        raise PartUnsupported(f"the Graph mailbox side has no part {part!r}")


def graph_mailboxes(section: MailboxSection) -> GraphMailboxes:
    """``kind = "graph"``: Microsoft 365 (or any Graph at ``graph_url``), signed in through MSAL."""
    assert section.tenant is not None and section.client_id is not None  # checked by MailboxSection
    secret = section.client_secret
    certificate = section.certificate
    key = ("graph", section.model_dump_json())  # secrets are named there by where they live, never shown

    def build() -> Transport:
        tokens = MsalTokens(
            tenant=str(section.tenant),
            client_id=str(section.client_id),
            login_url=section.login_url,
            graph_url=section.graph_url,
            client_secret=secret.reveal if secret is not None else None,
            certificate=certificate,
            ca_bundle=section.ca_bundle,
        )
        return Transport(section.graph_url, tokens, http_client(section.ca_bundle))

    return GraphMailboxes(shared_transport(key, build))


def sandbox_mailboxes(section: MailboxSection) -> GraphMailboxes:
    """``kind = "sandbox"``: the sandbox of the ``data`` folder — over HTTPS when a sandbox server owns
    the folder, else run in this process (holding the folder's lock while the process lives)."""
    from exsync.sandbox.identity import clients_from_environment
    from exsync.sandbox.server import current_owner

    assert section.data is not None  # defaulted by MailboxSection
    data = Path(section.data).resolve()
    tenant = section.tenant or SANDBOX_TENANT
    client_id, default_secret = next(iter(clients_from_environment().items()))
    client_id = section.client_id or client_id
    secret = section.client_secret

    def read_secret() -> str:
        return secret.reveal() if secret is not None else default_secret

    with _in_process_lock:
        running = _in_process.get(data)
    owner = current_owner(data) if running is None else None
    if owner is not None and owner.url:
        url = owner.url.rstrip("/")
        ca = data / "tls" / "ca.pem"

        def build() -> Transport:
            tokens = MsalTokens(
                tenant=tenant,
                client_id=client_id,
                login_url=url,
                graph_url=f"{url}/v1.0",
                client_secret=read_secret,
                ca_bundle=ca,
            )
            return Transport(f"{url}/v1.0", tokens, http_client(ca))

        return GraphMailboxes(shared_transport(("sandbox", str(data), url, tenant, client_id), build))
    sandbox = in_process_sandbox(data)
    return GraphMailboxes(
        shared_transport(
            ("sandbox-in-process", str(data), tenant, client_id),
            lambda: sandbox.transport(tenant, client_id, read_secret),
        )
    )


class InProcessSandbox:
    """The sandbox of a data folder answering this process's requests without a server: httpx hands each
    request to ``Sandbox.serve`` (its admission, limits and faults included)."""

    def __init__(self, data: Path) -> None:
        from exsync.sandbox.app import Sandbox
        from exsync.sandbox.server import DataFolderInUse, FolderLock

        self.lock = FolderLock(data)
        try:
            self.lock.acquire()  # a server started later is refused with our process id
        except DataFolderInUse as exc:
            raise ConfigError(f"mailbox.data: {exc}", key="mailbox.data") from None
        try:
            self.sandbox = Sandbox(data)
        except BaseException:
            self.lock.release()
            raise
        self.transports: list[Transport] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        from exsync.sandbox.faults import DroppedConnection
        from exsync.sandbox.http import Request

        parts = urlsplit(str(request.url))
        try:
            answer = self.sandbox.serve(
                Request.from_url(
                    request.method,
                    str(request.url),
                    headers=dict(request.headers),
                    body=request.read(),
                    base_url=f"{parts.scheme}://{parts.netloc}",
                )
            )
        except DroppedConnection:  # an armed drop: what httpx raises when a server hangs up
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        return httpx.Response(answer.status, headers=answer.all_headers(), content=answer.encoded())

    def transport(self, tenant: str, client_id: str, secret: Callable[[], str]) -> Transport:
        """A Transport whose tokens come straight from the sandbox's identity (no MSAL in-process)."""
        from exsync.sandbox.identity import TokenError

        def fetch() -> tuple[str, float]:
            form = {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret(),
                "scope": f"{GLOBAL_GRAPH}/.default",
            }
            try:
                issued = self.sandbox.identity.issue(tenant, form, IN_PROCESS_ORIGIN)
            except TokenError as exc:
                error = exc.body.get("error", "")
                description = str(exc.body.get("error_description", "")).splitlines()[:1]
                raise AuthFailed(
                    f"sign-in for app {client_id} at the in-process sandbox refused ({error})"
                    + (f": {description[0]}" if description else "")
                ) from None
            return str(issued["access_token"]), float(issued["expires_in"])

        transport = Transport(
            f"{IN_PROCESS_ORIGIN}/v1.0",
            CachedTokenSource(fetch),
            http_client(None, transport=httpx.MockTransport(self.handle)),
        )
        self.transports.append(transport)
        return transport

    def close(self) -> None:
        for transport in self.transports:
            close_transport(transport)
        self.sandbox.close()
        self.lock.release()


_in_process: dict[Path, InProcessSandbox] = {}
_in_process_lock = threading.Lock()


def in_process_sandbox(data: Path) -> InProcessSandbox:
    """The process's one in-process sandbox for ``data`` (closed when the process ends)."""
    with _in_process_lock:
        running = _in_process.get(data)
        if running is None:
            running = _in_process[data] = InProcessSandbox(data)
            atexit.register(running.close)
        return running


def close_in_process_sandbox(data: Path) -> None:
    """Close this process's in-process sandbox of ``data`` and free the folder (tests, the demo's end)."""
    with _in_process_lock:
        running = _in_process.pop(data.resolve(), None)
    if running is not None:
        atexit.unregister(running.close)
        running.close()
