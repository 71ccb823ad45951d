"""Legacy token Secrets, as the tokens controller fills them
(pkg/controller/serviceaccount/tokens_controller.go ``generateTokenIfNeeded``).

A Secret of type ``kubernetes.io/service-account-token`` annotated
``kubernetes.io/service-account.name`` gets ``data.token`` (a never-expiring JWT with
the legacy claims, signed by the service account key), ``data.ca.crt`` (the API
server's CA) and ``data.namespace``, and the account's uid in the
``kubernetes.io/service-account.uid`` annotation. Upstream stopped making these
Secrets on its own (LegacyServiceAccountTokenNoAutoGeneration) but still fills the ones
users create; one naming a missing account (or an account of another uid) is deleted,
as are an account's token Secrets when it goes.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from podnet.apiserver.tokens import claims as cl

Obj = dict[str, Any]
SECRET_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def is_token_secret(secret: Obj) -> bool:
    return secret.get("type") == SECRET_TYPE


def account_ref(secret: Obj) -> tuple[str, str]:
    """The (name, uid) of the account the Secret is for ("" when unset)."""
    ann = (secret.get("metadata") or {}).get("annotations") or {}
    return str(ann.get(NAME_ANNOTATION) or ""), str(ann.get(UID_ANNOTATION) or "")


def references(secret: Obj, sa: Obj) -> bool:
    """``serviceaccount.IsServiceAccountToken``: the name matches and the uid, if set."""
    name, uid = account_ref(secret)
    meta = sa.get("metadata") or {}
    return (
        is_token_secret(secret) and name == meta.get("name") and (not uid or uid == meta.get("uid"))
    )


def filled(secret: Obj, sa: Obj, sign: Callable[[Obj], str], ca_pem: str) -> Obj | None:
    """The Secret with what it lacks (token, ca.crt, namespace, uid annotation), or None
    when it has everything."""
    meta = secret.get("metadata") or {}
    ns = str(meta.get("namespace") or "")
    data = dict(secret.get("data") or {})
    sa_uid = str((sa.get("metadata") or {}).get("uid", ""))
    want_ca = _b64(ca_pem) if ca_pem else ""
    needs_ca = bool(want_ca) and data.get("ca.crt") != want_ca
    needs_ns = data.get("namespace") != _b64(ns)
    needs_token = not data.get("token")
    needs_uid = account_ref(secret)[1] != sa_uid
    if not (needs_ca or needs_ns or needs_token or needs_uid):
        return None
    out = copy.deepcopy(secret)
    if needs_ca:
        data["ca.crt"] = want_ca
    if needs_ns:
        data["namespace"] = _b64(ns)
    if needs_token:
        data["token"] = _b64(sign(cl.legacy(sa, str(meta.get("name", "")))))
    out["data"] = data
    out.setdefault("metadata", {}).setdefault("annotations", {})[UID_ANNOTATION] = sa_uid
    return out
