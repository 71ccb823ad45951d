"""The namespaces, Services and default StorageClass every cluster has, created through
the Registry.

``podnet up`` and ``podnet run`` both start from them, as kube-apiserver creates
``default``/``kube-system`` (pkg/controlplane/controller/systemnamespaces) and the
``kubernetes`` Service; the ``kube-dns`` Service is the DNS add-on's, the ``standard``
StorageClass the one kind installs (:mod:`podnet.apiserver.admission.storage`).
"""

from __future__ import annotations

from typing import Any

from podnet.apiserver.admission.storage import DEFAULT_CLASS, default_storage_class
from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.controllers.manager import ensure_system_priority_classes
from podnet.model.cluster import DNS_SERVICE_IP, KUBERNETES_SERVICE_IP

# The Services every cluster has (kubeadm's): the API at the first IP of the range,
# cluster DNS at kubeadm's clusterDNS address; created when missing, kept on restarts.
BUILTIN_SERVICES: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": KUBERNETES_SERVICE_IP,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        },
    ),
    (
        "kube-system",
        {
            "metadata": {
                "name": "kube-dns",
                "labels": {
                    "k8s-app": "kube-dns",
                    "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "CoreDNS",
                },
            },
            "spec": {
                "clusterIP": DNS_SERVICE_IP,
                "selector": {"k8s-app": "kube-dns"},
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        },
    ),
)
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def bootstrap(registry: Registry) -> None:
    """Create the built-in namespaces and Services that are missing (a restarted ``up``
    finds them in its store; a Service's create would first claim its ClusterIP, taken),
    and the system PriorityClasses, before any pod can name one (kube-apiserver makes them
    in a post-start hook, before it reports ready). The default StorageClass
    ``standard`` is made when missing (as kind ships one) and an existing one, perhaps
    edited, is left alone: before any claim is created, so none misses its class."""
    ensure_system_priority_classes(registry)
    namespaces, services = by_kind("", "Namespace"), by_kind("", "Service")
    assert namespaces is not None and services is not None
    for name in BUILTIN_NAMESPACES:
        if not exists(registry, namespaces, None, name):
            registry.create(
                namespaces,
                None,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            )
    for ns, body in BUILTIN_SERVICES:
        if not exists(registry, services, ns, body["metadata"]["name"]):
            obj = {"apiVersion": "v1", "kind": "Service", **body}
            obj["metadata"] = {**body["metadata"], "namespace": ns}
            registry.create(services, ns, obj)
    classes = by_kind("storage.k8s.io", "StorageClass")
    assert classes is not None
    if not exists(registry, classes, None, DEFAULT_CLASS):
        registry.create(classes, None, default_storage_class())


def exists(registry: Registry, res: Resource, namespace: str | None, name: str) -> bool:
    try:
        registry.get(res, namespace, name)
    except ApiError as e:
        if e.code == 404:
            return False
        raise
    return True
