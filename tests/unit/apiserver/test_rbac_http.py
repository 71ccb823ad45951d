"""RBAC over HTTPS with a real ServerThread: impersonation headers, the 403 Status, the
review kinds answered and never stored (405 on list, 404 on an item), their
validation, TokenReview, and the bootstrap roles created once at start."""

from __future__ import annotations

import http.client
import json
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

AUTHZ = "/apis/authorization.k8s.io/v1"
AUTHN = "/apis/authentication.k8s.io/v1"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@dataclass
class Api:
    port: int
    tls: ServerTLS
    token: str
    store: MemoryStore
    registry: Registry

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.tls.client_context(), timeout=10
        )
        try:
            data = None if body is None else json.dumps(body).encode()
            hdrs = {"Content-Type": "application/json"} | (headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw.startswith(b"{") else raw
        finally:
            conn.close()


def _start(tmp: Path, store: MemoryStore) -> tuple[ServerThread, Api]:
    tls = certs.ensure(tmp / "data")
    token = auth.ensure_token(tmp / "data")
    registry = Registry(store)
    server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
    return server, Api(server.start(), tls, token, store, registry)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    store = MemoryStore()
    server, api = _start(tmp_path, store)
    ns = resources.by_path("", "v1", "namespaces")
    assert ns is not None
    api.registry.create(ns, None, {"metadata": {"name": "default"}})
    try:
        yield api
    finally:
        server.stop()
        store.close()


def _ssar(**attrs: str) -> dict[str, Any]:
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": attrs},
    }


def test_jane_is_forbidden_with_upstreams_status(api: Api) -> None:
    code, body = api.call(
        "GET", "/api/v1/namespaces/default/pods", headers={"Impersonate-User": "jane"}
    )
    assert code == 403
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
        'namespace "default"'
    )
    assert body["details"] == {"kind": "pods"}
    code, body = api.call("GET", "/metrics", headers={"Impersonate-User": "jane"})
    assert (code, body["message"]) == (403, 'forbidden: User "jane" cannot get path "/metrics"')
    # discovery is every authenticated user's (system:discovery)
    assert api.call("GET", "/apis", headers={"Impersonate-User": "jane"})[0] == 200
    code, body = api.call("GET", "/api/v1/pods", headers={"Impersonate-Group": "dev"})
    assert code == 500 and "without impersonating a user" in body["message"]


def test_a_rolebinding_lets_jane_read_pods(api: Api) -> None:
    role = {
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    }
    assert api.call("POST", f"{RBAC}/namespaces/default/roles", role)[0] == 201
    binding = {
        "metadata": {"name": "jane-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    assert api.call("POST", f"{RBAC}/namespaces/default/rolebindings", binding)[0] == 201
    as_jane = {"Impersonate-User": "jane"}
    assert api.call("GET", "/api/v1/namespaces/default/pods", headers=as_jane)[0] == 200
    code, body = api.call(
        "POST",
        f"{AUTHZ}/selfsubjectaccessreviews",
        _ssar(verb="list", resource="pods", namespace="default"),
        as_jane,
    )
    assert code == 201
    assert body["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "jane-reads/default" of Role "pod-reader" '
        'to User "jane"',
    }
    code, body = api.call(
        "POST",
        f"{AUTHZ}/selfsubjectaccessreviews",
        _ssar(verb="delete", resource="pods", namespace="default"),
        as_jane,
    )
    assert (code, body["status"]) == (201, {"allowed": False})
    # the same question about jane, asked by the admin
    sar = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "jane",
            "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"},
        },
    }
    code, body = api.call("POST", f"{AUTHZ}/subjectaccessreviews", sar)
    assert code == 201 and body["status"]["allowed"] is True
    rules = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": "default"},
    }
    code, body = api.call("POST", f"{AUTHZ}/selfsubjectrulesreviews", rules, as_jane)
    assert code == 201
    assert {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]} in body["status"][
        "resourceRules"
    ]


def test_reviews_are_never_stored(api: Api) -> None:
    before = api.registry.list(resources.by_path("", "v1", "namespaces"), None).resource_version  # type: ignore[arg-type]
    code, body = api.call(
        "POST", f"{AUTHZ}/selfsubjectaccessreviews", _ssar(verb="list", resource="pods")
    )
    assert code == 201 and body["status"]["allowed"] is True
    assert "resourceVersion" not in body["metadata"]
    after = api.registry.list(resources.by_path("", "v1", "namespaces"), None).resource_version  # type: ignore[arg-type]
    assert before == after  # nothing was written
    code, body = api.call("GET", f"{AUTHZ}/selfsubjectaccessreviews")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = api.call("GET", f"{AUTHZ}/selfsubjectaccessreviews/x")
    assert (code, body["reason"]) == (404, "NotFound")


def test_review_validation(api: Api) -> None:
    bad = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {}}
    code, body = api.call("POST", f"{AUTHZ}/subjectaccessreviews", bad)
    assert code == 422
    assert {c["field"] for c in body["details"]["causes"]} == {
        "spec.resourceAttributes",
        "spec.user",
    }
    lsar: dict[str, Any] = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "LocalSubjectAccessReview",
        "spec": {
            "user": "jane",
            "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "other"},
        },
    }
    code, body = api.call("POST", f"{AUTHZ}/namespaces/default/localsubjectaccessreviews", lsar)
    assert (
        code == 422 and body["details"]["causes"][0]["field"] == "spec.resourceAttributes.namespace"
    )
    lsar["spec"]["resourceAttributes"]["namespace"] = "default"
    code, body = api.call("POST", f"{AUTHZ}/namespaces/default/localsubjectaccessreviews", lsar)
    assert (code, body["status"]["allowed"]) == (201, False)


def test_token_and_self_subject_reviews(api: Api) -> None:
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": api.token},
    }
    code, body = api.call("POST", f"{AUTHN}/tokenreviews", review)
    assert code == 201 and body["status"]["authenticated"] is True
    assert body["status"]["user"] == {
        "username": "podnet-admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    review["spec"] = {"token": "nope"}
    code, body = api.call("POST", f"{AUTHN}/tokenreviews", review)
    assert (code, body["status"]) == (201, {"user": {}})
    ssr = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    headers = {
        "Impersonate-User": "jane",
        "Impersonate-Group": "dev",
        "Impersonate-Extra-Scopes": "a",
    }
    code, body = api.call("POST", f"{AUTHN}/selfsubjectreviews", ssr, headers)
    assert code == 201
    assert body["status"]["userInfo"] == {
        "username": "jane",
        "groups": ["dev", "system:authenticated"],
        "extra": {"scopes": ["a"]},
    }


def test_bootstrap_roles_are_made_once_and_edits_kept(tmp_path: Path) -> None:
    store = MemoryStore()
    server, api = _start(tmp_path, store)
    try:
        code, body = api.call("GET", f"{RBAC}/clusterroles/view")
        assert (
            code == 200
            and body["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        )
        assert body["aggregationRule"]["clusterRoleSelectors"] == [
            {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
        ]
        body["metadata"]["labels"]["edited"] = "yes"
        assert api.call("PUT", f"{RBAC}/clusterroles/view", body)[0] == 200
        # a default that lost a rule gets it back at the next start; one marked
        # autoupdate "false" is left alone
        code, basic = api.call("GET", f"{RBAC}/clusterroles/system:basic-user")
        basic["rules"] = basic["rules"][:1]
        assert api.call("PUT", f"{RBAC}/clusterroles/system:basic-user", basic)[0] == 200
        code, disc = api.call("GET", f"{RBAC}/clusterroles/system:discovery")
        disc["rules"] = []
        disc["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
        assert api.call("PUT", f"{RBAC}/clusterroles/system:discovery", disc)[0] == 200
        code, crb = api.call("GET", f"{RBAC}/clusterrolebindings/system:public-info-viewer")
        assert [s["name"] for s in crb["subjects"]] == [
            "system:authenticated",
            "system:unauthenticated",
        ]
    finally:
        server.stop()
    server, api = _start(tmp_path, store)
    try:
        code, body = api.call("GET", f"{RBAC}/clusterroles/view")
        assert body["metadata"]["labels"]["edited"] == "yes"
        code, basic = api.call("GET", f"{RBAC}/clusterroles/system:basic-user")
        assert {
            "verbs": ["create"],
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["selfsubjectreviews"],
        } in basic["rules"]
        code, disc = api.call("GET", f"{RBAC}/clusterroles/system:discovery")
        assert disc["rules"] == []
    finally:
        server.stop()
        store.close()


def test_exec_by_get_also_needs_create(api: Api) -> None:
    role = {
        "metadata": {"name": "exec-get"},
        "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}],
    }
    assert api.call("POST", f"{RBAC}/namespaces/default/roles", role)[0] == 201
    binding = {
        "metadata": {"name": "exec-get"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "exec-get"},
        "subjects": [{"kind": "User", "name": "jane"}],
    }
    assert api.call("POST", f"{RBAC}/namespaces/default/rolebindings", binding)[0] == 201
    path = "/api/v1/namespaces/default/pods/p/exec?command=sh&stdout=1"
    code, body = api.call("GET", path, headers={"Impersonate-User": "jane"})
    assert code == 403
    assert body["message"] == (
        'pods "p" is forbidden: User "jane" cannot create resource "pods/exec" in API group '
        '"" in the namespace "default"'
    )
