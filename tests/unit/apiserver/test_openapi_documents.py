"""OpenAPI documents: every served kind with its group-version-kind, references that
resolve, the parameters kubectl looks for, and a v2 protobuf that decodes (by a small
protobuf reader written here from the wire format) to the JSON document's content."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import pytest
from support.paths import PYTHONPATH

from podnet.apiserver import openapi
from podnet.apiserver.resources import RESOURCES, Resource, group_versions

Obj = dict[str, Any]


def _gvks(defs: Obj) -> dict[tuple[str, str, str], str]:
    return {
        (g["group"], g["version"], g["kind"]): name
        for name, d in defs.items()
        for g in d.get("x-kubernetes-group-version-kind", ())
    }


def _walk(s: Any) -> list[Obj]:
    out = []
    if isinstance(s, dict):
        out.append(s)
        for v in s.values():
            out.extend(_walk(v))
    elif isinstance(s, list):
        for v in s:
            out.extend(_walk(v))
    return out


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.kind}")
def test_every_served_kind_in_v2(res: Resource) -> None:
    defs = openapi.v2_document()["definitions"]
    gvks = _gvks(defs)
    # a create-only kind (SelfSubjectAccessReview, TokenReview) has no List
    kinds = (res.kind, res.list_kind) if "list" in res.verbs else (res.kind,)
    for kind in kinds:
        name = gvks[(res.group, res.version, kind)]
        props = defs[name]["properties"]
        assert set(props) >= {"apiVersion", "kind", "metadata"}
        assert "enum" not in props["kind"]


def test_v2_schema_form() -> None:
    """What kube-openapi's proto parser insists on: one type, ``#/definitions/``
    references that resolve and carry no type, arrays with items."""
    defs = openapi.v2_document()["definitions"]
    for schema in _walk(defs):
        if isinstance(schema.get("type"), (str, list)):
            assert isinstance(schema["type"], str), schema
            if schema["type"] == "array":
                assert isinstance(schema.get("items"), dict), schema
        ref = schema.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/definitions/") and ref[len("#/definitions/") :] in defs
            assert "type" not in schema and "properties" not in schema
    int_or_string = defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (int_or_string["type"], int_or_string["format"]) == ("string", "int-or-string")
    containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"


def test_policy_kinds_from_podnet_schema() -> None:
    defs = openapi.v2_document()["definitions"]
    anp = defs["io.k8s.networking.policy.v1alpha1.AdminNetworkPolicy"]
    spec = anp["properties"]["spec"]
    assert spec["required"] == ["priority", "subject"]
    assert spec["properties"]["priority"] == {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 1000,
    }
    assert anp["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    banp = defs["io.k8s.networking.policy.v1alpha1.BaselineAdminNetworkPolicy"]
    assert "priority" not in banp["properties"]["spec"]["properties"]


def _ops(doc: Obj) -> list[tuple[str, str, Obj]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def _names(op: Obj) -> set[str]:
    return {p["name"] for p in op.get("parameters", ())}


def test_v2_operations() -> None:
    doc = openapi.v2_document()
    ops = _ops(doc)
    actions = {op["x-kubernetes-action"] for _, _, op in ops}
    assert actions == {
        "get",
        "list",
        "post",
        "put",
        "patch",
        "delete",
        "deletecollection",
        "connect",
    }
    for path, _method, op in ops:
        assert "x-kubernetes-group-version-kind" in op, path
        action = op["x-kubernetes-action"]
        if action in ("post", "put", "patch"):
            assert _names(op) >= {"body", "dryRun", "fieldManager", "fieldValidation"}, path
        if action == "list":
            wanted = {"labelSelector", "fieldSelector", "limit", "continue", "watch"}
            assert _names(op) >= wanted | {"resourceVersion"}, path
    paths = doc["paths"]
    pod = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert pod["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "",
        "kind": "Pod",
        "version": "v1",
    }
    assert "application/strategic-merge-patch+json" in pod["patch"]["consumes"]
    assert {p["name"] for p in pod["parameters"]} == {"name", "namespace", "pretty"}
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["put"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    assert scale["get"]["operationId"] == "readAppsV1NamespacedDeploymentScale"
    assert "/api/v1/pods" in paths and "/api/v1/nodes/{name}" in paths
    anp = paths["/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in anp["consumes"]
    # create-only kinds (the reviews) have their collection path only, as upstream
    assert "post" in paths["/apis/authentication.k8s.io/v1/tokenreviews"]
    assert "/apis/authentication.k8s.io/v1/tokenreviews/{name}" not in paths
    for path, item in paths.items():
        assert set(item) - {"parameters"}, f"{path} has no operation"


def test_v3_index_and_documents() -> None:
    index = openapi.v3_index()["paths"]
    keys = [f"apis/{g}/{v}" if g else f"api/{v}" for g, v in group_versions()]
    assert list(index) == keys
    index_json = json.dumps(openapi.v3_index(), separators=(",", ":")).encode()
    assert openapi.v3_index_etag() == hashlib.sha512(index_json).hexdigest().upper()
    for key, entry in index.items():
        doc_bytes = openapi.v3_document(key)
        assert doc_bytes is not None
        digest = hashlib.sha512(doc_bytes).hexdigest().upper()
        assert entry["serverRelativeURL"] == f"/openapi/v3/{key}?hash={digest}"
        assert openapi.v3_etag(key) == digest
        doc = json.loads(doc_bytes)
        schemas = doc["components"]["schemas"]
        for schema in _walk(schemas) + _walk(doc["paths"]):
            ref = schema.get("$ref")
            if isinstance(ref, str):
                assert ref.removeprefix("#/components/schemas/") in schemas, (key, ref)
        group, _, version = key.removeprefix("apis/").removeprefix("api/").rpartition("/")
        served = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
        gvks = _gvks(schemas)
        for res in served:
            assert (res.group, res.version, res.kind) in gvks
        patches = [op for _, m, op in _ops(doc) if m == "patch"]
        assert patches or all("patch" not in r.verbs for r in served)
        for op in patches:  # kubectl 1.37's QueryParamVerifierV3 looks here
            assert {"name": "fieldValidation", "in": "query"}.items() <= next(
                p for p in op["parameters"] if p["name"] == "fieldValidation"
            ).items()
            assert "requestBody" in op
    assert openapi.v3_document("apis/apps/v1beta1") is None
    assert openapi.v3_etag("nope") is None


# --------------------------------------------------------------- the v2 protobuf


def _varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, i


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field of one message, in order."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((field, value))
        elif wire == 1:
            out.append((field, data[i : i + 8]))
            i += 8
        elif wire == 2:
            size, i = _varint(data, i)
            out.append((field, data[i : i + size]))
            i += size
        else:
            raise AssertionError(f"wire type {wire}")
    assert i == len(data)
    return out


def _one(data: bytes, field: int) -> bytes:
    values = [v for f, v in _fields(data) if f == field]
    assert len(values) == 1 and isinstance(values[0], bytes)
    return values[0]


def _named(data: bytes, field: int) -> dict[str, bytes]:
    """A repeated Named<T>{name 1, value 2} field as a dict."""
    out = {}
    for f, v in _fields(data):
        if f == field:
            assert isinstance(v, bytes)
            out[_one(v, 1).decode()] = _one(v, 2)
    return out


def test_v2_protobuf_decodes_to_the_json_document() -> None:
    doc = openapi.v2_document()
    pb = openapi.v2_protobuf()
    assert _one(pb, 1) == b"2.0"
    definitions = _named(_one(pb, 9), 1)
    assert list(definitions) == list(doc["definitions"])
    pod = definitions["io.k8s.api.core.v1.Pod"]
    assert _one(pod, 4).decode() == doc["definitions"]["io.k8s.api.core.v1.Pod"]["description"]
    extensions = {k: json.loads(_one(v, 2)) for k, v in _named(pod, 31).items()}
    assert extensions == {
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}]
    }
    props = _named(_one(pod, 25), 1)
    assert list(props) == list(doc["definitions"]["io.k8s.api.core.v1.Pod"]["properties"])
    assert _one(props["spec"], 1) == b"#/definitions/io.k8s.api.core.v1.PodSpec"
    spec = _named(_one(definitions["io.k8s.api.core.v1.PodSpec"], 25), 1)
    containers = spec["containers"]
    assert _one(_one(containers, 22), 1) == b"array"  # TypeItem
    ext = {k: json.loads(_one(v, 2)) for k, v in _named(containers, 31).items()}
    assert ext["x-kubernetes-patch-merge-key"] == "name"
    paths = _named(_one(pb, 8), 2)
    assert list(paths) == list(doc["paths"])
    patch = _one(paths["/api/v1/namespaces/{namespace}/pods/{name}"], 8)
    names = []
    for f, item in _fields(patch):
        if f == 8:  # ParametersItem -> Parameter -> body 1 | non-body 2 -> query 3
            assert isinstance(item, bytes)
            param = _one(item, 1)
            kinds = dict(_fields(param))
            if 2 in kinds:
                sub = _one(_one(param, 2), 3)
                names.append(_one(sub, 4).decode())
    assert "fieldValidation" in names and "dryRun" in names


def test_v2_etag_and_json() -> None:
    assert json.loads(openapi.v2_json()) == openapi.v2_document()
    assert openapi.v2_etag() == hashlib.sha512(openapi.v2_json()).hexdigest().upper()


def test_built_lazily() -> None:
    """Importing the module builds nothing: ``podnet up`` pays on the first request."""
    code = (
        "from podnet.apiserver import openapi, discovery\n"
        "assert openapi.v2_document.cache_info().currsize == 0\n"
        "assert openapi._shipped.cache_info().currsize == 0\n"
        "assert discovery.aggregated.cache_info().currsize == 0\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": PYTHONPATH},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
