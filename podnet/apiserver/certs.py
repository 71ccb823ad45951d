"""The cluster's PKI: a CA, the API server's serving certificate and the admin's client
certificate, made on first start in the data dir and reused after.

As kubeadm lays it out (``cmd/kubeadm/app/phases/certs``): one CA signs the serving
certificate (SANs for loopback and the in-cluster names of the ``kubernetes`` Service,
10.96.0.1 included, so pods can reach the API) and the admin client certificate
(CN=podnet-admin, O=system:masters: the group the default RBAC binds to cluster-admin).
EC P-256 keys, as kubeadm's ``--encryption-algorithm=ECDSA-P256``. Private keys are mode
0600 in a 0700 directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 365
# Renew a leaf whose remaining life is shorter than this (kubeadm warns at 30 days).
RENEW_BEFORE = datetime.timedelta(days=30)
ADMIN_CN = "podnet-admin"
ADMIN_GROUP = "system:masters"
SERVING_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVING_IPS = ("127.0.0.1", "::1", "10.96.0.1")


@dataclass(frozen=True)
class ServerTLS:
    """The files the API server and its kubeconfig need (all PEM)."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path

    def ssl_context(self) -> ssl.SSLContext:
        """TLS 1.2+, HTTP/1.1 only over ALPN (aiohttp speaks no HTTP/2; Go's client then
        stays on HTTP/1.1), client certificates optional and checked against our CA."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.serving_cert, self.serving_key)
        ctx.load_verify_locations(cafile=str(self.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client's context trusting our CA and presenting the admin certificate."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        ctx.load_cert_chain(self.admin_cert, self.admin_key)
        return ctx


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` at mode 0600 (created so, never readable by others even briefly)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name("podnet-ca")
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
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
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _serving_sans() -> list[x509.GeneralName]:
    dns: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVING_DNS]
    ips: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVING_IPS]
    return ips + dns


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt)


def _leaf_ok(
    cert: x509.Certificate | None,
    key: ec.EllipticCurvePrivateKey | None,
    ca: x509.Certificate,
    want_sans: list[x509.GeneralName] | None,
) -> bool:
    """Usable: ours (signed by this CA), matching its key, not near expiry, same SANs."""
    if cert is None or key is None or not _same_key(cert, key):
        return False
    if cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, exceptions.InvalidSignature):
        return False
    if want_sans is not None:
        try:
            have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        if set(have) != set(want_sans):
            return False
    return True


def ensure(data_dir: Path) -> ServerTLS:
    """The PKI under ``data_dir/pki``: made when missing or unusable, else reused.

    A CA that is missing, unreadable or near expiry is replaced together with every
    leaf (they would not verify against a new CA).
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    pki = data_dir / "pki"
    pki.mkdir(mode=0o700, exist_ok=True)
    os.chmod(pki, 0o700)
    tls = ServerTLS(
        ca_cert=pki / "ca.crt",
        ca_key=pki / "ca.key",
        serving_cert=pki / "apiserver.crt",
        serving_key=pki / "apiserver.key",
        admin_cert=pki / "admin.crt",
        admin_key=pki / "admin.key",
    )
    ca, ca_key = _load_cert(tls.ca_cert), _load_key(tls.ca_key)
    renew_all = (
        ca is None
        or ca_key is None
        or not _same_key(ca, ca_key)
        or ca.not_valid_after_utc - RENEW_BEFORE < _now()
    )
    if renew_all or ca is None or ca_key is None:
        ca, ca_key = _make_ca()
        _write(tls.ca_key, _key_pem(ca_key))
        _write(tls.ca_cert, ca.public_bytes(serialization.Encoding.PEM))
    leaves = (
        (
            tls.serving_cert,
            tls.serving_key,
            _name("kube-apiserver"),
            ExtendedKeyUsageOID.SERVER_AUTH,
            _serving_sans(),
        ),
        (
            tls.admin_cert,
            tls.admin_key,
            _name(ADMIN_CN, ADMIN_GROUP),
            ExtendedKeyUsageOID.CLIENT_AUTH,
            None,
        ),
    )
    for cert_path, key_path, subject, usage, sans in leaves:
        if not renew_all and _leaf_ok(_load_cert(cert_path), _load_key(key_path), ca, sans):
            continue
        cert, key = _make_leaf(ca, ca_key, subject, usage, sans)
        _write(key_path, _key_pem(key))
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return tls
