"""API discovery: ``/api``, ``/apis``, each group-version's resource list, and aggregated
discovery (``apidiscovery.k8s.io`` v2 and v2beta1), all built from the resource table.

kubectl's RESTMapper resolves kinds, short names and categories from these, and its
scale client finds a ``scale`` subresource's kind (autoscaling/v1 Scale) here. Shapes as
kube-apiserver serves them: ``staging/src/k8s.io/apiserver/pkg/endpoints/installer.go``
(the APIResource of each resource and subresource, ``storageVersionHash``),
``.../endpoints/discovery/aggregated/handler.go`` and ``.../aggregated/fake.go``
(``convertAPIResourceToDiscovery``: subresources nested under their resource).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from podnet.apiserver.resources import (
    Resource,
    all_resources,
    custom_generation,
    group_versions,
)

Obj = dict[str, Any]

DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_VERSIONS = ("v2", "v2beta1")
_GET_PATCH_UPDATE = ("get", "patch", "update")
_CONNECT = ("create", "get")
_PROXY = ("create", "delete", "get", "patch", "update")


def subresource_kind(res: Resource, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(group, version, kind, verbs) of ``<plural>/<sub>``; group and version are empty
    when they are the parent's (as kube-apiserver leaves them). From
    ``pkg/registry/core/pod/storage/storage.go`` and the other registries' storages."""
    if sub == "scale":
        return "autoscaling", "v1", "Scale", _GET_PATCH_UPDATE
    if sub == "eviction":
        return "policy", "v1", "Eviction", ("create",)
    if sub == "binding":
        return "", "", "Binding", ("create",)
    if sub == "token":  # pkg/registry/core/serviceaccount/storage/token.go TokenREST
        return "authentication.k8s.io", "v1", "TokenRequest", ("create",)
    if sub == "finalize":
        return "", "", res.kind, ("update",)
    if sub == "log":
        return "", "", res.kind, ("get",)
    if sub == "proxy":
        return "", "", f"{res.kind}ProxyOptions", _PROXY
    if sub in ("exec", "attach", "portforward"):
        opts = {"exec": "PodExecOptions", "attach": "PodAttachOptions"}
        return "", "", opts.get(sub, "PodPortForwardOptions"), _CONNECT
    return "", "", res.kind, _GET_PATCH_UPDATE  # status (and any other plain subresource)


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """``endpoints/discovery/storageversionhash.go``: the first 8 bytes of sha256 of
    ``group/version/kind``, base64; lets clients see that the storage version changed."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _served(group: str, version: str) -> list[Resource]:
    return [r for r in all_resources() if r.group == group and r.version == version]


def _api_resources(res: Resource) -> list[Obj]:
    """The resource's APIResource entry followed by one per subresource (sorted by name,
    as the installer emits them)."""
    out: list[Obj] = [
        {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": sorted(res.verbs),
        }
    ]
    if res.short_names:
        out[0]["shortNames"] = list(res.short_names)
    if res.categories:
        out[0]["categories"] = list(res.categories)
    out[0]["storageVersionHash"] = storage_version_hash(res.group, res.version, res.kind)
    for sub in sorted(res.subresources):
        group, version, kind, verbs = subresource_kind(res, sub)
        entry: Obj = {
            "name": f"{res.plural}/{sub}",
            "singularName": "",
            "namespaced": res.namespaced,
        }
        if group or version:
            entry |= {"group": group, "version": version}
        out.append(entry | {"kind": kind, "verbs": sorted(verbs)})
    return out


@functools.lru_cache(maxsize=8)  # keyed by the client's Host header: bounded
def api_versions(server_address: str = "") -> Obj:
    """``/api``. kubectl ignores ``serverAddressByClientCIDRs``; the field is required, so
    it is an empty list unless the caller knows the address clients reach."""
    cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}] if server_address else []
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": cidrs,
    }


def api_group_list() -> Obj:
    """``/apis``: every named group with its versions, the first one preferred (a
    CRD's group: its versions in priority order, customresource_discovery_controller.go)."""
    return _api_group_list(custom_generation())


# The documents are cached per generation of the CRD-served resources: a CRD that
# becomes Established, changes or goes is in the next answer (the discovery controller).
@functools.lru_cache(maxsize=2)
def _api_group_list(generation: int) -> Obj:
    groups: dict[str, list[str]] = {}
    for group, version in group_versions():
        if group:
            groups.setdefault(group, []).append(version)
    items = []
    for group, versions in groups.items():
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        items.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


@functools.lru_cache(maxsize=2)
def _resource_lists(generation: int) -> dict[tuple[str, str], Obj]:
    lists: dict[tuple[str, str], Obj] = {}
    for group, version in group_versions():
        gv = f"{group}/{version}" if group else version
        resources = [e for r in _served(group, version) for e in _api_resources(r)]
        lists[(group, version)] = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }
    return lists


def resource_list(group: str, version: str) -> Obj | None:
    """``/api/v1`` or ``/apis/<group>/<version>``; None for a group-version not served."""
    return _resource_lists(custom_generation()).get((group, version))


def _discovery_resource(res: Resource) -> Obj:
    """One APIResourceDiscovery (``apidiscovery/v2/types.go``): its subresources nested,
    ``responseKind`` with the group and version empty when they are the resource's own."""
    entry: Obj = {
        "resource": res.plural,
        "responseKind": {"group": "", "version": "", "kind": res.kind},
        "scope": "Namespaced" if res.namespaced else "Cluster",
        "singularResource": res.singular,
        "verbs": sorted(res.verbs),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    subs = []
    for sub in sorted(res.subresources):
        group, version, kind, verbs = subresource_kind(res, sub)
        subs.append(
            {
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": sorted(verbs),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(version: str, legacy: bool) -> Obj:
    """The APIGroupDiscoveryList of ``/api`` (``legacy``: the core group, unnamed) or
    ``/apis`` (every named group), as ``apidiscovery.k8s.io/<version>``."""
    return _aggregated(version, legacy, custom_generation())


@functools.lru_cache(maxsize=8)
def _aggregated(version: str, legacy: bool, generation: int) -> Obj:
    if version not in DISCOVERY_VERSIONS:
        raise ValueError(f"unknown aggregated discovery version {version!r}")
    groups: dict[str, list[Obj]] = {}
    for group, gv_version in group_versions():
        if (group == "") != legacy:
            continue
        resources = [_discovery_resource(r) for r in _served(group, gv_version)]
        versions = groups.setdefault(group, [])
        versions.append({"version": gv_version, "resources": resources, "freshness": "Current"})
    items = []
    for group, versions in groups.items():
        meta: Obj = (
            {"name": group, "creationTimestamp": None} if group else {"creationTimestamp": None}
        )
        items.append({"metadata": meta, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }


# What was built so far, under the public name (importing builds nothing: tested).
aggregated.cache_info = _aggregated.cache_info  # type: ignore[attr-defined]


def content_type(version: str) -> str:
    """The Content-Type of an aggregated discovery answer: the media type the client asked
    for, which client-go compares to decide how to decode (``discovery_client.go``)."""
    return f"application/json;g={DISCOVERY_GROUP};v={version};as=APIGroupDiscoveryList"


def negotiate(accept_header: str) -> tuple[str, str] | None:
    """(discovery version, Content-Type) for the first acceptable media range in
    ``accept_header`` that asks for an APIGroupDiscoveryList in JSON, or None when plain
    JSON comes first (or only): an old client, served the legacy documents.

    Ranges are taken by quality, then in the order given (kube-apiserver's
    ``negotiation.NegotiateMediaTypeOptions``); protobuf ranges are skipped, as podnet
    serves JSON only.
    """
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for i, clause in enumerate(accept_header.split(",")):
        media, *params = (p.strip() for p in clause.split(";"))
        opts: dict[str, str] = {}
        for p in params:
            key, _, value = p.partition("=")
            opts[key.strip().lower()] = value.strip()
        try:
            q = float(opts.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q > 0 and media:
            ranges.append((-q, i, media.lower(), opts))
    for _, _, media, opts in sorted(ranges, key=lambda r: (r[0], r[1])):
        if media not in ("application/json", "application/*", "*/*"):
            continue
        if not opts:
            return None
        if (
            opts.get("g") == DISCOVERY_GROUP
            and opts.get("as") == "APIGroupDiscoveryList"
            and opts.get("v") in DISCOVERY_VERSIONS
        ):
            return opts["v"], content_type(opts["v"])
    return None
