"""Read what podnet analyses from a cluster: Namespaces, Pods, Services,
EndpointSlices, NetworkPolicies, the cluster-wide policy kinds and Nodes.

The cluster-wide kinds (AdminNetworkPolicy, BaselineAdminNetworkPolicy of
policy.networking.k8s.io v1alpha1, ClusterNetworkPolicy v1alpha2) are CRDs most clusters
do not have: the group is looked up first (discovery, as kubectl does), and a 404 means
not installed, not an error. Every other failure, a 403 included, stops the read: an
analysis missing the policies it cannot see would answer wrongly without saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.kube.client import ApiResource, Client, Obj
from podnet.kube.errors import KubeError, NotFound

NAMESPACES = ApiResource("", "v1", "namespaces", "Namespace", False)
PODS = ApiResource("", "v1", "pods", "Pod", True)
SERVICES = ApiResource("", "v1", "services", "Service", True)
NODES = ApiResource("", "v1", "nodes", "Node", False)
ENDPOINT_SLICES = ApiResource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
NETWORK_POLICIES = ApiResource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True)
POLICY_GROUP = "policy.networking.k8s.io"
CLUSTER_POLICY_KINDS = {
    "adminnetworkpolicies": "AdminNetworkPolicy",
    "baselineadminnetworkpolicies": "BaselineAdminNetworkPolicy",
    "clusternetworkpolicies": "ClusterNetworkPolicy",
}


@dataclass
class Snapshot:
    """The objects as the API returned them (JSON dicts, kind and apiVersion set)."""

    namespaces: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    services: list[Obj] = field(default_factory=list)
    endpoint_slices: list[Obj] = field(default_factory=list)
    policies: list[Obj] = field(default_factory=list)
    cluster_policies: list[Obj] = field(default_factory=list)
    nodes: list[Obj] = field(default_factory=list)
    namespace: str | None = None  # None: all namespaces


def cluster_policy_resources(client: Client) -> list[ApiResource]:
    """The cluster policy kinds this server serves, each at its preferred version."""
    try:
        group = client.get_json(f"/apis/{POLICY_GROUP}", verb="get", resource=POLICY_GROUP)
    except NotFound:
        return []
    versions = [str(v.get("version")) for v in group.get("versions") or []]
    preferred = str((group.get("preferredVersion") or {}).get("version") or "")
    if preferred in versions:
        versions.remove(preferred)
        versions.insert(0, preferred)
    found: dict[str, ApiResource] = {}
    for version in versions:
        try:
            listing = client.get_json(
                f"/apis/{POLICY_GROUP}/{version}", resource=f"{POLICY_GROUP}/{version}"
            )
        except NotFound:
            continue
        for r in listing.get("resources") or []:
            plural = str(r.get("name") or "")
            if plural in CLUSTER_POLICY_KINDS and plural not in found:
                found[plural] = ApiResource(
                    POLICY_GROUP, version, plural, CLUSTER_POLICY_KINDS[plural], False
                )
    return [found[p] for p in CLUSTER_POLICY_KINDS if p in found]


def read_cluster(client: Client, namespace: str | None = None) -> Snapshot:
    """Everything in one namespace (``namespace``) or all of them (None); the
    cluster-scoped kinds (Nodes, cluster policies) always."""
    snap = Snapshot(namespace=namespace)
    if namespace is None:
        snap.namespaces = client.list(NAMESPACES)
    else:
        try:
            ns = client.get_json(
                NAMESPACES.path(name=namespace), resource="namespaces", namespace=None
            )
        except NotFound as e:
            raise KubeError(f"namespace {namespace!r} not found in the cluster") from e
        ns.setdefault("kind", "Namespace")
        ns.setdefault("apiVersion", "v1")
        snap.namespaces = [ns]
    snap.pods = client.list(PODS, namespace)
    snap.services = client.list(SERVICES, namespace)
    snap.endpoint_slices = client.list(ENDPOINT_SLICES, namespace)
    snap.policies = client.list(NETWORK_POLICIES, namespace)
    for res in cluster_policy_resources(client):
        snap.cluster_policies += client.list(res)
    snap.nodes = client.list(NODES)
    return snap


def policy_key(obj: Obj) -> str:
    """``Kind ns/name`` (``Kind name`` for a cluster-wide policy), as reports name them."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind') or 'NetworkPolicy'} {ns + '/' if ns else ''}{meta.get('name')}"


def policy_versions(snap: Snapshot) -> dict[str, str]:
    """Each policy of the snapshot (NetworkPolicies of its scope, every cluster-wide
    policy) by :func:`policy_key`, with its ``resourceVersion``: a policy whose
    version differs later was changed in between (the API's own change marker)."""
    return {
        policy_key(o): str((o.get("metadata") or {}).get("resourceVersion") or "")
        for o in (*snap.policies, *snap.cluster_policies)
    }


def read_policy_versions(client: Client, namespace: str | None) -> dict[str, str]:
    """:func:`policy_versions` of the policies in the cluster now (``namespace``: the
    scope of the first read)."""
    snap = Snapshot(namespace=namespace)
    snap.policies = client.list(NETWORK_POLICIES, namespace)
    for res in cluster_policy_resources(client):
        snap.cluster_policies += client.list(res)
    return policy_versions(snap)


def policy_changes(before: dict[str, str], after: dict[str, str], since: str) -> tuple[str, ...]:
    """One line per policy deleted, changed or created between two reads."""
    out = []
    for key in sorted(before.keys() | after.keys()):
        if key not in after:
            out.append(f"{key}: deleted {since}")
        elif key not in before:
            out.append(f"{key}: created {since}")
        elif before[key] != after[key]:
            out.append(f"{key}: changed {since}")
    return tuple(out)
