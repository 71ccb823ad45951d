"""CustomResourceDefinitions over the real Registry with the controllers running: a CRD
becomes Established and served; its custom resources are pruned, defaulted, validated,
get generations, scale, tables; deleting the CRD deletes them and unserves it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from support.ctrl_loop import CONFIGMAPS, NAMESPACES, running, wait_for

from podnet.apiserver import discovery, resources, tables
from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind, by_path

Obj = dict[str, Any]
_CRDS = by_kind("apiextensions.k8s.io", "CustomResourceDefinition")
assert _CRDS is not None
CRDS: Resource = _CRDS


def crd_body(scope: str = "Namespaced", **version: Any) -> Obj:
    v: Obj = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {
                            "size": {"type": "integer", "minimum": 1, "maximum": 10},
                            "color": {"type": "string", "enum": ["red", "blue"]},
                            "mode": {"type": "string", "default": "fast"},
                            "replicas": {"type": "integer"},
                            "free": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    },
                    "status": {
                        "type": "object",
                        "properties": {
                            "ready": {"type": "boolean"},
                            "replicas": {"type": "integer"},
                        },
                    },
                },
            }
        },
        **version,
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["all"],
            },
            "versions": [v],
        },
    }


def widget(name: str = "w", **spec: Any) -> Obj:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": 3, **spec},
    }


@pytest.fixture
def cluster() -> Iterator[Registry]:
    with running(nodes=1) as (registry, _):
        yield registry
    resources.set_custom([])


def established(registry: Registry, *, sub: tuple[str, ...] = ()) -> Resource:
    def served() -> Resource | None:
        r = by_path("example.com", "v1", "widgets")
        return r if r is not None and r.subresources == sub else None

    found = wait_for(served, what="widgets served")
    assert found is not None
    return found


def code(e: pytest.ExceptionInfo[ApiError]) -> int:
    return e.value.code


def test_established_conditions_and_discovery(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body())
    res = established(cluster)
    crd = cluster.get(CRDS, None, "widgets.example.com")
    conds = {c["type"]: (c["status"], c["reason"]) for c in crd["status"]["conditions"]}
    assert conds == {
        "NamesAccepted": ("True", "NoConflicts"),
        "Established": ("True", "InitialNamesAccepted"),
    }
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["names"]["listKind"] == "WidgetList"  # defaulted
    assert res.namespaced and res.short_names == ("wd",) and res.categories == ("all",)
    listed = discovery.resource_list("example.com", "v1")
    assert listed is not None
    assert listed["resources"][0]["name"] == "widgets"
    assert listed["resources"][0]["singularName"] == "widget"
    groups = [g["name"] for g in discovery.api_group_list()["groups"]]
    assert "example.com" in groups
    agg = discovery.aggregated("v2", False)
    names = [g["metadata"]["name"] for g in agg["items"]]
    assert "example.com" in names


def test_custom_resource_prune_default_validate_generation(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body())
    res = established(cluster)
    body = widget(extra="dropped", free={"anything": 1})
    obj = cluster.create(res, "default", body)
    assert "extra" not in obj["spec"]
    assert obj["spec"]["mode"] == "fast"
    assert obj["spec"]["free"] == {"anything": 1}
    assert obj["metadata"]["generation"] == 1
    with pytest.raises(ApiError) as e:
        cluster.create(res, "default", widget("bad", size=20, color="green"))
    assert code(e) == 422
    fields = {c["field"]: c["message"] for c in e.value.status()["details"]["causes"]}
    assert fields["spec.size"].endswith("spec.size in body should be less than or equal to 10")
    assert fields["spec.color"].startswith('Unsupported value: "green"')
    with pytest.raises(ApiError) as e:
        cluster.create(res, "default", {**widget("nosize"), "spec": {}})
    assert {c["field"] for c in e.value.status()["details"]["causes"]} == {"spec.size"}
    with pytest.raises(ApiError) as e:
        cluster.create(res, "default", widget("strict", bogus=1), field_validation="Strict")
    assert code(e) == 400 and 'unknown field "spec.bogus"' in e.value.message
    # no status subresource: a spec change and a status change both bump the generation
    fresh = copy.deepcopy(obj)
    fresh["spec"]["size"] = 4
    obj = cluster.update(res, "default", "w", fresh)
    assert obj["metadata"]["generation"] == 2
    fresh = copy.deepcopy(obj)
    fresh["metadata"]["labels"] = {"a": "b"}
    assert cluster.update(res, "default", "w", fresh)["metadata"]["generation"] == 2


def test_status_and_scale_subresources(cluster: Registry) -> None:
    subs = {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
        },
    }
    cluster.create(CRDS, None, crd_body(subresources=subs))
    res = established(cluster, sub=("scale", "status"))
    obj = cluster.create(res, "default", {**widget(replicas=1), "status": {"ready": True}})
    assert "status" not in obj
    fresh = copy.deepcopy(obj)
    fresh["status"] = {"ready": True, "replicas": 1}
    after = cluster.update(res, "default", "w", fresh, subresource="status")
    assert after["status"] == {"ready": True, "replicas": 1}
    assert after["metadata"]["generation"] == 1
    fresh = copy.deepcopy(after)
    fresh["status"] = {"ready": False}
    fresh["metadata"]["labels"] = {"x": "y"}
    after = cluster.update(res, "default", "w", fresh)  # status ignored on the main resource
    assert after["status"]["ready"] is True and after["metadata"]["generation"] == 1
    with pytest.raises(ApiError) as e:
        bad = copy.deepcopy(after)
        bad["status"] = {"ready": "yes"}
        cluster.update(res, "default", "w", bad, subresource="status")
    assert code(e) == 422
    scale = cluster.get(res, "default", "w", subresource="scale")
    assert scale["spec"]["replicas"] == 1 and scale["status"]["replicas"] == 1
    scale["spec"]["replicas"] = 5
    cluster.update(res, "default", "w", scale, subresource="scale")
    got = cluster.get(res, "default", "w")
    assert got["spec"]["replicas"] == 5 and got["metadata"]["generation"] == 2


def test_printer_columns_table(cluster: Registry) -> None:
    cols = [
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    cluster.create(CRDS, None, crd_body(additionalPrinterColumns=cols))

    def with_columns() -> Resource | None:
        r = by_path("example.com", "v1", "widgets")
        return r if r is not None and r.custom is not None and r.custom.columns else None

    res = wait_for(with_columns, what="columns")
    assert res is not None
    obj = cluster.create(res, "default", widget(color="red"))
    t = tables.table(res, [obj], now=cluster.clock() + 120)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Size", "Color", "Age"]
    assert t["rows"][0]["cells"] == ["w", 3, "red", "2m"]


def test_crd_validation_causes(cluster: Registry) -> None:
    bad = crd_body()
    bad["metadata"]["name"] = "wrong.example.com"
    bad["spec"]["group"] = "nodot"
    bad["spec"]["versions"][0]["storage"] = False
    del bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"]
    with pytest.raises(ApiError) as e:
        cluster.create(CRDS, None, bad)
    assert code(e) == 422
    fields = {c["field"] for c in e.value.status()["details"]["causes"]}
    assert {
        "metadata.name",
        "spec.group",
        "spec.versions",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
    } <= fields
    cluster.create(CRDS, None, crd_body())
    established(cluster)
    crd = cluster.get(CRDS, None, "widgets.example.com")
    changed = copy.deepcopy(crd)
    changed["spec"]["scope"] = "Cluster"
    with pytest.raises(ApiError) as e:
        cluster.update(CRDS, None, "widgets.example.com", changed)
    assert [c["field"] for c in e.value.status()["details"]["causes"]] == ["spec.scope"]


def test_names_conflict(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body())
    established(cluster)
    other = crd_body()
    other["metadata"]["name"] = "gadgets.example.com"
    other["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Widget"}
    cluster.create(CRDS, None, other)

    def refused() -> Obj | None:
        got = cluster.get(CRDS, None, "gadgets.example.com")
        conds = {c["type"]: c for c in (got.get("status") or {}).get("conditions") or ()}
        return conds if "NamesAccepted" in conds else None

    conds = wait_for(refused, what="names refused")
    assert conds is not None
    assert conds["NamesAccepted"]["reason"] == "KindConflict"
    assert conds["Established"]["status"] == "False"
    assert by_path("example.com", "v1", "gadgets") is None


def test_delete_crd_deletes_objects_and_unserves(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body())
    res = established(cluster)
    cluster.create(res, "default", widget("a"))
    cluster.create(
        res, "default", {**widget("b"), "metadata": {"name": "b", "finalizers": ["x/y"]}}
    )
    cluster.delete(CRDS, None, "widgets.example.com")
    crd = cluster.get(CRDS, None, "widgets.example.com")
    assert "customresourcecleanup.apiextensions.k8s.io" in crd["metadata"]["finalizers"]
    wait_for(lambda: by_path("example.com", "v1", "widgets").custom.terminating, what="terminating")  # type: ignore[union-attr]
    with pytest.raises(ApiError) as e:
        cluster.create(res, "default", widget("c"))
    wait_for(lambda: len(cluster.list(res, None).items) == 1, what="a deleted")
    b = cluster.get(res, "default", "b")
    b["metadata"]["finalizers"] = []
    cluster.update(res, "default", "b", b)
    wait_for(lambda: by_path("example.com", "v1", "widgets") is None, what="unserved")
    with pytest.raises(ApiError) as e:
        cluster.get(CRDS, None, "widgets.example.com")
    assert code(e) == 404
    assert discovery.resource_list("example.com", "v1") is None


def test_gc_and_namespace_deletion(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body())
    res = established(cluster)
    cluster.create(NAMESPACES, None, {"metadata": {"name": "gone"}})
    owner = cluster.create(CONFIGMAPS, "default", {"metadata": {"name": "owner"}})
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    dep = widget("dep")
    dep["metadata"]["ownerReferences"] = [ref]
    cluster.create(res, "default", dep)
    cluster.create(res, "gone", widget("in-ns"))
    cluster.delete(CONFIGMAPS, "default", "owner")
    wait_for(lambda: not cluster.list(res, "default").items, what="dependent collected")
    cluster.delete(NAMESPACES, None, "gone")
    wait_for(lambda: not cluster.list(res, "gone").items, what="namespace emptied")


def test_cluster_scoped_and_metadata_checks(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body(scope="Cluster"))
    res = established(cluster)
    assert not res.namespaced
    obj = cluster.create(res, None, widget("global"))
    assert "namespace" not in obj["metadata"]
    assert [o["metadata"]["name"] for o in cluster.list(res, None).items] == ["global"]
    with pytest.raises(ApiError) as e:
        cluster.create(res, None, widget("Bad_Name"))
    assert code(e) == 422
    assert [c["field"] for c in e.value.status()["details"]["causes"]] == ["metadata.name"]


def test_two_versions_share_storage(cluster: Registry) -> None:
    body = crd_body()
    v1 = body["spec"]["versions"][0]
    body["spec"]["versions"] = [{**v1, "name": "v1beta1", "storage": False}, v1]
    cluster.create(CRDS, None, body)
    established(cluster)
    beta = wait_for(lambda: by_path("example.com", "v1beta1", "widgets"), what="v1beta1")
    assert beta is not None
    assert by_kind("example.com", "Widget") == by_path("example.com", "v1", "widgets")
    group = next(g for g in discovery.api_group_list()["groups"] if g["name"] == "example.com")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    assert group["preferredVersion"]["version"] == "v1"
    cluster.create(beta, "default", {**widget("old"), "apiVersion": "example.com/v1beta1"})
    v1_res = by_path("example.com", "v1", "widgets")
    assert v1_res is not None
    assert [o["metadata"]["name"] for o in cluster.list(v1_res, "default").items] == ["old"]


def test_names_freed_by_a_deleted_crd(cluster: Registry) -> None:
    cluster.create(CRDS, None, crd_body())
    established(cluster)
    other = crd_body()
    other["metadata"]["name"] = "gizmos.example.com"
    other["spec"]["names"] = {"plural": "gizmos", "singular": "gizmo", "kind": "Widget"}
    cluster.create(CRDS, None, other)
    wait_for(
        lambda: (cluster.get(CRDS, None, "gizmos.example.com").get("status") or {}).get(
            "conditions"
        ),
        what="gizmos refused",
    )
    assert by_path("example.com", "v1", "gizmos") is None
    cluster.delete(CRDS, None, "widgets.example.com")
    gizmos = wait_for(lambda: by_path("example.com", "v1", "gizmos"), what="gizmos served")
    assert gizmos is not None and gizmos.kind == "Widget"
