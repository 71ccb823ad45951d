"""Manifest documents -> API objects, created through the Registry as ``kubectl apply -f``
creates them (the same validation, defaulting and allocation as ``podnet up``'s API).

:func:`check` runs before anything exists on the host: the Namespaces are created in
the run's own in-memory store, every other object is created with ``dryRun=All``
(kube-apiserver runs the whole create path without persisting,
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go), and every Status error
becomes a :class:`~podnet.errors.ManifestError` carrying the document's file:line,
object and field, as the manifests layer reports its own. Bad input changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_api_version, by_kind
from podnet.errors import Location, ManifestError
from podnet.live.core.bootstrap import exists
from podnet.manifests.build import _flatten
from podnet.manifests.lines import prune_nulls
from podnet.manifests.report import raise_all
from podnet.model.objects import Namespace

Obj = dict[str, Any]
Owner = tuple[str, str, str]  # (kind, namespace, name) of the object at the top of a pod's owners
NAMESPACES = by_kind("", "Namespace")
PODS = by_kind("", "Pod")
MAX_OWNER_DEPTH = 4  # Pod <- ReplicaSet <- Deployment is the deepest chain podnet knows


@dataclass(frozen=True)
class Item:
    """One document as an API object, with where it came from."""

    res: Resource
    namespace: str | None
    obj: Obj
    location: Location

    @property
    def name(self) -> str:
        meta = self.obj["metadata"]
        return str(meta.get("name") or meta.get("generateName") or "")

    @property
    def ref(self) -> str:
        """``Kind/namespace/name`` as the manifests layer names objects in messages."""
        parts = (self.res.kind, self.namespace, self.name)
        return "/".join(p for p in parts if p)

    @property
    def owner(self) -> Owner:
        return (self.res.kind, self.namespace or "", self.name)


def items(docs: Sequence[tuple[Any, Location]]) -> list[Item]:
    """Each document (``kind: List`` items one by one) of a kind the API serves, as a
    plain JSON object with its namespace set (``default`` when none, as kubectl's).
    Kinds the API does not serve are left out: the manifests layer warned about them."""
    out: list[Item] = []
    errors: list[ManifestError] = []
    for doc, loc in _flatten(docs, errors):
        if not isinstance(doc, dict):
            continue
        res = by_api_version(str(doc.get("apiVersion", "")), str(doc.get("kind", "")))
        if res is None:
            continue
        obj: Obj = _plain(prune_nulls(doc, (), []))
        meta = obj.setdefault("metadata", {})
        ns = None
        if res.namespaced:
            ns = str(meta.get("namespace") or "default")
            meta["namespace"] = ns
        out.append(Item(res, ns, obj, loc))
    raise_all(errors)
    return out


def _plain(value: Any) -> Any:
    """The document without the loader's line-tracking types (dict/list subclasses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def check(registry: Registry, found: Iterable[Item], namespaces: Iterable[Namespace]) -> None:
    """Create the Namespaces (those of the documents, then every other one the
    manifests use, as ``podnet run`` always has), then dry-run every other object;
    raise every error at once, located (see the module docstring)."""
    assert NAMESPACES is not None
    errors: list[ManifestError] = []
    rest = []
    for item in found:
        if item.res is NAMESPACES:
            if not exists(registry, NAMESPACES, None, item.name):
                errors += _create(registry, item, dry_run=False)
        else:
            rest.append(item)
    for ns in namespaces:
        if not exists(registry, NAMESPACES, None, ns.name):
            body = {"metadata": {"name": ns.name, "labels": dict(ns.labels)}}
            registry.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", **body})
    for item in rest:
        errors += _create(registry, item, dry_run=True)
    raise_all(errors)


def create(registry: Registry, item: Item) -> Obj:
    """Create ``item`` for real (after :func:`check`): its first error raised, located."""
    obj = copy.deepcopy(item.obj)
    try:
        return registry.create(item.res, item.namespace, obj)
    except ApiError as e:
        raise located(e, item)[0] from None


def _create(registry: Registry, item: Item, *, dry_run: bool) -> list[ManifestError]:
    try:
        registry.create(item.res, item.namespace, copy.deepcopy(item.obj), dry_run=dry_run)
    except ApiError as e:
        return located(e, item)
    return []


def located(e: ApiError, item: Item) -> list[ManifestError]:
    """A Status error as manifest errors: one per field cause (422 Invalid), else one."""
    causes = (e.details or {}).get("causes") or []
    if not causes:
        return [ManifestError(f"{e.reason}: {e.message}", location=item.location, obj=item.ref)]
    return [
        ManifestError(
            str(c.get("message", e.message)),
            location=item.location,
            obj=item.ref,
            field=c.get("field") or None,
        )
        for c in causes
    ]


def top_owner(registry: Registry, pod: Obj) -> Owner:
    """The object at the top of ``pod``'s controller references (a Deployment for a
    pod of its ReplicaSet), as the run's documents name it; the pod itself if none."""
    current = pod
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    for _ in range(MAX_OWNER_DEPTH):
        meta = current.get("metadata") or {}
        refs = [r for r in meta.get("ownerReferences") or () if r.get("controller")]
        if not refs:
            break
        ref = refs[0]
        res = by_api_version(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        owner: Owner = (str(ref.get("kind")), namespace, str(ref.get("name")))
        if res is None:
            return owner
        try:
            current = registry.get(res, namespace, owner[2])
        except ApiError:
            return owner
    meta = current.get("metadata") or {}
    return (str(current.get("kind", "Pod")), namespace, str(meta.get("name", "")))
