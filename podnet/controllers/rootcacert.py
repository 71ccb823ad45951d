"""The ``kube-root-ca.crt`` ConfigMap in every namespace: the API server's CA bundle,
which pods mount (projected service account volumes) to verify
``kubernetes.default.svc`` (pkg/controller/certificates/rootcacertpublisher/
publisher.go). Created when a namespace appears, again when deleted, and put back
when its ``ca.crt`` or its description annotation is changed; not created in a
namespace being deleted (the create's refusal is not retried)."""

from __future__ import annotations

from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Clock, Controller, meta, name, namespace
from podnet.controllers.informer import Informers

NAMESPACES: Resource = by_kind("", "Namespace")  # type: ignore[assignment]
CONFIGMAPS: Resource = by_kind("", "ConfigMap")  # type: ignore[assignment]
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using "
    "internal endpoints such as the internal service IP or kubernetes.default.svc. "
    "No other usage is guaranteed across distributions of Kubernetes clusters."
)


def root_ca_configmap(ns: str, ca_pem: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ROOT_CA_CONFIGMAP,
            "namespace": ns,
            "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
        },
        "data": {"ca.crt": ca_pem},
    }


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, registry: Any, informers: Informers, *, ca_pem: str, clock: Clock) -> None:
        super().__init__(registry, informers, clock=clock)
        self.ca_pem = ca_pem

    def setup(self) -> None:
        self.namespaces = self.informers.get(NAMESPACES)
        self.configmaps = self.informers.get(CONFIGMAPS)
        self.namespaces.add_handler(self._on_namespace)
        self.configmaps.add_handler(self._on_configmap)

    def _on_namespace(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        # namespaceAdded, namespaceUpdated (only while Active)
        if new is None or type_ == "DELETED":
            return
        phase = (new.get("status") or {}).get("phase") or "Active"
        if type_ == "ADDED" or phase == "Active":
            self.queue.add(name(new))

    def _on_configmap(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        # configMapUpdated, configMapDeleted (not added: the publisher's own create)
        if new is not None and type_ != "ADDED" and name(new) == ROOT_CA_CONFIGMAP:
            self.queue.add(namespace(new))

    def sync(self, key: str) -> None:
        """syncNamespace."""
        if self.namespaces.get(key) is None:
            return
        cm = self.configmaps.get(f"{key}/{ROOT_CA_CONFIGMAP}")
        if cm is None:
            try:
                self.registry.create(CONFIGMAPS, key, root_ca_configmap(key, self.ca_pem))
            except ApiError as e:
                # the namespace is gone or terminating; or the cache is behind a create
                if e.reason not in ("NotFound", "Forbidden", "AlreadyExists"):
                    raise
            return
        data = {"ca.crt": self.ca_pem}
        annotations = dict(meta(cm).get("annotations") or {})
        if cm.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        fresh = dict(cm)
        fresh["metadata"] = {**meta(cm), "annotations": annotations}
        annotations[DESCRIPTION_ANNOTATION] = DESCRIPTION
        fresh["data"] = data
        self.registry.update(CONFIGMAPS, key, ROOT_CA_CONFIGMAP, fresh)
