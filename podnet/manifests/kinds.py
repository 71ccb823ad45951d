"""The kinds podnet models, with the apiVersion the API server serves them under.

Everything else (ConfigMap, Ingress, CRDs, ...) is skipped with a warning: podnet only
does pod networking. A modelled kind under a wrong or retired apiVersion
(``extensions/v1beta1`` Deployment) is an error, as on a current cluster, rather than
something silently ignored. The cluster admin's policies (network-policy-api CRDs) are
``own_schema``: kubernetes-validate ships no schema for them, so
:mod:`podnet.manifests.check_clusterpolicy` checks their CRD schema and CEL rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    api_version: str
    namespaced: bool = True
    workload: bool = False
    own_schema: bool = False  # validated by podnet's own checker, not kubernetes-validate


POLICY_API_V1ALPHA1 = "policy.networking.k8s.io/v1alpha1"
POLICY_API_V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("Namespace", "v1", namespaced=False),
        Kind("Pod", "v1"),
        Kind("Service", "v1"),
        Kind("NetworkPolicy", "networking.k8s.io/v1"),
        Kind("Deployment", "apps/v1", workload=True),
        Kind("ReplicaSet", "apps/v1", workload=True),
        Kind("StatefulSet", "apps/v1", workload=True),
        Kind("DaemonSet", "apps/v1", workload=True),
        Kind("Job", "batch/v1", workload=True),
        Kind("ReplicationController", "v1", workload=True),
        Kind("AdminNetworkPolicy", POLICY_API_V1ALPHA1, namespaced=False, own_schema=True),
        Kind("BaselineAdminNetworkPolicy", POLICY_API_V1ALPHA1, namespaced=False, own_schema=True),
        Kind("ClusterNetworkPolicy", POLICY_API_V1ALPHA2, namespaced=False, own_schema=True),
    )
}
