"""Discovery documents: every served resource where kubectl's RESTMapper looks for it,
shaped as kube-apiserver serves them, and aggregated discovery negotiated by Accept."""

from __future__ import annotations

import pytest

from podnet.apiserver import discovery
from podnet.apiserver.resources import RESOURCES, Resource, group_versions

# What kubectl 1.37 sends to /api and /apis (recorded from the real binary).
KUBECTL_137 = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)


def test_api_versions() -> None:
    doc = discovery.api_versions("127.0.0.1:6443")
    assert doc["kind"] == "APIVersions" and doc["versions"] == ["v1"]
    assert doc["serverAddressByClientCIDRs"] == [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
    ]
    assert discovery.api_versions()["serverAddressByClientCIDRs"] == []


def test_group_list_has_every_named_group_once() -> None:
    doc = discovery.api_group_list()
    assert (doc["kind"], doc["apiVersion"]) == ("APIGroupList", "v1")
    served = [(g, v) for g, v in group_versions() if g]
    listed = [(g["name"], v["version"]) for g in doc["groups"] for v in g["versions"]]
    assert listed == served
    for g in doc["groups"]:
        assert g["preferredVersion"] == g["versions"][0]
        assert g["preferredVersion"]["groupVersion"] == f"{g['name']}/{g['versions'][0]['version']}"


def _entry(res: Resource, name: str) -> dict[str, object]:
    lst = discovery.resource_list(res.group, res.version)
    assert lst is not None
    return next(e for e in lst["resources"] if e["name"] == name)


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.plural}")
def test_every_resource_in_its_list(res: Resource) -> None:
    lst = discovery.resource_list(res.group, res.version)
    assert lst is not None and lst["groupVersion"] == res.group_version
    e = _entry(res, res.plural)
    assert e["kind"] == res.kind and e["namespaced"] == res.namespaced
    assert e["singularName"] == res.kind.lower()
    assert e["verbs"] == sorted(res.verbs)
    assert e.get("shortNames", []) == list(res.short_names)
    assert e.get("categories", []) == list(res.categories)
    assert e["storageVersionHash"] == discovery.storage_version_hash(
        res.group, res.version, res.kind
    )
    for sub in res.subresources:
        assert _entry(res, f"{res.plural}/{sub}")["namespaced"] == res.namespaced


def test_storage_version_hash_matches_kube_apiserver() -> None:
    # As a v1.3x kube-apiserver reports them in /api/v1 and /apis/apps/v1.
    assert discovery.storage_version_hash("", "v1", "Pod") == "xPOwRZ+Yhw8="
    assert discovery.storage_version_hash("apps", "v1", "Deployment") == "8aSe+NMegvE="


def _res(group: str, plural: str) -> Resource:
    return next(r for r in RESOURCES if (r.group, r.plural) == (group, plural))


def test_subresources_kinds_and_verbs() -> None:
    pods, deploy = _res("", "pods"), _res("apps", "deployments")
    assert _entry(pods, "pods/log") == {
        "name": "pods/log",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get"],
    }
    assert _entry(pods, "pods/status")["verbs"] == ["get", "patch", "update"]
    assert _entry(pods, "pods/exec")["kind"] == "PodExecOptions"
    assert _entry(pods, "pods/exec")["verbs"] == ["create", "get"]
    eviction = _entry(pods, "pods/eviction")
    assert (eviction["group"], eviction["version"], eviction["kind"]) == (
        "policy",
        "v1",
        "Eviction",
    )
    scale = _entry(deploy, "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert scale["verbs"] == ["get", "patch", "update"]
    assert "group" not in _entry(deploy, "deployments/status")


def test_unknown_group_version() -> None:
    assert discovery.resource_list("apps", "v1beta1") is None
    assert discovery.resource_list("example.com", "v1") is None


@pytest.mark.parametrize("version", discovery.DISCOVERY_VERSIONS)
def test_aggregated_matches_legacy(version: str) -> None:
    """Every resource and subresource of the legacy lists, in both aggregated documents."""
    seen: list[tuple[object, ...]] = []
    for legacy in (True, False):
        doc = discovery.aggregated(version, legacy)
        assert doc["apiVersion"] == f"apidiscovery.k8s.io/{version}"
        assert doc["kind"] == "APIGroupDiscoveryList"
        for item in doc["items"]:
            group = item["metadata"].get("name", "")
            assert (group == "") == legacy
            for v in item["versions"]:
                assert v["freshness"] == "Current"
                for r in v["resources"]:
                    kind = r["responseKind"]["kind"]
                    scoped = r["scope"] == "Namespaced"
                    seen.append((group, v["version"], r["resource"], kind, scoped))
                    for sub in r.get("subresources", []):
                        seen.append((group, v["version"], f"{r['resource']}/{sub['subresource']}"))
    legacy_lists: list[tuple[object, ...]] = []
    for g, v in group_versions():
        lst = discovery.resource_list(g, v)
        assert lst is not None
        for e in lst["resources"]:
            if "/" in e["name"]:
                legacy_lists.append((g, v, e["name"]))
            else:
                legacy_lists.append((g, v, e["name"], e["kind"], e["namespaced"]))
    assert sorted(seen, key=str) == sorted(legacy_lists, key=str)


def test_aggregated_scale_response_kind() -> None:
    doc = discovery.aggregated("v2", legacy=False)
    apps = next(i for i in doc["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert deploy["responseKind"] == {"group": "", "version": "", "kind": "Deployment"}
    assert deploy["shortNames"] == ["deploy"] and deploy["categories"] == ["all"]


def test_aggregated_refuses_unknown_version() -> None:
    with pytest.raises(ValueError):
        discovery.aggregated("v1", legacy=True)


V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2B1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (KUBECTL_137, "v2"),
        (f"{V2},{V2B1},application/json", "v2"),
        (f"{V2B1},{V2},application/json", "v2beta1"),
        (f"{V2};q=0.5,{V2B1}", "v2beta1"),
        ("application/json", None),
        ("application/json, */*", None),  # kubectl 1.20
        ("", None),
        (f"application/json,{V2}", None),  # plain JSON preferred
        (f"{V2.replace('json', 'vnd.kubernetes.protobuf')},{V2B1}", "v2beta1"),
        ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", None),
        (f"{V2};q=0", None),
    ],
)
def test_negotiate(accept: str, expected: str | None) -> None:
    got = discovery.negotiate(accept)
    if expected is None:
        assert got is None
    else:
        assert got == (expected, discovery.content_type(expected))
        assert got[1] == (V2 if expected == "v2" else V2B1)
