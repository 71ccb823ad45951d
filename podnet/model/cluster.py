"""The computed cluster: what the controllers decided, as plain frozen data.

Produced by :func:`podnet.control.cluster.build_cluster` from :class:`Manifests`; read
by analysis, the DNS server and the data plane. Pods here carry ``ip`` and ``node``;
Services carry their ``cluster_ip`` and NodePorts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.model.clusterpolicy import ClusterNetworkPolicy
from podnet.model.objects import Namespace, NetworkPolicy, Pod, Service

POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
NODE_CIDR = "172.18.0.0/24"  # the node network; exists only inside podnet's namespaces
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class Node:
    name: str  # node-0, node-1, ...
    labels: dict[str, str]  # kubernetes.io/hostname, kubernetes.io/os
    pod_cidr: str  # one /24 of POD_CIDR per node
    address: str  # the node's IP on the node network


@dataclass(frozen=True)
class Endpoint:
    """One ready (or published-not-ready) backend of one Service port.

    ``port`` is the targetPort resolved on this pod (named ports are resolved per pod,
    as the EndpointSlice controller does; a pod lacking the name is left out).
    """

    pod: str  # namespace/name
    ip: str
    node: str
    port: int
    protocol: str
    ready: bool = True
    hostname: str | None = None  # set when the pod has spec.hostname (headless DNS)


@dataclass(frozen=True)
class ClusterState:
    nodes: tuple[Node, ...]
    namespaces: tuple[Namespace, ...]
    pods: tuple[Pod, ...]
    services: tuple[Service, ...]
    policies: tuple[NetworkPolicy, ...]
    # service key ("ns/name") -> service port name ("" when unnamed) -> endpoints
    endpoints: dict[str, dict[str, tuple[Endpoint, ...]]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # the cluster admin's policies (podnet.model.clusterpolicy), all tiers
    cluster_policies: tuple[ClusterNetworkPolicy, ...] = ()

    def pod(self, key: str) -> Pod | None:
        for p in self.pods:
            if p.key == key:
                return p
        return None

    def service(self, key: str) -> Service | None:
        for s in self.services:
            if s.key == key:
                return s
        return None

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        return {ns.name: ns.labels for ns in self.namespaces}
