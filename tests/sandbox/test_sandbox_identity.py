"""The sandbox's identity platform: token issue and check, Entra-shaped errors, and MSAL against it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import msal  # type: ignore[import-untyped]
import pytest
import requests
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exsync.sandbox.identity import (
    CLOCK_SKEW,
    JWT_BEARER,
    Claims,
    Identity,
    TokenError,
    Unauthorized,
    clients_from_environment,
)
from exsync.sandbox.tls import prepare_tls

KEY = b"k" * 32
CLIENT, SECRET = "exsync-sandbox", "s3cret-Value~with.odd+chars"
BASE = "https://127.0.0.1:8443"
TENANT = "firm"
ENDPOINT = f"{BASE}/{TENANT}/oauth2/v2.0/token"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def identity(clock: FakeClock) -> Identity:
    return Identity(KEY, {CLIENT: SECRET}, clock=clock, wall_clock=clock)


def _form(**changes: str | None) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
    form["scope"] = GRAPH_SCOPE
    form["client_info"] = "1"  # MSAL sends it; Entra ignores it for this grant
    for name, value in changes.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    return form


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes | None = None) -> str:
    body = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, body.encode(), hashlib.sha256).digest() if key else b"not-checked"
    return f"{body}.{_b64(signature)}"


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def _token_error(identity: Identity, form: dict[str, str], tenant: str = TENANT) -> TokenError:
    with pytest.raises(TokenError) as caught:
        identity.issue(tenant, form, BASE)
    return caught.value


def _unauthorized(identity: Identity, header: str | None) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        identity.verify(header)
    assert caught.value.code == "InvalidAuthenticationToken"
    return caught.value


# Discovery


def test_openid_configuration_points_every_endpoint_at_the_sandbox(identity: Identity) -> None:
    config = identity.openid_configuration(BASE + "/", TENANT)
    assert config["token_endpoint"] == ENDPOINT
    assert config["authorization_endpoint"] == f"{BASE}/{TENANT}/oauth2/v2.0/authorize"
    assert config["issuer"] == f"{BASE}/{TENANT}/v2.0"
    assert config["device_authorization_endpoint"].startswith(f"{BASE}/{TENANT}/")
    assert config["msgraph_host"] == "127.0.0.1:8443"
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]


def test_instance_discovery_names_the_tenant_discovery_endpoint(identity: Identity) -> None:
    answer = identity.instance_discovery(BASE, TENANT)
    assert answer["tenant_discovery_endpoint"] == f"{BASE}/{TENANT}/v2.0/.well-known/openid-configuration"
    assert answer["metadata"][0]["aliases"] == ["127.0.0.1:8443"]


# Issue and verify


def test_a_token_round_trips(identity: Identity, clock: FakeClock) -> None:
    answer = identity.issue(TENANT, _form(), BASE)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == answer["ext_expires_in"] == 3599
    assert set(answer) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    token = answer["access_token"]
    assert token.count(".") == 2
    claims = _claims_of(token)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"{BASE}/{TENANT}/"
    assert claims["appid"] == CLIENT and claims["tid"] == TENANT and claims["roles"] == []
    assert claims["appidacr"] == "1" and claims["idtyp"] == "app"
    assert claims["iat"] == claims["nbf"] == int(clock.now) and claims["exp"] == int(clock.now) + 3599
    assert identity.verify(f"Bearer {token}") == Claims(
        app_id=CLIENT, tenant=TENANT, expires_at=clock.now + 3599, issued_at=clock.now
    )
    assert identity.verify(f"bearer {token}").app_id == CLIENT  # the scheme is case-insensitive


def test_graph_scope_by_application_id_is_accepted(identity: Identity) -> None:
    token = identity.issue(TENANT, _form(scope="00000003-0000-0000-c000-000000000000/.default"), BASE)
    assert _claims_of(token["access_token"])["aud"] == "https://graph.microsoft.com"


def test_a_token_survives_a_restart_with_the_same_key(identity: Identity, clock: FakeClock) -> None:
    token = identity.issue(TENANT, _form(), BASE)["access_token"]
    again = Identity(KEY, {CLIENT: SECRET}, clock=clock)
    assert again.verify(f"Bearer {token}").app_id == CLIENT


def test_an_expired_token_is_refused(identity: Identity, clock: FakeClock) -> None:
    token = identity.issue(TENANT, _form(), BASE)["access_token"]
    clock.now += 3599 + CLOCK_SKEW - 1  # still within the validators' allowed skew
    identity.verify(f"Bearer {token}")
    clock.now += 1
    assert (
        str(_unauthorized(identity, f"Bearer {token}")) == "Lifetime validation failed, the token is expired."
    )


def test_lifetime_follows_the_configured_lifetime(clock: FakeClock) -> None:
    short = Identity(KEY, {CLIENT: SECRET}, clock=clock, lifetime=60)
    answer = short.issue(TENANT, _form(), BASE)
    assert answer["expires_in"] == 60
    clock.now += 60 + CLOCK_SKEW
    _unauthorized(short, f"Bearer {answer['access_token']}")


def test_a_token_from_the_future_is_refused(identity: Identity, clock: FakeClock) -> None:
    token = identity.issue(TENANT, _form(), BASE)["access_token"]
    clock.now -= CLOCK_SKEW + 1  # e.g. the clock went back
    assert "not yet valid" in str(_unauthorized(identity, f"Bearer {token}"))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "Token x.y.z"])
def test_a_missing_token_is_empty(identity: Identity, header: str | None) -> None:
    assert str(_unauthorized(identity, header)) == "Access token is empty."


@pytest.mark.parametrize(
    "token", ["nodots", "a.b", "a.b.c.d", "@@@.e30.c2ln", "e30.bm90IGpzb24.c2ln", "W10.e30.c2ln"]
)
def test_a_malformed_token_is_not_well_formed(identity: Identity, token: str) -> None:
    assert str(_unauthorized(identity, f"Bearer {token}")).startswith("IDX14100: JWT is not well formed")


def test_a_tampered_token_is_refused(identity: Identity) -> None:
    token = identity.issue(TENANT, _form(), BASE)["access_token"]
    header, payload, signature = token.split(".")
    claims = _claims_of(token)
    claims["appid"] = "someone-else"
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    assert str(_unauthorized(identity, f"Bearer {forged}")) == "Signature is invalid."
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert str(_unauthorized(identity, f"Bearer {header}.{payload}.{flipped}")) == "Signature is invalid."


def test_a_token_signed_with_another_key_is_refused(identity: Identity, clock: FakeClock) -> None:
    other = Identity(b"o" * 32, {CLIENT: SECRET}, clock=clock)
    token = other.issue(TENANT, _form(), BASE)["access_token"]
    assert str(_unauthorized(identity, f"Bearer {token}")) == "Signature is invalid."


def test_an_unsigned_token_is_refused(identity: Identity, clock: FakeClock) -> None:
    claims = _claims_of(identity.issue(TENANT, _form(), BASE)["access_token"])
    unsigned = _jwt({"alg": "none", "typ": "JWT"}, claims)
    assert str(_unauthorized(identity, f"Bearer {unsigned}")) == "Signature is invalid."


def test_a_token_for_another_audience_is_refused(identity: Identity, clock: FakeClock) -> None:
    claims = _claims_of(identity.issue(TENANT, _form(), BASE)["access_token"])
    claims["aud"] = "https://outlook.office365.com"
    token = _jwt({"alg": "HS256", "typ": "JWT"}, claims, KEY)
    message = str(_unauthorized(identity, f"Bearer {token}"))
    assert message == "Access token validation failure. Invalid audience."


def test_a_signed_token_without_its_claims_is_refused(identity: Identity, clock: FakeClock) -> None:
    token = _jwt({"alg": "HS256"}, {"aud": "https://graph.microsoft.com", "exp": True}, KEY)
    assert str(_unauthorized(identity, f"Bearer {token}")) == "Access token validation failure."


# The token endpoint's errors


def _assert_entra_shape(error: TokenError, status: int, oauth_error: str, code: int) -> None:
    body = error.body
    assert error.status == status
    assert body["error"] == oauth_error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert f"Trace ID: {body['trace_id']}" in body["error_description"]
    assert f"Correlation ID: {body['correlation_id']}" in body["error_description"]
    assert body["timestamp"] == "2025-06-15 15:06:40Z"  # the fake clock's time
    uuid.UUID(body["trace_id"])
    assert body["error_uri"] == f"{BASE}/error?code={code}"
    assert SECRET not in json.dumps(body) and SECRET not in str(error)


def test_a_wrong_secret_is_invalid_client(identity: Identity) -> None:
    error = _token_error(identity, _form(client_secret=SECRET[:-1]))
    _assert_entra_shape(error, 401, "invalid_client", 7000215)
    assert "Invalid client secret provided" in error.body["error_description"]
    assert SECRET[:-1] not in json.dumps(error.body)


def test_errors_echo_the_client_request_id_as_correlation_id(identity: Identity) -> None:
    with pytest.raises(TokenError) as caught:
        identity.issue(
            TENANT, _form(client_secret="x"), BASE, correlation_id="c0ffee00-0000-0000-0000-000000000001"
        )
    assert caught.value.body["correlation_id"] == "c0ffee00-0000-0000-0000-000000000001"
    assert "Correlation ID: c0ffee00-0000-0000-0000-000000000001" in caught.value.body["error_description"]


def test_an_unknown_client_is_unauthorized_client(identity: Identity) -> None:
    error = _token_error(identity, _form(client_id="stranger"))
    _assert_entra_shape(error, 400, "unauthorized_client", 700016)
    assert "Application with identifier 'stranger' was not found in the directory 'firm'" in str(error)


def test_no_credential_at_all_is_invalid_client(identity: Identity) -> None:
    _assert_entra_shape(_token_error(identity, _form(client_secret=None)), 401, "invalid_client", 7000216)


@pytest.mark.parametrize(
    ("scope", "oauth_error", "code"),
    [
        (None, "invalid_request", 900144),
        ("", "invalid_request", 900144),
        ("https://graph.microsoft.com/Mail.Read", "invalid_scope", 1002012),
        ("https://graph.microsoft.com/.default offline_access", "invalid_scope", 1002012),
        ("https://example.com/.default", "invalid_resource", 500011),
    ],
)
def test_a_bad_scope_is_refused(identity: Identity, scope: str | None, oauth_error: str, code: int) -> None:
    _assert_entra_shape(_token_error(identity, _form(scope=scope)), 400, oauth_error, code)


@pytest.mark.parametrize(("grant", "oauth_error", "code"), [("password", "unsupported_grant_type", 70003)])
def test_another_grant_is_unsupported(identity: Identity, grant: str, oauth_error: str, code: int) -> None:
    error = _token_error(identity, _form(grant_type=grant))
    _assert_entra_shape(error, 400, oauth_error, code)
    assert "unsupported grant type 'password'" in error.body["error_description"]


def test_missing_grant_type_or_client_id_is_an_invalid_request(identity: Identity) -> None:
    for missing in ("grant_type", "client_id"):
        error = _token_error(identity, _form(**{missing: None}))
        _assert_entra_shape(error, 400, "invalid_request", 900144)
        assert f"parameter: '{missing}'" in error.body["error_description"]


# Certificate credentials (client assertions)


def _assertion(clock: FakeClock, **changes: Any) -> str:
    claims: dict[str, Any] = {
        "aud": ENDPOINT,
        "iss": CLIENT,
        "sub": CLIENT,
        "jti": str(uuid.uuid4()),
        "nbf": int(clock.now),
        "iat": int(clock.now),
        "exp": int(clock.now) + 600,
    }
    claims.update(changes)
    return _jwt({"alg": "RS256", "typ": "JWT", "x5t": "AAAA"}, claims)


def _assertion_form(assertion: str) -> dict[str, str]:
    return _form(client_secret=None, client_assertion_type=JWT_BEARER, client_assertion=assertion)


def test_a_client_assertion_is_accepted(identity: Identity, clock: FakeClock) -> None:
    token = identity.issue(TENANT, _assertion_form(_assertion(clock)), BASE)["access_token"]
    assert _claims_of(token)["appidacr"] == "2"
    assert identity.verify(f"Bearer {token}").app_id == CLIENT


def test_a_client_assertion_with_a_list_audience_is_accepted(identity: Identity, clock: FakeClock) -> None:
    identity.issue(TENANT, _assertion_form(_assertion(clock, aud=[ENDPOINT])), BASE)


@pytest.mark.parametrize(
    ("changes", "status", "oauth_error", "code"),
    [
        ({"iss": "stranger"}, 401, "invalid_client", 700021),
        ({"sub": "stranger"}, 401, "invalid_client", 700021),
        ({"aud": f"{BASE}/other/oauth2/v2.0/token"}, 401, "invalid_client", 50013),
        ({"exp": int(FakeClock().now) - 3600}, 401, "invalid_client", 700024),
        ({"nbf": int(FakeClock().now) + 3600}, 401, "invalid_client", 700024),
        ({"exp": "soon"}, 400, "invalid_request", 50027),
    ],
)
def test_a_bad_client_assertion_is_refused(
    identity: Identity, clock: FakeClock, changes: dict[str, Any], status: int, oauth_error: str, code: int
) -> None:
    assertion = _assertion(clock, **changes)
    error = _token_error(identity, _assertion_form(assertion))
    _assert_entra_shape(error, status, oauth_error, code)
    assert assertion not in json.dumps(error.body)


def test_a_malformed_or_mistyped_client_assertion_is_refused(identity: Identity, clock: FakeClock) -> None:
    _assert_entra_shape(_token_error(identity, _assertion_form("garbage")), 400, "invalid_request", 50027)
    form = _assertion_form(_assertion(clock)) | {"client_assertion_type": "urn:something:else"}
    _assert_entra_shape(_token_error(identity, form), 401, "invalid_client", 7000216)


def test_assertion_times_follow_the_wall_clock_not_the_sandbox_clock(clock: FakeClock) -> None:
    # Under a time-scale factor the sandbox clock runs ahead; the client's assertion uses real time.
    scaled = Identity(KEY, {CLIENT: SECRET}, clock=lambda: clock.now + 86_400 * 30, wall_clock=clock)
    scaled.issue(TENANT, _assertion_form(_assertion(clock)), BASE)


# The client rule and construction


def test_the_environment_pair_replaces_the_default_only_when_both_are_set() -> None:
    default = {"exsync-sandbox": "exsync-sandbox"}
    assert clients_from_environment({}) == default
    assert clients_from_environment({"EXSYNC_SANDBOX_CLIENT_ID": "app"}) == default
    assert clients_from_environment({"EXSYNC_SANDBOX_CLIENT_SECRET": "pw"}) == default
    assert (
        clients_from_environment({"EXSYNC_SANDBOX_CLIENT_ID": "", "EXSYNC_SANDBOX_CLIENT_SECRET": "pw"})
        == default
    )
    both = {"EXSYNC_SANDBOX_CLIENT_ID": "app", "EXSYNC_SANDBOX_CLIENT_SECRET": "pw"}
    assert clients_from_environment(both) == {"app": "pw"}


def test_a_short_signing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Identity(b"short", {CLIENT: SECRET})


# MSAL, unchanged, against a real HTTPS server

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class IdentityApp:
    """A raw ASGI app routing the identity endpoints to an Identity, logging every request."""

    identity: Identity
    calls: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)  # the client-request-id headers of token calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        query = scope["query_string"].decode()
        self.calls.append(f"{method} {path}" + (f"?{query}" if query else ""))
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        base_url = f"https://{headers['host']}"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        parts = path.strip("/").split("/")
        status, answer = 404, {"error": "not_found"}
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            status, answer = 200, self.identity.openid_configuration(base_url, parts[0])
        elif method == "GET" and path == "/common/discovery/instance":
            endpoint = dict(parse_qsl(query)).get("authorization_endpoint", "")
            tenant = urlsplit(endpoint).path.strip("/").split("/")[0] or "common"
            status, answer = 200, self.identity.instance_discovery(base_url, tenant)
        elif method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            form = dict(parse_qsl(body.decode()))
            correlation = headers.get("client-request-id")
            if correlation:
                self.request_ids.append(correlation)
            try:
                answer = self.identity.issue(parts[0], form, base_url, correlation_id=correlation)
                status = 200
            except TokenError as error:
                status, answer = error.status, error.body
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class Sandbox:
    app: IdentityApp
    port: int
    ca: Path
    clients: list[Any] = field(default_factory=list)

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self.port}/{TENANT}"

    def app_for(self, credential: Any, **flags: Any) -> Any:
        client = msal.ConfidentialClientApplication(
            CLIENT,
            client_credential=credential,
            authority=self.authority,
            verify=str(self.ca),
            timeout=10,
            **flags,
        )
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        # An idle keep-alive TLS connection would hold uvicorn's graceful shutdown until it times out.
        for client in self.clients:
            client.http_client.close()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    # Either would send MSAL to a regional host ("{region}.127.0.0.1") instead of the authority.
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    monkeypatch.delenv("REGION_NAME", raising=False)
    # requests lets these override a session's verify=, so MSAL's verify=ca would be ignored (see below).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    tls = prepare_tls(tmp_path / "tls")
    app = IdentityApp(Identity(KEY, {CLIENT: SECRET}))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    running = Sandbox(app, port, tls.ca)
    yield running
    running.close_clients()
    server.should_exit = True
    thread.join(timeout=10)


OPENID = f"GET /{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN = f"POST /{TENANT}/oauth2/v2.0/token"


@pytest.mark.parametrize("flags", [{"instance_discovery": False}, {"validate_authority": False}])
def test_msal_acquires_a_graph_token(sandbox: Sandbox, flags: dict[str, Any]) -> None:
    client = sandbox.app_for(SECRET, **flags)
    result = client.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    claims = sandbox.app.identity.verify(f"Bearer {result['access_token']}")
    assert claims.app_id == CLIENT and claims.tenant == TENANT
    # Exactly two requests: tenant discovery, then the token; nothing to login.microsoftonline.com.
    assert sandbox.app.calls == [OPENID, TOKEN]
    again = client.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert again["access_token"] == result["access_token"] and again["token_source"] == "cache"
    assert sandbox.app.calls == [OPENID, TOKEN]


def test_msal_uses_the_sandbox_instance_discovery_when_pointed_at_it(sandbox: Sandbox) -> None:
    discovery = f"https://127.0.0.1:{sandbox.port}/common/discovery/instance"
    client = sandbox.app_for(SECRET, instance_discovery=discovery)
    result = client.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    first = sandbox.app.calls[0]
    assert first.startswith("GET /common/discovery/instance?")
    asked = dict(parse_qsl(first.split("?", 1)[1]))
    # MSAL drops the port when it names the authority it asks about.
    assert asked == {
        "authorization_endpoint": f"https://127.0.0.1/{TENANT}/oauth2/v2.0/authorize",
        "api-version": "1.0",
    }
    assert sandbox.app.calls[1:] == [OPENID, TOKEN]


def test_msal_reports_a_wrong_secret_as_invalid_client(sandbox: Sandbox) -> None:
    wrong = "not-" + SECRET
    result = sandbox.app_for(wrong, instance_discovery=False).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
    assert "AADSTS7000215" in result["error_description"]
    assert result["correlation_id"] == sandbox.app.request_ids[-1]  # MSAL's client-request-id, echoed
    assert wrong not in json.dumps(result)
    assert sandbox.app.calls == [OPENID, TOKEN]


def test_msal_with_a_certificate_credential(sandbox: Sandbox) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credential = {"private_key": pem, "thumbprint": "A1" * 20}
    result = sandbox.app_for(credential, instance_discovery=False).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )
    assert "access_token" in result, result
    assert _claims_of(result["access_token"])["appidacr"] == "2"
    assert sandbox.app.calls == [OPENID, TOKEN]


def test_a_ca_bundle_in_the_environment_overrides_msal_verify(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests prefers REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE to a session's ``verify``; MSAL's ``verify=``
    sets just that, so with either variable set it silently trusts another store. An ``http_client``
    session that ignores the environment keeps the sandbox CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(prepare_tls(tmp_path / "elsewhere").ca))
    with pytest.raises(requests.exceptions.SSLError):
        sandbox.app_for(SECRET, instance_discovery=False)
    session = requests.Session()
    session.verify = str(sandbox.ca)
    session.trust_env = False
    client = msal.ConfidentialClientApplication(
        CLIENT,
        client_credential=SECRET,
        authority=sandbox.authority,
        instance_discovery=False,
        http_client=session,
    )
    sandbox.clients.append(client)
    assert "access_token" in client.acquire_token_for_client(scopes=[GRAPH_SCOPE])


def test_the_test_app_answers_unknown_paths_with_404(sandbox: Sandbox) -> None:
    # Keeps the test app honest: MSAL's traffic above matched real routes, not a catch-all.
    trusting = ssl.create_default_context(cafile=str(sandbox.ca))
    response = httpx.get(f"https://127.0.0.1:{sandbox.port}/nowhere", verify=trusting)
    assert response.status_code == 404
