"""The issuer's OpenID Connect discovery documents (pkg/serviceaccount/openidmetadata.go).

``/.well-known/openid-configuration`` names the issuer and the JWKS URI
(``<issuer>/openid/v1/jwks``; --service-account-jwks-uri unset), ``/openid/v1/jwks``
lists the public keys, so that other parties can verify the tokens (workload identity
federation). Both are served with ``Cache-Control: public, max-age=3600``, the
documents' media types as upstream; who may read them is RBAC's (the
``system:service-account-issuer-discovery`` ClusterRole, bound to
``system:serviceaccounts``).
"""

from __future__ import annotations

import json
from typing import Any

from podnet.apiserver.tokens.keys import ALGORITHM, SigningKey

CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
PATHS = frozenset({CONFIGURATION_PATH, JWKS_PATH})
CACHE_CONTROL = "public, max-age=3600"
CONFIGURATION_TYPE = "application/json"
JWKS_TYPE = "application/jwk-set+json"


def configuration(issuer: str) -> dict[str, Any]:
    """``openIDMetadata``: only ``id_token`` responses, public subjects."""
    return {
        "issuer": issuer,
        "jwks_uri": issuer.rstrip("/") + JWKS_PATH,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
    }


def jwks(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys]}


def document(path: str, issuer: str, keys: list[SigningKey]) -> tuple[bytes, str] | None:
    """The body and content type served at ``path``, or None for another path."""
    if path == CONFIGURATION_PATH:
        return json.dumps(configuration(issuer)).encode(), CONFIGURATION_TYPE
    if path == JWKS_PATH:
        return json.dumps(jwks(keys)).encode(), JWKS_TYPE
    return None
