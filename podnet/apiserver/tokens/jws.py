"""Compact JWS (RFC 7515) with RS256: what go-jose's signer and ``jwt.ParseSigned``
do for service account tokens (pkg/serviceaccount/jwt.go ``GenerateToken`` and
``AuthenticateToken``). A token that does not parse is not a JWT (another
authenticator may take it); one that parses with a bad signature is refused."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from podnet import jsonbytes
from podnet.apiserver.tokens.keys import ALGORITHM, SigningKey, b64url


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def encode(claims: dict[str, Any], key: SigningKey) -> str:
    header = {"alg": ALGORITHM, "kid": key.key_id}
    signing_input = b64url(jsonbytes.dumps(header)) + "." + b64url(jsonbytes.dumps(claims))
    return signing_input + "." + b64url(key.sign(signing_input.encode()))


@dataclass(frozen=True)
class Parsed:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def verified_by(self, key: SigningKey) -> bool:
        if self.header.get("alg") != ALGORITHM:
            return False
        kid = self.header.get("kid")
        if kid not in (None, "", key.key_id):
            return False
        return key.verify(self.signature, self.signing_input)


def parse(token: str) -> Parsed | None:
    """The token's parts, unverified; None if it is not a compact JWS with JSON parts."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return Parsed(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)
