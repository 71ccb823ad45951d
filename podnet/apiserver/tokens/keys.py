"""The service account signing key: RSA 2048, ``pki/sa.key`` (0600) beside the CA.

As kubeadm makes it (``cmd/kubeadm/app/phases/certs``: ``sa.key`` and ``sa.pub``, RSA
even when the CA is ECDSA) and kube-apiserver reads it (--service-account-signing-key-file
and --service-account-key-file): made on first start, reused after, so tokens issued
before a restart with the same data dir stay valid. The key id is upstream's
``keyIDFromPublicKey`` (pkg/serviceaccount/jwt.go): the unpadded base64url SHA-256 of
the public key's DER (PKIX) encoding.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_FILE = "sa.key"
PUB_FILE = "sa.pub"
ALGORITHM = "RS256"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    private: rsa.RSAPrivateKey

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    @functools.cached_property
    def key_id(self) -> str:  # asked for every token signed: computed once
        der = self.public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return b64url(hashlib.sha256(der).digest())

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def jwk(self) -> dict[str, Any]:
        """The public key as /openid/v1/jwks lists it (go-jose's JSONWebKey)."""
        numbers = self.public.public_numbers()
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": self.key_id,
            "alg": ALGORITHM,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }


def generate() -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure(pki: Path) -> SigningKey:
    """The key in ``pki`` (the data dir's ``pki``, with the CA): read, else made."""
    pki.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = pki / KEY_FILE
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (FileNotFoundError, ValueError, TypeError):
        loaded = None
    if isinstance(loaded, rsa.RSAPrivateKey):
        return SigningKey(loaded)
    key = generate()
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write(path, pem, 0o600)
    _write(pki / PUB_FILE, pub, 0o644)
    return key
