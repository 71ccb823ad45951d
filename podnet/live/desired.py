"""API objects (JSON-shaped dicts from the store) -> podnet's model objects.

Every object goes through the same validation and defaulting as a manifest file
(:func:`podnet.manifests.from_documents`, one document at a time), so the data plane
sees a Service, a NetworkPolicy or a cluster policy from ``kubectl apply`` exactly as
it would from ``podnet run -f``. Conversions are cached by uid and resourceVersion (an
unchanged object is not converted again); an object podnet cannot convert is left out
of the data plane and reported once through ``on_warning``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from podnet.errors import Location, PodnetError
from podnet.manifests import from_documents
from podnet.model.clusterpolicy import ClusterNetworkPolicy
from podnet.model.objects import Manifests, Namespace, NetworkPolicy, Pod, Service

Obj = dict[str, Any]
Model = Pod | Service | Namespace | NetworkPolicy | ClusterNetworkPolicy
CLUSTER_POLICY_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")


def convert(obj: Obj) -> Model:
    """One API object as a model object (raises :class:`PodnetError` if podnet refuses
    it). The server-set fields (uid, status, managedFields) are ignored by the checks."""
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind", ""))
    where = "/".join(x for x in (kind, meta.get("namespace"), meta.get("name")) if x)
    doc = {k: v for k, v in obj.items() if k != "status"}
    found = _pick(kind, from_documents([(doc, Location(f"api:{where}", 1))]))
    if found is None:
        raise PodnetError(f"{where}: podnet does not model kind {kind!r}")
    return found


def _pick(kind: str, m: Manifests) -> Model | None:
    if kind == "Pod" and m.pods:
        return m.pods[0]
    if kind == "Service" and m.services:
        return m.services[0]
    if kind == "NetworkPolicy" and m.policies:
        return m.policies[0]
    if kind in CLUSTER_POLICY_KINDS and m.cluster_policies:
        return m.cluster_policies[0]
    if kind == "Namespace":
        return next((n for n in m.namespaces if n.meta is not None and n.meta.location), None)
    return None


class Converter:
    """:func:`convert` with a cache keyed by (uid, resourceVersion)."""

    def __init__(self, on_warning: Callable[[str], None] | None = None) -> None:
        self._cache: dict[tuple[str, str], Model | None] = {}
        self.on_warning = on_warning

    def get(self, obj: Obj) -> Model | None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("uid", "")), str(meta.get("resourceVersion", "")))
        if key in self._cache:
            return self._cache[key]
        try:
            model: Model | None = convert(obj)
        except PodnetError as e:
            model = None
            if self.on_warning is not None:
                self.on_warning(f"left out of the data plane: {e}")
        self._cache[key] = model
        return model

    def all(self, objs: Iterable[Obj]) -> list[Model]:
        """The models of ``objs`` (those podnet can convert); the cache keeps only them."""
        keep: dict[tuple[str, str], Model | None] = {}
        out: list[Model] = []
        for obj in objs:
            model = self.get(obj)
            meta = obj.get("metadata") or {}
            keep[(str(meta.get("uid", "")), str(meta.get("resourceVersion", "")))] = model
            if model is not None:
                out.append(model)
        self._cache = keep
        return out
