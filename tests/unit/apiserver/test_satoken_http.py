"""ServiceAccount tokens over HTTPS with a real ServerThread: TokenRequest (defaults,
validation, bound objects), authentication of the tokens (RBAC's 403 until a binding,
401 when expired, tampered, for another audience, or once the account or pod is gone),
TokenReview, the OIDC documents, and the pod's kube-api-access volume."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver import auth, certs, resources
from podnet.apiserver.certs import ServerTLS
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.apiserver.tokens import claims as cl
from podnet.apiserver.tokens import jws, keys
from podnet.apiserver.tokens.issuer import ISSUER

NS = "/api/v1/namespaces/default"
AUTHN = "/apis/authentication.k8s.io/v1"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _res(plural: str, group: str = "", version: str = "v1") -> resources.Resource:
    res = resources.by_path(group, version, plural)
    assert res is not None
    return res


@dataclass
class Api:
    port: int
    tls: ServerTLS
    registry: Registry

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        ctx = self.tls.client_context() if token is None else _ca_only(self.tls)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            hdrs = {"Content-Type": "application/json"}
            if token is not None:
                hdrs["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw.startswith(b"{") else raw
        finally:
            conn.close()

    def token(self, sa: str = "default", **spec: Any) -> str:
        code, out = self.call(
            "POST", f"{NS}/serviceaccounts/{sa}/token", {"spec": spec} if spec else {}
        )
        assert code == 201, out
        return str(out["status"]["token"])


def _ca_only(tls: ServerTLS) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.ca_cert))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    store = MemoryStore()
    tls = certs.ensure(tmp_path / "data")
    registry = Registry(store)
    server = ServerThread(
        registry, tls=tls, authenticator=auth.Authenticator(auth.ensure_token(tmp_path / "data"))
    )
    api = Api(server.start(), tls, registry)
    registry.create(_res("namespaces"), None, {"metadata": {"name": "default"}})
    registry.create(_res("serviceaccounts"), "default", {"metadata": {"name": "default"}})
    try:
        yield api
    finally:
        server.stop()
        store.close()


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def test_token_request_defaults_and_claims(api: Api) -> None:
    code, out = api.call("POST", f"{NS}/serviceaccounts/default/token", {})
    assert code == 201, out
    assert out["kind"] == "TokenRequest" and out["apiVersion"] == "authentication.k8s.io/v1"
    assert out["spec"]["expirationSeconds"] == 3600
    assert out["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert out["metadata"]["name"] == "default" and out["metadata"]["namespace"] == "default"
    claims = _claims(out["status"]["token"])
    sa = api.registry.get(_res("serviceaccounts"), "default", "default")
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "default", "uid": sa["metadata"]["uid"]},
    }
    assert claims["jti"]


def test_token_request_refusals(api: Api) -> None:
    code, out = api.call(
        "POST", f"{NS}/serviceaccounts/default/token", {"spec": {"expirationSeconds": 599}}
    )
    assert code == 422
    assert "may not specify a duration less than 10 minutes" in out["message"]
    code, out = api.call("POST", f"{NS}/serviceaccounts/nobody/token", {})
    assert code == 404 and out["message"] == 'serviceaccounts "nobody" not found'
    code, _ = api.call("GET", f"{NS}/serviceaccounts/default/token")
    assert code == 405
    bound = {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}
    code, out = api.call("POST", f"{NS}/serviceaccounts/default/token", {"spec": bound})
    assert code == 400 and "cannot bind token to object of type" in out["message"]


def test_token_is_authorized_by_rbac_then_revoked(api: Api) -> None:
    token = api.token()
    code, out = api.call("GET", f"{NS}/pods", token=token)
    assert code == 403
    assert out["message"] == (
        'pods is forbidden: User "system:serviceaccount:default:default" cannot list '
        'resource "pods" in API group "" in the namespace "default"'
    )
    api.registry.create(
        _res("rolebindings", "rbac.authorization.k8s.io"),
        "default",
        {
            "metadata": {"name": "sa-view"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
        },
    )
    code, out = api.call("GET", f"{NS}/pods", token=token)
    assert code == 200, out
    code, out = api.call(
        "POST",
        f"{AUTHN}/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        token=token,
    )
    assert code == 201 or code == 200, out
    info = out["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:default"
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    assert info["extra"]["authentication.kubernetes.io/credential-id"] == [
        "JTI=" + _claims(token)["jti"]
    ]
    api.registry.delete(_res("serviceaccounts"), "default", "default")
    code, _ = api.call("GET", f"{NS}/pods", token=token)
    assert code == 401
    # a new account of the same name has another uid: the old token stays dead
    api.registry.create(_res("serviceaccounts"), "default", {"metadata": {"name": "default"}})
    code, _ = api.call("GET", f"{NS}/pods", token=token)
    assert code == 401


def test_tampered_foreign_audience_and_garbage_tokens_are_401(api: Api) -> None:
    token = api.token()
    head, _body, sig = token.split(".")
    claims = _claims(token)
    claims["sub"] = "system:serviceaccount:kube-system:default"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged}.{sig}", "not-a-token", token + "x"):
        assert api.call("GET", "/api", token=bad)[0] == 401
    other = api.token(audiences=["vault"])
    assert api.call("GET", "/api", token=other)[0] == 401
    assert api.call("GET", "/api", token=token)[0] == 200


def test_expired_token_is_401(api: Api) -> None:
    """Signed by the cluster's key, but past exp (and go-jose's minute of leeway)."""
    sa = api.registry.get(_res("serviceaccounts"), "default", "default")
    key = keys.ensure(api.tls.ca_cert.parent)
    now = int(time.time())
    old = cl.bound(ISSUER, sa, [ISSUER], 600, now - 661)
    assert api.call("GET", "/api", token=jws.encode(old, key))[0] == 401
    fresh = cl.bound(ISSUER, sa, [ISSUER], 600, now - 500)
    assert api.call("GET", "/api", token=jws.encode(fresh, key))[0] == 200


def test_pod_bound_token_dies_with_the_pod_and_pod_gets_the_volume(api: Api) -> None:
    pods = _res("pods")
    pod = api.registry.create(
        pods,
        "default",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    (vol,) = spec["volumes"]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == 21
    sources = vol["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert spec["containers"][0]["volumeMounts"] == [
        {
            "name": vol["name"],
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    ]
    uid = pod["metadata"]["uid"]
    token = api.token(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": uid})
    assert _claims(token)["kubernetes.io"]["pod"] == {"name": "p", "uid": uid}
    code, out = api.call(
        "POST",
        f"{AUTHN}/tokenreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
    )
    assert code == 201 or code == 200, out
    assert out["status"]["authenticated"] is True
    assert out["status"]["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    code, out = api.call(
        "POST",
        f"{NS}/serviceaccounts/default/token",
        {
            "spec": {
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "nope"}
            }
        },
    )
    assert code == 409
    api.registry.delete(pods, "default", "p", grace_period=0)
    assert api.call("GET", "/api", token=token)[0] == 401
    code, out = api.call(
        "POST",
        f"{AUTHN}/tokenreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
    )
    assert out["status"].get("authenticated") is not True
    assert out["status"]["error"] == (
        "[invalid bearer token, service account token has been invalidated]"
    )


def test_automount_false_and_missing_named_account(api: Api) -> None:
    pods = _res("pods")
    pod = api.registry.create(
        pods,
        "default",
        {
            "metadata": {"name": "q"},
            "spec": {
                "automountServiceAccountToken": False,
                "containers": [{"name": "c", "image": "busybox"}],
            },
        },
    )
    assert not pod["spec"].get("volumes")
    code, out = api.call(
        "POST",
        f"{NS}/pods",
        {
            "metadata": {"name": "r"},
            "spec": {
                "serviceAccountName": "robot",
                "containers": [{"name": "c", "image": "busybox"}],
            },
        },
    )
    assert code == 403
    assert out["message"] == (
        'pods "r" is forbidden: error looking up service account default/robot: '
        'serviceaccount "robot" not found'
    )


def test_oidc_documents(api: Api) -> None:
    code, conf = api.call("GET", "/.well-known/openid-configuration")
    assert code == 200
    assert conf["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert conf["jwks_uri"] == "https://kubernetes.default.svc.cluster.local/openid/v1/jwks"
    code, jwks = api.call("GET", "/openid/v1/jwks")
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    token = api.token()
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"] == key["kid"]
    # the bootstrap role lets service accounts read them (system:serviceaccounts)
    assert api.call("GET", "/openid/v1/jwks", token=token)[0] == 200
