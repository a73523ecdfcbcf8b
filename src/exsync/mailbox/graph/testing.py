"""Graph clients for tests against a running sandbox, through the real MSAL path and the sandbox's CA."""

from __future__ import annotations

from exsync.mailbox.graph.auth import MsalTokens
from exsync.mailbox.graph.client import GraphClient
from exsync.mailbox.graph.transport import RetryPolicy, Transport, http_client, shared_transport
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.sandbox.server import SandboxServer

TENANT = "firm"
# Tests wait seconds, not minutes, before a throttled request is given up.
TEST_POLICY = RetryPolicy(max_wait=20.0, base=0.05, cap=1.0)


def sandbox_tokens(
    server: SandboxServer, *, secret: str = DEFAULT_CLIENT_SECRET, client_id: str = DEFAULT_CLIENT_ID
) -> MsalTokens:
    """MSAL tokens from the sandbox's identity endpoint (its well-known client unless told otherwise)."""
    return MsalTokens(
        tenant=TENANT,
        client_id=client_id,
        login_url=server.url,
        graph_url=server.graph_url,
        client_secret=lambda: secret,
        ca_bundle=server.tls.ca,
    )


def sandbox_transport(
    server: SandboxServer, *, graph_url: str | None = None, policy: RetryPolicy = TEST_POLICY
) -> Transport:
    """The process's transport to ``server`` (at ``graph_url``, e.g. through a proxy, if given)."""
    url = graph_url or server.graph_url
    return shared_transport(
        ("sandbox-test", server.url, url, policy),
        lambda: Transport(url, sandbox_tokens(server), http_client(server.tls.ca), policy=policy),
    )


def sandbox_client(
    server: SandboxServer, upn: str, *, graph_url: str | None = None, policy: RetryPolicy = TEST_POLICY
) -> GraphClient:
    """A GraphClient on mailbox ``upn`` of ``server`` (which must exist there)."""
    return GraphClient(sandbox_transport(server, graph_url=graph_url, policy=policy), upn)
