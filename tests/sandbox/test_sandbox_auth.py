"""Graph's side of the identity platform over HTTPS: a bearer token from the sandbox's token endpoint is
what every `/v1.0` call needs; a missing, forged or expired one answers 401 the way Graph does; MSAL's own
confidential client obtains a working token."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import msal  # type: ignore[import-untyped]
import pytest
from sandbox_fixtures import trust

from exsync.sandbox.server import SandboxServer

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _form(client_id: str = "exsync-sandbox", secret: str = "exsync-sandbox") -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": GRAPH_SCOPE,
    }


def _client(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=trust(server), timeout=30)


def token(server: SandboxServer) -> str:
    with _client(server) as client:
        response = client.post("/firm/oauth2/v2.0/token", data=_form())
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture
def msal_trusts_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets these variables override a session's `verify`, which is all MSAL's `verify=` sets."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(users=["ann@firm.example"]) as running:
        yield running


def _assert_graph_401(response: httpx.Response) -> dict[str, object]:
    """Graph's 401: InvalidAuthenticationToken in its usual error body, with a Bearer challenge."""
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return dict(error)


def test_a_token_from_the_token_endpoint_opens_graph(server: SandboxServer) -> None:
    with _client(server) as client:
        issued = client.post("/firm/oauth2/v2.0/token", data=_form())
        assert issued.status_code == 200
        body = issued.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
        me = client.get(
            "/v1.0/users/ann@firm.example", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
    assert me.status_code == 200
    assert me.json()["userPrincipalName"] == "ann@firm.example"


def test_a_missing_token_is_refused(server: SandboxServer) -> None:
    with _client(server) as client:
        error = _assert_graph_401(client.get("/v1.0/users/ann@firm.example/contacts"))
    assert error["message"] == "Access token is empty."


def test_a_forged_or_malformed_token_is_refused(server: SandboxServer) -> None:
    real = token(server)
    header, claims, signature = real.split(".")
    forged = f"{header}.{claims}.{signature[:-4]}AAAA"
    with _client(server) as client:
        for bad in (forged, "not-a-jwt", real + "x"):
            _assert_graph_401(
                client.get("/v1.0/users/ann@firm.example", headers={"Authorization": f"Bearer {bad}"})
            )
        # The scheme matters too: the token alone is not a bearer credential.
        _assert_graph_401(client.get("/v1.0/users/ann@firm.example", headers={"Authorization": real}))


def test_a_token_of_another_sandbox_is_refused(server: SandboxServer) -> None:
    """Each sandbox signs with a key of its own (kept in its data folder)."""
    with SandboxServer(users=["ann@firm.example"]) as other:
        foreign = token(other)
    with _client(server) as client:
        error = _assert_graph_401(
            client.get("/v1.0/users/ann@firm.example", headers={"Authorization": f"Bearer {foreign}"})
        )
    assert error["message"] == "Signature is invalid."


def test_an_expired_token_is_refused() -> None:
    # At 3600 times real speed a token's hour (and Graph's five minutes of clock skew) pass in about a second.
    with SandboxServer(users=["ann@firm.example"], time_scale=3600) as fast, _client(fast) as client:
        issued = client.post("/firm/oauth2/v2.0/token", data=_form()).json()
        assert issued["expires_in"] == 1  # in the client's own seconds, so it knows to come back soon
        headers = {"Authorization": f"Bearer {issued['access_token']}"}
        assert client.get("/v1.0/users/ann@firm.example", headers=headers).status_code == 200
        time.sleep(1.3)
        error = _assert_graph_401(client.get("/v1.0/users/ann@firm.example", headers=headers))
        assert "expired" in str(error["message"])
        fresh = client.post("/firm/oauth2/v2.0/token", data=_form()).json()["access_token"]
        again = client.get("/v1.0/users/ann@firm.example", headers={"Authorization": f"Bearer {fresh}"})
        assert again.status_code == 200


def test_a_wrong_client_secret_gets_no_token(server: SandboxServer) -> None:
    with _client(server) as client:
        refused = client.post("/firm/oauth2/v2.0/token", data=_form(secret="guess"))
        unknown = client.post("/firm/oauth2/v2.0/token", data=_form(client_id="someone-else"))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert "AADSTS7000215" in refused.json()["error_description"]
    assert "access_token" not in refused.json()
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unauthorized_client"


def test_the_client_pair_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXSYNC_SANDBOX_CLIENT_ID", "7a1c0e52-firm-app")
    monkeypatch.setenv("EXSYNC_SANDBOX_CLIENT_SECRET", "s3cret~from.env")
    with SandboxServer(users=["ann@firm.example"]) as configured, _client(configured) as client:
        issued = client.post("/firm/oauth2/v2.0/token", data=_form("7a1c0e52-firm-app", "s3cret~from.env"))
        assert issued.status_code == 200
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        assert client.get("/v1.0/users/ann@firm.example", headers=headers).status_code == 200
        # The built-in pair is not accepted once the environment names another.
        default = client.post("/firm/oauth2/v2.0/token", data=_form())
        assert default.status_code == 400
        assert default.json()["error"] == "unauthorized_client"


@pytest.mark.usefixtures("msal_trusts_verify")
def test_msal_confidential_client_gets_a_token_that_works(server: SandboxServer) -> None:
    """The production code path: MSAL's ConfidentialClientApplication against the sandbox as authority,
    trusting the sandbox's CA."""
    app = msal.ConfidentialClientApplication(
        "exsync-sandbox",
        client_credential="exsync-sandbox",
        authority=f"{server.url}/firm",
        verify=str(server.tls.ca),
        # Instance discovery would ask login.microsoftonline.com about an authority it cannot know.
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    with _client(server) as client:
        response = client.get(
            "/v1.0/users/ann@firm.example", headers={"Authorization": f"Bearer {result['access_token']}"}
        )
    assert response.status_code == 200
    assert response.json()["userPrincipalName"] == "ann@firm.example"
    # A second call is served from MSAL's cache: the token is still good for most of an hour.
    assert app.acquire_token_for_client(scopes=[GRAPH_SCOPE])["access_token"] == result["access_token"]


@pytest.mark.usefixtures("msal_trusts_verify")
def test_msal_with_a_wrong_secret_reports_the_error(server: SandboxServer) -> None:
    app = msal.ConfidentialClientApplication(
        "exsync-sandbox",
        client_credential="wrong",
        authority=f"{server.url}/firm",
        verify=str(server.tls.ca),
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" not in result
    assert result["error"] == "invalid_client"


def test_me_is_for_delegated_tokens_only(server: SandboxServer) -> None:
    """An app-only token has no signed-in user: Graph answers /me with 400."""
    with _client(server) as client:
        response = client.get("/v1.0/me/contacts", headers={"Authorization": f"Bearer {token(server)}"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        **response.json()["error"],
        "code": "BadRequest",
        "message": "/me request is only valid with delegated authentication flow.",
    }
