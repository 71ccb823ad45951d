"""The pure parts of CRD support: structural schemas (pruning, defaulting, validation,
the structural check), CRD validation and naming, version priority, printer-column
JSONPath, server-side apply by the CRD's list types, and the served table's view in
discovery and OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from podnet.apiserver import apply, discovery, openapi, resources
from podnet.apiserver.crd import definition, jsonpath
from podnet.apiserver.crd import schema as crdschema
from podnet.apiserver.resources import Resource

Obj = dict[str, Any]
NOW = "2026-01-01T00:00:00Z"

SCHEMA: Obj = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 2},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"a": {"type": "string", "default": "x"}},
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "ios": {"x-kubernetes-int-or-string": True},
            },
        }
    },
}


def test_prune_keeps_root_meta_and_preserved_subtrees() -> None:
    obj: Obj = {
        "apiVersion": "a/v1",
        "kind": "K",
        "metadata": {"name": "n"},
        "top": 1,
        "spec": {
            "bogus": 1,
            "free": {"x": {"y": 1}},
            "labels": {"k": "v"},
            "ports": [{"name": "a", "z": 1}],
        },
    }
    found = crdschema.prune(obj, SCHEMA)
    assert sorted(found) == ["spec.bogus", "spec.ports[0].z", "top"]
    assert obj["spec"] == {"free": {"x": {"y": 1}}, "labels": {"k": "v"}, "ports": [{"name": "a"}]}
    assert obj["metadata"] == {"name": "n"}


def test_defaults_fill_depth_first() -> None:
    obj: Obj = {"spec": {}}
    crdschema.default(obj, SCHEMA)
    assert obj["spec"] == {"size": 2, "nested": {"a": "x"}}


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"size": "s"},
            "spec.size",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        ({"ports": [{"port": 1}]}, "spec.ports[0].name", "Required value"),
        (
            {"ports": [{"name": "a"}, {"name": "a"}]},
            "spec.ports[1]",
            'Duplicate value: {"name": "a"}',
        ),
        (
            {"labels": {"k": 1}},
            "spec.labels.k",
            'Invalid value: "integer": spec.labels.k in body must be of type string: "integer"',
        ),
        (
            {"ios": [1]},
            "spec.ios",
            'Invalid value: "array": spec.ios in body must be of type integer,string: "array"',
        ),
    ],
)
def test_validate_messages(spec: Obj, field: str, message: str) -> None:
    assert crdschema.validate({"spec": spec}, SCHEMA) == [
        (crdschema.validate({"spec": spec}, SCHEMA)[0][0], field, message)
    ]


def test_int_or_string_and_bounds() -> None:
    s: Obj = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 3}},
    }
    assert crdschema.validate({"n": 2}, s) == []
    assert crdschema.validate({"n": 2.0}, s) == []
    assert crdschema.validate({"spec": {"ios": "50%"}}, SCHEMA) == []
    (cause,) = crdschema.validate({"n": 0}, s)
    assert cause == (
        "FieldValueInvalid",
        "n",
        "Invalid value: 0: n in body should be greater than or equal to 1",
    )


def test_structural_check() -> None:
    bad: Obj = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {"properties": {"a": {"type": "array"}}},
        },
    }
    fields = [c[1] for c in crdschema.structural_causes(bad, "s")]
    assert fields == [
        "s.properties[metadata]",
        "s.properties[spec].type",
        "s.properties[spec].properties[a].items",
    ]
    assert crdschema.structural_causes(SCHEMA, "s") == []
    assert crdschema.structural_causes({"type": "string"}, "s")[0][2].endswith(
        "must be object at the root"
    )


def crd(**spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                }
            ],
            **spec,
        },
    }
    definition.apply_defaults(body)
    return body


def test_crd_validation() -> None:
    assert definition.validate(crd()) == []
    two = crd(
        versions=[
            {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA}},
            {"name": "v2", "served": True, "storage": True},
            {
                "name": "v1",
                "served": False,
                "storage": False,
                "schema": {"openAPIV3Schema": SCHEMA},
            },
        ]
    )
    causes = {(c[1], c[2]) for c in definition.validate(two)}
    assert (
        "spec.versions",
        "Invalid value: must have exactly one version marked as storage version",
    ) in causes
    assert (
        "spec.versions[1].schema.openAPIV3Schema",
        "Required value: schemas are required",
    ) in causes
    assert ("spec.versions", "Invalid value: must contain unique version names") in causes
    bad = crd(scope="Global", names={"plural": "Things", "kind": "Thing", "listKind": "Thing"})
    fields = [c[1] for c in definition.validate(bad)]
    assert fields == ["metadata.name", "spec.scope", "spec.names.plural", "spec.names.listKind"]


def test_accepted_names_and_served() -> None:
    mine = crd()
    accepted, reason, _ = definition.accepted_names(mine, [])
    assert reason == "NoConflicts"
    assert accepted == {
        "plural": "things",
        "singular": "thing",
        "kind": "Thing",
        "listKind": "ThingList",
    }
    assert definition.served(mine) == []  # not Established yet
    mine["status"] = {"acceptedNames": accepted}
    definition.set_condition(mine["status"], "Established", "True", "InitialNamesAccepted", "", NOW)
    (res,) = definition.served(mine)
    assert (res.group, res.version, res.plural, res.namespaced) == (
        "example.com",
        "v1",
        "things",
        False,
    )
    other = crd()
    other["metadata"]["name"] = "stuff.example.com"
    other["spec"]["names"] = {"plural": "stuff", "kind": "Stuff", "shortNames": ["thing"]}
    _, reason, message = definition.accepted_names(other, [mine])
    assert (reason, message) == ("ShortNamesConflict", '"thing" is already in use')


def test_version_priority() -> None:
    versions = ["v1alpha1", "foo", "v2beta1", "v1", "v10", "v2", "v1beta2", "v11alpha2"]
    assert sorted(versions, key=definition.version_priority) == [
        "v10",
        "v2",
        "v1",
        "v2beta1",
        "v1beta2",
        "v11alpha2",
        "v1alpha1",
        "foo",
    ]


def test_jsonpath_cells() -> None:
    obj: Obj = {
        "spec": {"a": {"b.c": 1}, "list": [{"n": "x", "v": 1}, {"n": "y", "v": 2}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }

    def col(path: str, typ: str = "string") -> Any:
        return jsonpath.cell(obj, {"jsonPath": path, "type": typ}, lambda t: "age")

    assert col('.status.conditions[?(@.type=="Ready")].status') == "True"
    assert col(".spec.list[1].v", "integer") == 2
    assert col(".spec.list[*].n") == "x"
    assert col(".spec.a['b.c']", "integer") == 1
    assert col(".spec.list[0]") == '{"n":"x","v":1}'
    assert col(".spec.missing") is None
    assert col(".spec.list[0].n", "integer") is None
    assert col(".spec.list[0].n", "date") == "age"


@pytest.fixture
def served() -> Iterator[Resource]:
    body = crd()
    accepted, _, _ = definition.accepted_names(body, [])
    body["status"] = {"acceptedNames": accepted}
    definition.set_condition(body["status"], "Established", "True", "InitialNamesAccepted", "", NOW)
    (res,) = definition.served(body)
    resources.set_custom([res])
    yield res
    resources.set_custom([])


def test_server_side_apply_merges_list_map_items(served: Resource) -> None:
    first = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"ports": [{"name": "a", "port": 1}]},
    }
    obj = apply.server_side_apply(served, None, first, "one", force=False, now=NOW)
    second = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"ports": [{"name": "b", "port": 2}]},
    }
    obj = apply.server_side_apply(served, obj, second, "two", force=False, now=NOW)
    assert obj["spec"]["ports"] == [{"name": "a", "port": 1}, {"name": "b", "port": 2}]
    clash = {**second, "spec": {"ports": [{"name": "a", "port": 9}]}}
    with pytest.raises(Exception) as e:
        apply.server_side_apply(served, obj, clash, "two", force=False, now=NOW)
    assert getattr(e.value, "code", None) == 409


def test_discovery_and_openapi_follow_the_table(served: Resource) -> None:
    listed = discovery.resource_list("example.com", "v1")
    assert listed is not None and listed["resources"][0]["name"] == "things"
    agg = discovery.aggregated("v2", False)
    entry = next(g for g in agg["items"] if g["metadata"]["name"] == "example.com")
    assert entry["versions"][0]["resources"][0]["scope"] == "Cluster"
    v2 = openapi.v2_document()
    thing = v2["definitions"]["com.example.v1.Thing"]
    assert thing["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Thing", "version": "v1"}
    ]
    assert "type" not in thing["properties"]["spec"]["properties"]["ios"]  # v2 has no int-or-string
    assert "/apis/example.com/v1/things/{name}" in v2["paths"]
    patch_types = v2["paths"]["/apis/example.com/v1/things/{name}"]["patch"]["consumes"]
    assert not any("strategic" in t for t in patch_types)
    v3 = openapi.v3_document("apis/example.com/v1")
    assert v3 is not None and "com.example.v1.ThingList" in json.loads(v3)["components"]["schemas"]
    assert "apis/example.com/v1" in openapi.v3_index()["paths"]
    resources.set_custom([])
    assert discovery.resource_list("example.com", "v1") is None
    assert openapi.v3_document("apis/example.com/v1") is None


def test_protected_groups_defaults_and_preserve_unknown() -> None:
    body = crd(group="things.k8s.io", preserveUnknownFields=True)
    body["metadata"]["name"] = "things.things.k8s.io"
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object",
        "properties": {"n": {"type": "integer", "default": "x"}},
    }
    causes = {c[1]: c[2] for c in definition.validate(body)}
    assert causes["metadata.annotations[api-approved.kubernetes.io]"].startswith(
        "Required value: protected groups must have approval annotation"
    )
    assert causes["spec.preserveUnknownFields"].endswith("in spec.versions[*].schema instead")
    default = "spec.versions[0].schema.openAPIV3Schema.properties[n].default"
    assert "must be of type integer" in causes[default]
    body["metadata"]["annotations"] = {"api-approved.kubernetes.io": "nope"}
    causes = {c[1]: c[2] for c in definition.validate(body)}
    assert 'Invalid value: "nope"' in causes["metadata.annotations[api-approved.kubernetes.io]"]
    body["metadata"]["annotations"] = {"api-approved.kubernetes.io": "https://k8s.io/x"}
    causes = {c[1]: c[2] for c in definition.validate(body)}
    assert "metadata.annotations[api-approved.kubernetes.io]" not in causes
