"""The cluster PKI: made once with the modes and names kubeadm gives, reused after."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from podnet.apiserver import certs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_first_start_makes_a_ca_a_serving_and_an_admin_certificate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tls = certs.ensure(data)
    assert _mode(data) == 0o700 and _mode(data / "pki") == 0o700
    files = [tls.ca_cert, tls.ca_key, tls.serving_cert, tls.serving_key]
    files += [tls.admin_cert, tls.admin_key]
    assert [_mode(f) for f in files] == [0o600] * 6
    ca = _cert(tls.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650

    serving = _cert(tls.serving_cert)
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    }
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.96.0.1"),
    }
    eku = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]

    admin = _cert(tls.admin_cert)
    admin.verify_directly_issued_by(ca)
    subject = admin.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "podnet-admin"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"


def test_second_start_reuses_everything(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path)
    before = {p: p.read_bytes() for p in (tls.ca_cert, tls.serving_cert, tls.admin_key)}
    again = certs.ensure(tmp_path)
    assert again == tls
    assert {p: p.read_bytes() for p in before} == before


def test_a_missing_leaf_is_remade_under_the_same_ca(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path)
    ca = tls.ca_cert.read_bytes()
    old_admin = tls.admin_cert.read_bytes()
    tls.serving_key.unlink()
    certs.ensure(tmp_path)
    assert tls.ca_cert.read_bytes() == ca
    assert tls.admin_cert.read_bytes() == old_admin
    _cert(tls.serving_cert).verify_directly_issued_by(_cert(tls.ca_cert))


def test_a_broken_ca_replaces_every_certificate(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path)
    old_admin = tls.admin_cert.read_bytes()
    tls.ca_key.write_text("not a key")
    certs.ensure(tmp_path)
    ca = _cert(tls.ca_cert)
    assert tls.admin_cert.read_bytes() != old_admin
    _cert(tls.admin_cert).verify_directly_issued_by(ca)
    _cert(tls.serving_cert).verify_directly_issued_by(ca)


def test_the_ssl_contexts_load(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path)
    server = tls.ssl_context()
    assert server.minimum_version.name == "TLSv1_2"
    assert server.verify_mode.name == "CERT_OPTIONAL"
    tls.client_context()
