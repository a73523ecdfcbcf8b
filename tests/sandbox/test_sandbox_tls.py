"""The sandbox's CA and server certificate, checked with real TLS handshakes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exsync.sandbox.tls import TlsFiles, prepare_tls


class TlsServer:
    """A tiny TLS echo-less server: accepts connections, completes the handshake, says hello, closes."""

    def __init__(self, files: TlsFiles) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(files.cert, files.key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    conn.sendall(b"hello")
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: that is what some tests want
            finally:
                raw.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    return tmp_path / "tls"


@pytest.fixture
def server(tls_dir: Path) -> Iterator[TlsServer]:
    running = TlsServer(prepare_tls(tls_dir))
    yield running
    running.close()


def _client(ca: Path | None) -> ssl.SSLContext:
    if ca is None:
        return ssl.create_default_context()  # the system store only
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=ca)
    context.check_hostname = True
    # What Python 3.13 turns on by default: the chain must satisfy it too.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def _hello(context: ssl.SSLContext, host: str, port: int) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as conn,
    ):
        return conn.recv(5)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_client_trusting_the_ca_connects(server: TlsServer, tls_dir: Path, host: str) -> None:
    assert _hello(_client(tls_dir / "ca.pem"), host, server.port) == b"hello"


def test_a_client_trusting_only_the_system_store_refuses(server: TlsServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _hello(_client(None), "localhost", server.port)


def test_a_name_outside_the_certificate_is_refused(server: TlsServer, tls_dir: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _hello(_client(tls_dir / "ca.pem"), "example.com", server.port)


def test_the_ca_is_made_once_and_kept(tls_dir: Path) -> None:
    first = prepare_tls(tls_dir)
    ca, ca_key, cert = first.ca.read_bytes(), (tls_dir / "ca-key.pem").read_bytes(), first.cert.read_bytes()
    second = prepare_tls(tls_dir)
    assert second == first
    assert second.ca.read_bytes() == ca
    assert (tls_dir / "ca-key.pem").read_bytes() == ca_key
    assert second.cert.read_bytes() == cert  # still fits: not reissued
    assert (first.ca.name, first.cert.name, first.key.name) == ("ca.pem", "server.pem", "server-key.pem")


def test_private_keys_are_readable_by_the_owner_only(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir)
    for key in (tls_dir / "ca-key.pem", files.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.ca.stat().st_mode) == 0o644
    assert not [p.name for p in tls_dir.iterdir() if p.name.endswith(".tmp")]


def test_the_ca_and_server_certificate_have_the_expected_shape(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir, hosts=("127.0.0.1", "::1", "LocalHost", "sandbox.test"))
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3650)
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "sandbox.test"}
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc <= now - dt.timedelta(hours=23)
    assert cert.not_valid_after_utc >= now + dt.timedelta(days=700)


def _sign_server_cert(tls_dir: Path, *, days: int, signer: ec.EllipticCurvePrivateKey | None = None) -> None:
    """Replace the server certificate by one for 127.0.0.1 and localhost, valid ``days`` more days,
    signed by the CA unless another ``signer`` is given."""
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls_dir / "ca-key.pem").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(signer or ca_key, hashes.SHA256())
    )
    (tls_dir / "server-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tls_dir / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _not_after(path: Path) -> dt.datetime:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc


def test_a_server_certificate_about_to_expire_is_reissued(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir)
    ca = files.ca.read_bytes()
    _sign_server_cert(tls_dir, days=10)
    expiring = files.cert.read_bytes()
    prepare_tls(tls_dir)
    assert files.cert.read_bytes() != expiring
    assert _not_after(files.cert) > dt.datetime.now(dt.UTC) + dt.timedelta(days=700)
    assert files.ca.read_bytes() == ca
    server = TlsServer(files)
    try:
        assert _hello(_client(files.ca), "localhost", server.port) == b"hello"
    finally:
        server.close()


def test_a_server_certificate_with_time_left_is_kept(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir)
    _sign_server_cert(tls_dir, days=45)
    kept = files.cert.read_bytes()
    prepare_tls(tls_dir)
    assert files.cert.read_bytes() == kept


def test_a_server_certificate_from_another_ca_is_reissued(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir)
    _sign_server_cert(tls_dir, days=400, signer=ec.generate_private_key(ec.SECP256R1()))
    foreign = files.cert.read_bytes()
    prepare_tls(tls_dir)
    assert files.cert.read_bytes() != foreign
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    x509.load_pem_x509_certificate(files.cert.read_bytes()).verify_directly_issued_by(ca)


def test_a_new_host_reissues_the_server_certificate(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir)
    before = files.cert.read_bytes()
    prepare_tls(tls_dir, hosts=("127.0.0.1", "localhost", "sandbox.test"))
    assert files.cert.read_bytes() != before
    server = TlsServer(files)
    try:
        for host in ("127.0.0.1", "localhost"):
            assert _hello(_client(files.ca), host, server.port) == b"hello"
    finally:
        server.close()
    # A subset of the hosts it already names does not need a new certificate.
    after = files.cert.read_bytes()
    prepare_tls(tls_dir, hosts=("localhost",))
    assert files.cert.read_bytes() == after


def test_a_lost_server_key_reissues_the_certificate(tls_dir: Path) -> None:
    files = prepare_tls(tls_dir)
    before = files.cert.read_bytes()
    files.key.unlink()
    prepare_tls(tls_dir)
    assert files.key.exists() and files.cert.read_bytes() != before


def test_concurrent_starts_agree_on_one_ca(tls_dir: Path) -> None:
    results: list[TlsFiles] = []
    threads = [threading.Thread(target=lambda: results.append(prepare_tls(tls_dir))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes()).verify_directly_issued_by(ca)


def test_no_hosts_is_an_error(tls_dir: Path) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        prepare_tls(tls_dir, hosts=())
