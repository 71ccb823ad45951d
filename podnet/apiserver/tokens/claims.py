"""Service account token claims, made and checked (pure: the clock is an argument).

As pkg/serviceaccount/claims.go (``Claims``, ``validator.Validate``) and legacy.go
(``LegacyClaims``): a bound token carries iss, sub ``system:serviceaccount:<ns>:<name>``,
aud, exp, iat, nbf, jti and ``kubernetes.io`` {namespace, serviceaccount{name,uid},
pod|secret{name,uid}, node{name,uid}, warnafter}; a legacy one (a token Secret's)
carries the ``kubernetes.io/serviceaccount/*`` claims and no expiry. Times are checked
with go-jose's one-minute leeway (``jwt.DefaultLeeway``).
"""

from __future__ import annotations

import calendar
import time
import uuid
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
LEGACY_ISSUER = "kubernetes/serviceaccount"
LEEWAY = 60
PRIVATE = "kubernetes.io"
# pkg/serviceaccount/claims.go: a deleted object's tokens stay valid this long
# (its grace period: a pod being deleted still talks to the API while it stops)
DELETED_GRACE = 60
LEGACY_NS = "kubernetes.io/serviceaccount/namespace"
LEGACY_SECRET = "kubernetes.io/serviceaccount/secret.name"
LEGACY_SA_NAME = "kubernetes.io/serviceaccount/service-account.name"
LEGACY_SA_UID = "kubernetes.io/serviceaccount/service-account.uid"
# staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


class InvalidToken(Exception):
    """The token is ours but not valid (401, the reason only in the server's log and
    a TokenReview's ``status.error``)."""


def username(namespace: str, name: str) -> str:
    """``serviceaccount.MakeUsername``."""
    return f"system:serviceaccount:{namespace}:{name}"


def groups(namespace: str) -> tuple[str, ...]:
    """``serviceaccount.MakeGroupNames``."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def _ref(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    return {"name": meta.get("name", ""), "uid": meta.get("uid", "")}


def bound(
    issuer: str,
    sa: Obj,
    audiences: list[str],
    expiration_seconds: int,
    now: int,
    *,
    pod: Obj | None = None,
    secret: Obj | None = None,
    node: Obj | None = None,
    warn_after: int = 0,
) -> Obj:
    """``serviceaccount.Claims``: a token bound to at most one of pod or secret (a
    pod's node rides along, ServiceAccountTokenPodNodeInfo), or to a node alone."""
    meta = sa.get("metadata") or {}
    ns = str(meta.get("namespace", ""))
    k8s: Obj = {"namespace": ns, "serviceaccount": _ref(sa)}
    if pod is not None:
        k8s["pod"] = _ref(pod)
    elif secret is not None:
        k8s["secret"] = _ref(secret)
    if node is not None:
        k8s["node"] = _ref(node)
    if warn_after:
        k8s["warnafter"] = now + warn_after
    return {
        "aud": list(audiences),
        "exp": now + expiration_seconds,
        "iat": now,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        PRIVATE: k8s,
        "nbf": now,
        "sub": username(ns, str(meta.get("name", ""))),
    }


def legacy(sa: Obj, secret_name: str) -> Obj:
    """``serviceaccount.LegacyClaims`` (tokens_controller.go signs these)."""
    meta = sa.get("metadata") or {}
    ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    return {
        "iss": LEGACY_ISSUER,
        LEGACY_NS: ns,
        LEGACY_SECRET: secret_name,
        LEGACY_SA_NAME: name,
        LEGACY_SA_UID: str(meta.get("uid", "")),
        "sub": username(ns, name),
    }


def audiences_of(claims: Obj) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [str(a) for a in aud]
    return []


def check_times(claims: Obj, now: float) -> None:
    """go-jose ``Claims.Validate`` with the default leeway, and claims.go's messages."""
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if not isinstance(exp, int | float):
        raise InvalidToken("service account token has no expiry")
    if now > exp + LEEWAY:
        raise InvalidToken("service account token has expired")
    if isinstance(nbf, int | float) and now + LEEWAY < nbf:
        raise InvalidToken("service account token is not valid yet")
    if isinstance(iat, int | float) and now + LEEWAY < iat:
        raise InvalidToken("service account token is issued in the future")


@dataclass(frozen=True)
class Refs:
    """What a bound token names, to be looked up (``validator.Validate``)."""

    namespace: str
    sa: tuple[str, str]
    pod: tuple[str, str] | None
    secret: tuple[str, str] | None
    node: tuple[str, str] | None
    jti: str


def _pair(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    return str(value.get("name", "")), str(value.get("uid", ""))


def refs(claims: Obj) -> Refs:
    k8s = claims.get(PRIVATE)
    if not isinstance(k8s, dict):
        raise InvalidToken("service account token claims are missing kubernetes.io")
    ns = str(k8s.get("namespace") or "")
    sa = _pair(k8s.get("serviceaccount"))
    if not ns or sa is None or not sa[0]:
        raise InvalidToken("service account token does not name a service account")
    return Refs(
        ns,
        sa,
        _pair(k8s.get("pod")),
        _pair(k8s.get("secret")),
        _pair(k8s.get("node")),
        str(claims.get("jti") or ""),
    )


def live(kind: str, obj: Obj | None, ref: tuple[str, str], now: float) -> None:
    """The object a token names still exists with the same uid and was not deleted
    more than a leeway ago; claims.go ``Validate``'s messages."""
    meta = (obj or {}).get("metadata") or {}
    deleted = meta.get("deletionTimestamp")
    gone = obj is None or bool(deleted and _epoch(str(deleted)) < now - DELETED_GRACE)
    if kind == "ServiceAccount":
        if obj is None:
            raise InvalidToken(f'serviceaccount "{ref[0]}" not found')
        if gone:
            raise InvalidToken(
                f"service account {meta.get('namespace', '')}/{ref[0]} has been deleted"
            )
        if str(meta.get("uid", "")) != ref[1]:
            raise InvalidToken(
                f"service account UID ({meta.get('uid', '')}) does not match claim ({ref[1]})"
            )
        return
    if gone:
        raise InvalidToken("service account token has been invalidated")
    if str(meta.get("uid", "")) != ref[1]:
        label = kind.lower()
        raise InvalidToken(
            f"{label} UID ({meta.get('uid', '')}) does not match service account {label} "
            f"ref claim ({ref[1]})"
        )


def _epoch(stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return 0.0
