"""Who is asking: a client certificate our CA signed, or the cluster's bearer token.

The API can exec into pods, so it is root on this machine: every request is
authenticated and anonymous ones get 401, except the health and version endpoints,
which kube-apiserver's default RBAC grants to ``system:unauthenticated`` (the
``system:public-info-viewer`` ClusterRole in
``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``: /healthz, /livez,
/readyz, /version and their sub-paths). The admin's certificate and the bearer token
are in ``system:masters``, which is always allowed; every other identity (a
ServiceAccount's token, :mod:`podnet.apiserver.tokens`, or one reached by
impersonation) is authorized by RBAC (:mod:`podnet.apiserver.rbac`).
"""

from __future__ import annotations

import hmac
import os
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

TOKEN_FILE = "token"
# user.SystemPrivilegedGroup, AllAuthenticated, AllUnauthenticated, Anonymous
# (staging/src/k8s.io/apiserver/pkg/authentication/user/user.go)
SYSTEM_MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_NAME = "system:anonymous"
ADMIN_NAME = "podnet-admin"
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


class TokenSource(Protocol):
    """ServiceAccount tokens (:class:`podnet.apiserver.tokens.issuer.TokenAuthenticator`)."""

    def review(
        self, token: str, audiences: tuple[str, ...]
    ) -> tuple[User | None, tuple[str, ...], str]: ...


@dataclass(frozen=True)
class User:
    """``user.Info``: name, uid, groups and extra (key -> values)."""

    name: str
    groups: tuple[str, ...] = field(default=())
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @property
    def is_master(self) -> bool:
        """In ``system:masters``: allowed everything, before any authorizer."""
        return SYSTEM_MASTERS in self.groups


ANONYMOUS = User(ANONYMOUS_NAME, (UNAUTHENTICATED,))
ADMIN = User(ADMIN_NAME, (SYSTEM_MASTERS, AUTHENTICATED))


def is_public(path: str) -> bool:
    """``/livez``, ``/readyz/etcd`` and the like: readable without credentials."""
    if path in PUBLIC_PATHS:
        return True
    return any(path.startswith(p + "/") for p in PUBLIC_PATHS if p != "/version")


def ensure_token(data_dir: Path) -> str:
    """The cluster's bearer token: 32 random bytes (hex), kept at mode 0600."""
    path = data_dir / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if len(token) >= 32:
        return token
    token = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode() + b"\n")
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return token


def _subject(peercert: dict[str, Any]) -> User | None:
    """CN is the user name and each O a group, as x509 request authentication
    (``staging/src/k8s.io/apiserver/pkg/authentication/request/x509/x509.go``,
    ``CommonNameUserConversion``)."""
    cn = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                groups.append(value)
    if not cn:
        return None
    return User(cn, (*groups, AUTHENTICATED))


class Authenticator:
    """Client certificates (verified against our CA by the TLS layer: the context asks
    for them with ``CERT_OPTIONAL`` and refuses a certificate another CA signed), then
    the bearer token: the cluster's own, else a ServiceAccount's (``tokens``, set by
    the API server; the union authenticator of
    ``pkg/kubeapiserver/authenticator/config.go``, token file before service accounts)."""

    def __init__(self, token: str, tokens: TokenSource | None = None) -> None:
        self._token = token.encode()
        self.tokens = tokens

    def authenticate(
        self, peercert: dict[str, Any] | None, authorization: str | None
    ) -> User | None:
        if peercert:
            user = _subject(peercert)
            if user is not None:
                return user
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() == "bearer":
                return self.authenticate_token(value.strip())
        return None

    def authenticate_token(self, token: str) -> User | None:
        """The admin for the cluster's token, a ServiceAccount for a valid token of
        theirs, else nobody (401). A ServiceAccount's token reads the registry."""
        user, _, _ = self.review(token, ())
        return user

    def review(
        self, token: str, audiences: tuple[str, ...]
    ) -> tuple[User | None, tuple[str, ...], str]:
        """What a TokenReview answers: the user, the audiences the token is good for
        (of ``audiences``, the API server's when empty), and why it is refused."""
        if token and hmac.compare_digest(token.encode(), self._token):
            # static tokens are audience-agnostic (WrapAudienceAgnosticToken)
            return ADMIN, audiences, ""
        if self.tokens is None or not token:
            return None, (), ""
        return self.tokens.review(token, audiences)

    def needs_lookup(self, authorization: str | None) -> bool:
        """A bearer token that is not the cluster's: checking it may read the registry
        (run it off the event loop)."""
        if self.tokens is None or not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        return scheme.lower() == "bearer" and not hmac.compare_digest(value.encode(), self._token)


def peercert_of(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any] | None:
    """The verified peer certificate of a connection, as ``getpeercert()`` decodes it."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    return dict(cert) if cert else None
