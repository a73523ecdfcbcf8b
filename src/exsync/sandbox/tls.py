"""The sandbox's TLS material: a private certificate authority of its own and a server certificate it signs.

Clients trust ``ca.pem`` once; the CA is therefore created a single time and kept, while the server
certificate is reissued whenever it no longer fits (missing, near expiry, another CA, other hosts).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
LOCK_FILE = ".tls.lock"

CA_LIFETIME = dt.timedelta(days=3650)
SERVER_LIFETIME = dt.timedelta(days=730)
RENEW_BEFORE = dt.timedelta(days=30)
# Backdated so a client whose clock runs a little behind still accepts a certificate made just now.
BACKDATE = dt.timedelta(days=1)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # DIR/ca.pem: the CA certificate clients trust
    cert: Path  # DIR/server.pem: the server certificate
    key: Path  # DIR/server-key.pem: the server's private key


def prepare_tls(directory: Path, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Make sure ``directory`` holds a CA and a current server certificate for ``hosts``; return the paths."""
    if not hosts:
        raise ValueError("prepare_tls needs at least one host name or address")
    wanted = _parse_hosts(hosts)
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(ca=directory / CA_FILE, cert=directory / CERT_FILE, key=directory / KEY_FILE)
    with _locked(directory / LOCK_FILE):
        ca_cert, ca_key = _load_or_create_ca(directory)
        if not _server_certificate_fits(files, ca_cert, wanted):
            if ca_key is None:
                raise RuntimeError(
                    f"{directory / CA_KEY_FILE} is missing, so no server certificate can be issued; the CA "
                    f"is kept because clients already trust {files.ca} (delete both to start afresh)"
                )
            _issue_server_certificate(files, ca_cert, ca_key, hosts, wanted)
    return files


def _parse_hosts(hosts: Sequence[str]) -> tuple[frozenset[IpAddress], frozenset[str]]:
    addresses: set[IpAddress] = set()
    names: set[str] = set()
    for host in hosts:
        try:
            addresses.add(ipaddress.ip_address(host))
        except ValueError:
            names.add(host.lower())
    return frozenset(addresses), frozenset(names)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise concurrent starts: without it two processes could each make a CA and the loser's
    server certificate would be signed by a CA that no longer is on disk."""
    with open(path, "a+b") as handle:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        else:  # no advisory locks there; the atomic renames still keep every file whole
            yield


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _load_or_create_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | None]:
    """The existing CA if there is one (its key may be None if that file was lost), else a new one."""
    ca_path, key_path = directory / CA_FILE, directory / CA_KEY_FILE
    if ca_path.exists():
        # Never replaced once written: clients trust this very certificate.
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        if not key_path.exists():
            return ca_cert, None
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_public_key(ca_cert, key):
            raise RuntimeError(f"{key_path} is not the private key of {ca_path}")
        return ca_cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    # A random suffix keeps the names of two sandboxes' CAs apart in a client that trusts both.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exsync"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"exsync sandbox CA {secrets.token_hex(4)}"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        # Strict verifiers (Python 3.13's default VERIFY_X509_STRICT) want key identifiers throughout.
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a CA certificate on disk without its key would be kept and block reissuing.
    _write_atomically(key_path, _private_pem(key), private=True)
    _write_atomically(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    return ca_cert, key


def _server_certificate_fits(
    files: TlsFiles, ca_cert: x509.Certificate, wanted: tuple[frozenset[IpAddress], frozenset[str]]
) -> bool:
    if not files.cert.exists() or not files.key.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False  # unreadable, or not signed by the current CA
    if not _same_public_key(cert, key):
        return False
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    addresses, names = wanted
    present_names = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    return addresses <= set(san.get_values_for_type(x509.IPAddress)) and names <= present_names


def _issue_server_certificate(
    files: TlsFiles,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    hosts: Sequence[str],
    wanted: tuple[frozenset[IpAddress], frozenset[str]],
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    addresses, names = wanted
    alt_names: list[x509.GeneralName] = [x509.IPAddress(address) for address in sorted(addresses, key=str)]
    alt_names += [x509.DNSName(name) for name in sorted(names)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        # Never past the CA's own end: a chain is only as valid as its shortest link.
        .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    # The key before the certificate, so a reader that sees the new certificate also finds its key.
    _write_atomically(files.key, _private_pem(key), private=True)
    _write_atomically(files.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)


def _same_public_key(cert: x509.Certificate, key: object) -> bool:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_atomically(path: Path, data: bytes, *, private: bool) -> None:
    """Write beside the target and rename over it, so a concurrent reader sees the old file or the new one,
    never half of one. mkstemp creates the file 0600, so a private key is never readable by others."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if not private:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
