"""Issue service account tokens (the TokenRequest subresource) and authenticate them.

- :func:`token_request` is ``serviceaccounts/<name>/token``
  (pkg/registry/core/serviceaccount/storage/token.go ``TokenREST.Create``): expiry 3600 s
  by default and at least 600 (pkg/apis/authentication/validation), audiences the API
  server's by default, bound to a Pod, Secret or Node whose uid must match; a pod's
  kube-api-access token (3607 s, the API audience) lives a year with ``warnafter`` at
  3607 s (--service-account-extend-token-expiration, on by default).
- :meth:`TokenAuthenticator.authenticate` is pkg/serviceaccount/jwt.go
  ``AuthenticateToken``: a JWT whose issuer is not ours is not ours (None, no error);
  ours must verify, be in time, share an audience with the request's, and its
  ServiceAccount (and pod, secret, node) must still exist with the same uid, so
  deleting one revokes its tokens. The user is ``system:serviceaccount:<ns>:<name>`` in
  ``system:serviceaccounts``, ``system:serviceaccounts:<ns>`` and
  ``system:authenticated``, with the pod and credential id in ``extra``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.auth import AUTHENTICATED, User
from podnet.apiserver.resources import by_kind
from podnet.apiserver.tokens import claims as cl
from podnet.apiserver.tokens import jws
from podnet.apiserver.tokens.keys import SigningKey

Obj = dict[str, Any]
# kube-apiserver --service-account-issuer as kubeadm sets it; --api-audiences defaults
# to the issuer.
ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION = 3600  # SetDefaults_TokenRequestSpec
MIN_EXPIRATION = 600  # validation.go: 10 minutes
MAX_EXPIRATION = 1 << 32
# pkg/serviceaccount/claims.go WarnOnlyBoundTokenExpirationSeconds and
# ExpirationExtensionSeconds: the projected volume's 3607 s means "the default", which
# kube-apiserver extends to a year, warning in the log after the 3607 s.
WARN_ONLY_EXPIRATION = 3607
EXTENDED_EXPIRATION = 24 * 365 * 3600
GROUP = "authentication.k8s.io"
# (kind, namespace or None, name) -> the object, or None when there is none
Getter = Callable[[str, str | None, str], Obj | None]


@dataclass(frozen=True)
class TokenIssuer:
    key: SigningKey
    issuer: str = ISSUER
    api_audiences: tuple[str, ...] = API_AUDIENCES

    def sign(self, claims: Obj) -> str:
        return jws.encode(claims, self.key)


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _invalid(name: str, field: str, message: str) -> errors.ApiError:
    return errors.invalid(GROUP, "TokenRequest", name, [("FieldValueInvalid", field, message)])


def _get_or_404(get: Getter, kind: str, plural: str, ns: str | None, name: str) -> Obj:
    obj = get(kind, ns, name)
    if obj is None:
        raise errors.not_found("", plural, name)
    return obj


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def token_request(
    issuer: TokenIssuer, get: Getter, namespace: str, name: str, body: Obj, now: float
) -> Obj:
    """The TokenRequest answered: ``body`` defaulted, checked, its ``status`` filled."""
    meta = dict(body.get("metadata") or {})
    spec = dict(body.get("spec") or {})
    if meta.get("name") and meta["name"] != name:
        raise _invalid(
            name,
            "metadata.name",
            f'Invalid value: "{meta["name"]}": must match the service account name if specified',
        )
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise _invalid(
            name,
            "metadata.namespace",
            f'Invalid value: "{meta["namespace"]}": must match the service account '
            "namespace if specified",
        )
    expiration = spec.get("expirationSeconds")
    expiration = DEFAULT_EXPIRATION if expiration is None else int(expiration)
    if expiration < MIN_EXPIRATION:
        raise _invalid(
            name,
            "spec.expirationSeconds",
            f"Invalid value: {expiration}: may not specify a duration less than 10 minutes",
        )
    if expiration > MAX_EXPIRATION:
        raise _invalid(
            name,
            "spec.expirationSeconds",
            f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds",
        )
    sa = _get_or_404(get, "ServiceAccount", "serviceaccounts", namespace, name)
    pod = secret = node = None
    ref = spec.get("boundObjectRef")
    if isinstance(ref, dict) and ref:
        kind, ref_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        api_version = str(ref.get("apiVersion") or "v1")
        if api_version != "v1" or kind not in ("Pod", "Secret", "Node"):
            gvk = f"/{api_version}, Kind={kind}" if "/" not in api_version else api_version
            raise errors.bad_request(f"cannot bind token to object of type {gvk}")
        if kind == "Pod":
            pod = _get_or_404(get, "Pod", "pods", namespace, ref_name)
            pod_sa = str((pod.get("spec") or {}).get("serviceAccountName") or "")
            if pod_sa != name:
                raise errors.bad_request(
                    f'cannot bind token for serviceaccount "{name}" to pod running with '
                    f'serviceaccount "{pod_sa}"'
                )
            node_name = str((pod.get("spec") or {}).get("nodeName") or "")
            node = get("Node", None, node_name) if node_name else None
            bound: Obj = pod
        elif kind == "Secret":
            secret = bound = _get_or_404(get, "Secret", "secrets", namespace, ref_name)
        else:
            node = bound = _get_or_404(get, "Node", "nodes", None, ref_name)
        if ref.get("uid") and str(ref["uid"]) != _uid(bound):
            raise errors.conflict(
                "",
                kind,
                ref_name,
                f"the UID in the bound object reference ({ref['uid']}) does not match the "
                f"UID in record ({_uid(bound)}). The object might have been deleted and "
                "then recreated",
            )
    audiences = [str(a) for a in spec.get("audiences") or ()] or list(issuer.api_audiences)
    lifetime, warn_after = expiration, 0
    if (
        pod is not None
        and expiration == WARN_ONLY_EXPIRATION
        and set(audiences) <= set(issuer.api_audiences)
    ):
        lifetime, warn_after = EXTENDED_EXPIRATION, WARN_ONLY_EXPIRATION
    issued = int(now)
    token_claims = cl.bound(
        issuer.issuer,
        sa,
        audiences,
        lifetime,
        issued,
        pod=pod,
        secret=secret,
        node=node,
        warn_after=warn_after,
    )
    spec["audiences"] = audiences
    spec["expirationSeconds"] = expiration
    meta.setdefault("name", name)
    meta.setdefault("namespace", namespace)
    meta["creationTimestamp"] = _rfc3339(now)
    return {
        "kind": "TokenRequest",
        "apiVersion": f"{GROUP}/v1",
        "metadata": meta,
        "spec": spec,
        "status": {
            # the status' expiry is the requested one, even when the token's is extended
            "token": issuer.sign(token_claims),
            "expirationTimestamp": _rfc3339(issued + expiration),
        },
    }


def pod_token(
    issuer: TokenIssuer,
    get: Getter,
    pod: Obj,
    *,
    audience: str = "",
    expiration_seconds: int = WARN_ONLY_EXPIRATION,
    now: float | None = None,
) -> tuple[str, float]:
    """A token bound to ``pod`` for its ServiceAccount: what the kubelet's token manager
    asks for a projected ``serviceAccountToken`` source (pkg/kubelet/token
    ``GetServiceAccountToken`` -> TokenRequest with boundObjectRef Pod, name and uid).
    Returns the token and the epoch at which to refresh it (80 % of its life, as
    ``requiresRefresh``). Raises ApiError (404 when the pod or its account is gone)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    body: Obj = {
        "spec": {
            "expirationSeconds": expiration_seconds,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": meta.get("name", ""),
                "uid": meta.get("uid", ""),
            },
        }
    }
    if audience:
        body["spec"]["audiences"] = [audience]
    at = time.time() if now is None else now
    answer = token_request(
        issuer,
        get,
        str(meta.get("namespace", "")),
        str(spec.get("serviceAccountName") or "default"),
        body,
        at,
    )
    return str(answer["status"]["token"]), at + 0.8 * expiration_seconds


def kubelet_tokens(
    issuer: TokenIssuer, get: Getter, error: type[Exception]
) -> Callable[[Obj, str, int], str]:
    """The kubelet's token source for projected ``serviceAccountToken`` volumes:
    (pod, audience, expirationSeconds) -> a token bound to the pod; a refusal raises
    ``error`` with kubelet's ``failed to fetch token: ...`` (pkg/volume/projected)."""

    def token(pod: Obj, audience: str, seconds: int) -> str:
        try:
            return pod_token(issuer, get, pod, audience=audience, expiration_seconds=seconds)[0]
        except errors.ApiError as e:
            raise error(f"failed to fetch token: {e.message}") from None

    return token


@dataclass(frozen=True)
class Authenticated:
    user: User
    audiences: tuple[str, ...]


class TokenAuthenticator:
    """Bound and legacy service account tokens (jwt.go, two issuers)."""

    def __init__(
        self, issuer: TokenIssuer, get: Getter, clock: Callable[[], float] = time.time
    ) -> None:
        self.issuer, self.get, self.clock = issuer, get, clock

    def authenticate(self, token: str, audiences: tuple[str, ...] = ()) -> Authenticated | None:
        """The user, or None when the token is not one of ours; raises
        :class:`claims.InvalidToken` for ours that is not valid."""
        parsed = jws.parse(token)
        if parsed is None:
            return None
        iss = parsed.claims.get("iss")
        if iss not in (self.issuer.issuer, cl.LEGACY_ISSUER):
            return None
        if not parsed.verified_by(self.issuer.key):
            raise cl.InvalidToken("invalid signature")
        wanted = audiences or self.issuer.api_audiences
        if iss == cl.LEGACY_ISSUER:
            user = self._legacy(token, parsed.claims)
            token_auds: list[str] = list(self.issuer.api_audiences)
        else:
            token_auds = cl.audiences_of(parsed.claims)
        common = tuple(a for a in token_auds if a in wanted)
        if not common:
            raise cl.InvalidToken(
                f"token audiences {_go_list(token_auds)} is invalid for the target audiences "
                f"{_go_list(list(wanted))}"
            )
        if iss != cl.LEGACY_ISSUER:
            user = self._bound(parsed.claims)
        return Authenticated(user, common)

    def review(
        self, token: str, audiences: tuple[str, ...]
    ) -> tuple[User | None, tuple[str, ...], str]:
        """:meth:`authenticate` as the union authenticator reports it: the user, the
        audiences, or the reason a token of ours is refused."""
        try:
            found = self.authenticate(token, audiences)
        except cl.InvalidToken as e:
            return None, (), f"[invalid bearer token, {e}]"
        if found is None:
            return None, (), ""
        return found.user, found.audiences, ""

    def _bound(self, claims: cl.Obj) -> User:
        now = self.clock()
        cl.check_times(claims, now)
        refs = cl.refs(claims)
        ns = refs.namespace
        cl.live("ServiceAccount", self.get("ServiceAccount", ns, refs.sa[0]), refs.sa, now)
        extra: list[tuple[str, tuple[str, ...]]] = []
        if refs.secret is not None:
            cl.live("Secret", self.get("Secret", ns, refs.secret[0]), refs.secret, now)
        if refs.pod is not None:
            cl.live("Pod", self.get("Pod", ns, refs.pod[0]), refs.pod, now)
            extra += [(cl.EXTRA_POD_NAME, (refs.pod[0],)), (cl.EXTRA_POD_UID, (refs.pod[1],))]
        if refs.node is not None:
            if refs.pod is None:  # a node-bound token dies with its node
                cl.live("Node", self.get("Node", None, refs.node[0]), refs.node, now)
            extra.append((cl.EXTRA_NODE_NAME, (refs.node[0],)))
            if refs.node[1]:
                extra.append((cl.EXTRA_NODE_UID, (refs.node[1],)))
        if refs.jti:
            extra.append((cl.EXTRA_CREDENTIAL_ID, (f"JTI={refs.jti}",)))
        return User(
            cl.username(ns, refs.sa[0]),
            (*cl.groups(ns), AUTHENTICATED),
            refs.sa[1],
            tuple(sorted(extra)),
        )

    def _legacy(self, token: str, claims: cl.Obj) -> User:
        """legacy.go ``Validate``: the Secret must still hold this very token."""
        ns = str(claims.get(cl.LEGACY_NS) or "")
        secret_name = str(claims.get(cl.LEGACY_SECRET) or "")
        sa_name = str(claims.get(cl.LEGACY_SA_NAME) or "")
        sa_uid = str(claims.get(cl.LEGACY_SA_UID) or "")
        if not (ns and secret_name and sa_name and sa_uid):
            raise cl.InvalidToken("service account token claims are incomplete")
        now = self.clock()
        secret = self.get("Secret", ns, secret_name)
        if secret is None:
            raise cl.InvalidToken("Token has been invalidated")
        stored = (secret.get("data") or {}).get("token") or ""
        if base64.b64decode(str(stored)) != token.encode():
            raise cl.InvalidToken("Token does not match server's copy")
        cl.live("ServiceAccount", self.get("ServiceAccount", ns, sa_name), (sa_name, sa_uid), now)
        return User(cl.username(ns, sa_name), (*cl.groups(ns), AUTHENTICATED), sa_uid)


def _go_list(items: list[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(f'"{i}"' for i in items) + "]"


def registry_getter(registry: Any) -> Getter:
    """A :data:`Getter` over the Registry (NotFound -> None)."""

    def get(kind: str, namespace: str | None, name: str) -> Obj | None:
        res = by_kind("", kind)
        if res is None or not name:
            return None
        try:
            obj: Obj = registry.get(res, namespace, name)
        except errors.ApiError as e:
            if e.code == 404:
                return None
            raise
        return obj

    return get
