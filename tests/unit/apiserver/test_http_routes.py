"""URL -> request info as requestinfo.go parses it, and the 404/405 of what is not served."""

from __future__ import annotations

import pytest

from podnet.apiserver import errors
from podnet.apiserver.http import negotiate
from podnet.apiserver.http.routes import request_info, resolve

PARSE = [
    # method, path, query, (verb, group, version, namespace, resource, name, subresource)
    ("GET", "/api/v1/namespaces", {}, ("list", "", "v1", "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/x", {}, ("get", "", "v1", "x", "namespaces", "x", "")),
    (
        "PUT",
        "/api/v1/namespaces/x/finalize",
        {},
        ("update", "", "v1", "x", "namespaces", "x", "finalize"),
    ),
    ("GET", "/api/v1/namespaces/x/status", {}, ("get", "", "v1", "x", "namespaces", "x", "status")),
    ("GET", "/api/v1/namespaces/ns/pods", {}, ("list", "", "v1", "ns", "pods", "", "")),
    (
        "GET",
        "/api/v1/namespaces/ns/pods",
        {"watch": "1"},
        ("watch", "", "v1", "ns", "pods", "", ""),
    ),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns/pods", {}, ("watch", "", "v1", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, ("get", "", "v1", "ns", "pods", "p", "log")),
    ("POST", "/api/v1/namespaces/ns/pods", {}, ("create", "", "v1", "ns", "pods", "", "")),
    (
        "DELETE",
        "/api/v1/namespaces/ns/pods",
        {},
        ("deletecollection", "", "v1", "ns", "pods", "", ""),
    ),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", {}, ("delete", "", "v1", "ns", "pods", "p", "")),
    (
        "PATCH",
        "/apis/apps/v1/namespaces/ns/deployments/d/scale",
        {},
        ("patch", "apps", "v1", "ns", "deployments", "d", "scale"),
    ),
    ("GET", "/apis/apps/v1/deployments", {}, ("list", "apps", "v1", "", "deployments", "", "")),
    ("GET", "/api/v1/nodes/n", {}, ("get", "", "v1", "", "nodes", "n", "")),
]


@pytest.mark.parametrize(("method", "path", "query", "want"), PARSE)
def test_request_info(method: str, path: str, query: dict[str, str], want: tuple[str, ...]) -> None:
    info = request_info(method, path, query)
    assert info.is_resource
    got = (info.verb, info.group, info.version, info.namespace, info.resource, info.name)
    assert (*got, info.subresource) == want


@pytest.mark.parametrize(
    "path", ["/", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/livez"]
)
def test_non_resource_paths(path: str) -> None:
    assert not request_info("GET", path, {}).is_resource


def test_scope() -> None:
    t = resolve(request_info("GET", "/api/v1/namespaces/x", {}))
    assert (t.res.plural, t.namespace, t.verb) == ("namespaces", None, "get")
    t = resolve(request_info("GET", "/api/v1/pods", {}))
    assert (t.res.plural, t.namespace, t.verb) == ("pods", None, "list")
    t = resolve(request_info("POST", "/api/v1/namespaces/a/configmaps", {}))
    assert (t.res.plural, t.namespace, t.verb) == ("configmaps", "a", "create")


NOT_FOUND = [
    ("GET", "/api/v1/namespaces/a/widgets"),
    ("GET", "/apis/apps/v2/deployments"),
    ("GET", "/apis/nope/v1/things"),
    ("GET", "/api/apps/v1/deployments"),  # a named group under /api
    ("GET", "/apis/v1/pods/x"),  # the core group under /apis
    ("GET", "/api/v1/namespaces/a/nodes"),  # cluster-scoped under a namespace
    ("GET", "/api/v1/pods/p"),  # a namespaced object without its namespace
    ("GET", "/api/v1/namespaces/a/pods/p/nonsense"),
    ("GET", "/api/v1/namespaces/a/configmaps/c/status"),
]


@pytest.mark.parametrize(("method", "path"), NOT_FOUND)
def test_unknown_paths_are_404(method: str, path: str) -> None:
    with pytest.raises(errors.ApiError) as e:
        resolve(request_info(method, path, {}))
    assert e.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "code": 404,
    }


METHOD_NOT_ALLOWED = [
    ("DELETE", "/api/v1/namespaces"),  # namespaces have no deletecollection
    ("POST", "/api/v1/pods"),  # the all-namespaces path only lists and watches
    ("DELETE", "/api/v1/namespaces/a/pods/p/log"),
    ("OPTIONS", "/api/v1/namespaces/a/pods"),
]


@pytest.mark.parametrize(("method", "path"), METHOD_NOT_ALLOWED)
def test_verbs_a_resource_lacks_are_405(method: str, path: str) -> None:
    with pytest.raises(errors.ApiError) as e:
        resolve(request_info(method, path, {}))
    assert (e.value.code, e.value.reason) == (405, "MethodNotAllowed")


def test_a_bad_watch_flag_is_400() -> None:
    with pytest.raises(errors.ApiError) as e:
        request_info("GET", "/api/v1/pods", {"watch": "yes"})
    assert e.value.code == 400


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
KUBECTL_120 = f"{TABLE},application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


@pytest.mark.parametrize(
    ("accept", "table", "yaml", "want_table"),
    [
        (None, True, False, None),
        ("*/*", True, False, None),
        ("application/json", True, False, None),
        ("application/yaml", True, True, None),
        (KUBECTL_120, True, False, "v1"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", True, False, "v1beta1"),
        (KUBECTL_120, False, False, None),  # a write: the Table clauses are skipped
        ("application/vnd.kubernetes.protobuf, application/json", True, False, None),
        ("application/json;q=0.5, application/yaml", True, True, None),
        ("application/json;as=Table;v=v2;g=meta.k8s.io, application/json", True, False, None),
    ],
)
def test_output_negotiation(
    accept: str | None, table: bool, yaml: bool, want_table: str | None
) -> None:
    out = negotiate.output(accept, allow_table=table)
    assert (out.yaml, out.table_version) == (yaml, want_table)


@pytest.mark.parametrize(
    "accept",
    [
        "application/vnd.kubernetes.protobuf",
        "application/json;as=Table;v=v1;g=meta.k8s.io",  # for a write
        "text/html",
    ],
)
def test_nothing_served_is_406(accept: str) -> None:
    with pytest.raises(errors.ApiError) as e:
        negotiate.output(accept, allow_table=False)
    assert (e.value.code, e.value.reason) == (406, "NotAcceptable")


def test_body_types() -> None:
    assert negotiate.body_type("application/json; charset=utf-8") == "application/json"
    assert negotiate.body_type("application/yaml") == "application/yaml"
    assert negotiate.body_type(None) == "application/json"
    t = "application/strategic-merge-patch+json"
    assert negotiate.body_type(t, patch=True) == t
    protobuf = "application/vnd.kubernetes.protobuf"
    assert negotiate.body_type(protobuf) == protobuf
    with pytest.raises(errors.ApiError) as e:
        negotiate.body_type("text/plain")
    assert e.value.code == 415 and protobuf in e.value.message
    with pytest.raises(errors.ApiError) as e:
        negotiate.body_type("application/json", patch=True)
    assert e.value.code == 415
