"""The resources the API serves: one table, read by discovery, routing, the store keys,
the OpenAPI documents and the controllers.

Names, short names, categories and verbs as kube-apiserver's discovery reports them for
each built-in kind (``kubectl api-resources`` on a v1.3x cluster), so that kubectl's
RESTMapper resolves ``po``, ``deploy``, ``svc``, ``netpol``, ``all`` exactly as there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_WRITE_NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
CREATE = ("create",)
GET_LIST = ("get", "list")


@dataclass(frozen=True)
class CustomInfo:
    """What a CustomResourceDefinition says about one served version of its resource,
    beyond the table's columns (:mod:`podnet.apiserver.crd`): the version's schema and
    printer columns, the scale subresource's paths, the singular name, and whether the
    CRD is being deleted (creates are then refused, as customresource_handler.go does)."""

    crd: str  # the CRD's name, <plural>.<group>
    singular: str
    schema: dict[str, Any]  # the version's openAPIV3Schema ({} when none)
    columns: tuple[dict[str, Any], ...] = ()  # additionalPrinterColumns
    scale: dict[str, Any] | None = None  # subresources.scale
    storage: bool = False
    terminating: bool = False


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = VERBS
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "exec", ...
    # Set on resources a CustomResourceDefinition serves; left out of equality and hash,
    # so that a CRD's update (a new schema) keeps the resource the same dict key.
    custom: CustomInfo | None = field(default=None, compare=False, hash=False)

    @property
    def singular(self) -> str:
        return self.custom.singular if self.custom is not None else self.kind.lower()

    @property
    def group_version(self) -> str:
        """``v1`` or ``apps/v1``: the apiVersion of its objects."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def key(self, namespace: str | None, name: str) -> str:
        """The store key of one object: ``<group>/<plural>/<namespace>/<name>``, the
        core group spelled ``core`` and cluster-scoped objects with an empty namespace."""
        return f"{self.prefix(namespace)}{name}"

    def prefix(self, namespace: str | None) -> str:
        """The store key prefix of every object of this resource (in ``namespace``:
        ``None`` is all namespaces; cluster-scoped resources ignore it)."""
        base = f"{self.group or 'core'}/{self.plural}/"
        if not self.namespaced:
            return base + "/"
        return base if namespace is None else f"{base}{namespace}/"


def _r(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = VERBS,
    sub: tuple[str, ...] = (),
) -> Resource:
    return Resource(group, version, kind, plural, namespaced, short, categories, verbs, sub)


ALL = ("all",)
RESOURCES: tuple[Resource, ...] = (
    _r(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        verbs=READ_WRITE_NO_COLLECTION,
        sub=("status", "finalize"),
    ),
    _r("", "v1", "Node", "nodes", False, ("no",), sub=("status",)),
    _r(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        ALL,
        # what podnet serves of upstream's pod subresources: not binding (the scheduler
        # binds through the registry; the HTTP layer answers 404), proxy or resize
        sub=(
            "status",
            "ephemeralcontainers",
            "log",
            "exec",
            "attach",
            "portforward",
            "eviction",
        ),
    ),
    # services/proxy is not served (404): not announced either
    _r("", "v1", "Service", "services", True, ("svc",), ALL, sub=("status",)),
    _r("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    _r("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _r("", "v1", "Secret", "secrets", True),
    # serviceaccounts/token: a TokenRequest, answered by the HTTP layer (never stored)
    _r("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), sub=("token",)),
    _r("", "v1", "Event", "events", True, ("ev",)),
    _r(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        True,
        ("pvc",),
        sub=("status",),
    ),
    _r("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), sub=("status",)),
    _r(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        True,
        ("rc",),
        ALL,
        sub=("status", "scale"),
    ),
    _r("apps", "v1", "Deployment", "deployments", True, ("deploy",), ALL, sub=("status", "scale")),
    _r("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ALL, sub=("status", "scale")),
    _r("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ALL, sub=("status", "scale")),
    _r("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ALL, sub=("status",)),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    _r("batch", "v1", "Job", "jobs", True, (), ALL, sub=("status",)),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    _r("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    _r("coordination.k8s.io", "v1", "Lease", "leases", True),
    _r("batch", "v1", "CronJob", "cronjobs", True, ("cj",), ALL, sub=("status",)),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), sub=("status",)),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _r(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        ("pdb",),
        sub=("status",),
    ),
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    _r(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        sub=("status",),
    ),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    # The review kinds are answered, never stored: create is their only verb
    # (kube-apiserver's authorization and authentication REST storage).
    _r(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        True,
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        False,
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        verbs=CREATE,
    ),
    _r(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        verbs=CREATE,
    ),
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=CREATE),
    # HorizontalPodAutoscaler in two versions, one stored object: v2 first (the
    # preferred version and the storage version, as kube-apiserver's), then v1, served by
    # conversion (podnet.apiserver.autoscaling); by_kind answers v2
    _r(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        ALL,
        sub=("status",),
    ),
    _r(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        ALL,
        sub=("status",),
    ),
    # metrics-server's API (kubernetes-sigs/metrics-server pkg/api/install.go): read-only,
    # built on request from the scraper's storage (podnet.apiserver.metrics)
    _r("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=GET_LIST),
    _r("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=GET_LIST),
    _r(
        "policy.networking.k8s.io",
        "v1alpha1",
        "AdminNetworkPolicy",
        "adminnetworkpolicies",
        False,
        ("anp",),
        sub=("status",),
    ),
    _r(
        "policy.networking.k8s.io",
        "v1alpha1",
        "BaselineAdminNetworkPolicy",
        "baselineadminnetworkpolicies",
        False,
        ("banp",),
        sub=("status",),
    ),
    _r(
        "policy.networking.k8s.io",
        "v1alpha2",
        "ClusterNetworkPolicy",
        "clusternetworkpolicies",
        False,
        ("cnp",),
        sub=("status",),
    ),
)


def by_path(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``/api[s]/<group>/<version>/.../<plural>``: the static
    table first (one dict lookup for the built-ins), then what CRDs serve."""
    r = _BY_PATH.get((group, version, plural))
    if r is None and _custom.by_path:
        r = _custom.by_path.get((group, version, plural))
    return r


def by_kind(group: str, kind: str) -> Resource | None:
    """The resource of objects of ``kind`` in ``group`` (the served version; for a CRD,
    its preferred one)."""
    r = _BY_KIND.get((group, kind))
    if r is None and _custom.by_kind:
        r = _custom.by_kind.get((group, kind))
    return r


def by_api_version(api_version: str, kind: str) -> Resource | None:
    """The resource of an object's ``apiVersion`` and ``kind`` (``apps/v1``, ``Deployment``)."""
    group, _, version = api_version.rpartition("/")
    r = by_kind(group, kind)
    if r is not None and r.version == version:
        return r
    if r is not None and r.custom is None:  # another served version of a built-in kind
        return _OTHER_VERSIONS.get((group, version, kind))
    if r is not None and r.custom is not None:  # another served version of a CRD
        for c in _custom.resources:
            if (c.group, c.version, c.kind) == (group, version, kind):
                return c
    return None


def group_versions() -> Iterator[tuple[str, str]]:
    """Every (group, version) served, core first, each once, in table order; then the
    CRDs' ones (each group's versions in priority order)."""
    seen: set[tuple[str, str]] = set()
    for r in all_resources():
        gv = (r.group, r.version)
        if gv not in seen:
            seen.add(gv)
            yield gv


def all_resources() -> tuple[Resource, ...]:
    """The static table followed by the resources CRDs serve (controllers that iterate
    every resource, discovery, OpenAPI)."""
    return RESOURCES + _custom.resources if _custom.resources else RESOURCES


def custom_for(api_version: Any, kind: Any) -> Resource | None:
    """The CRD-served resource of an object's apiVersion and kind; None at once when no
    CRD serves anything (the write path of every built-in kind asks)."""
    if not _custom.by_path:
        return None
    group, _, version = str(api_version).rpartition("/")
    r = _custom.by_kind.get((group, str(kind)))
    if r is None or r.version == version:
        return r
    return next(
        (
            c
            for c in _custom.resources
            if c.kind == r.kind and c.group == group and c.version == version
        ),
        None,
    )


def custom_generation() -> int:
    """Bumped on each change of the CRD-served part: the key of derived caches."""
    return _custom.generation


@dataclass(frozen=True)
class _Custom:
    resources: tuple[Resource, ...] = ()
    by_path: dict[tuple[str, str, str], Resource] = field(default_factory=dict)
    by_kind: dict[tuple[str, str], Resource] = field(default_factory=dict)
    generation: int = 0


_custom = _Custom()
_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def add_custom_listener(listener: Callable[[], None]) -> None:
    """Call ``listener`` (no arguments, in the publishing thread) after each change of
    the CRD-served resources: the garbage collector starts watching a new resource, as
    its graph builder's ``resyncMonitors`` follows discovery (garbagecollector.go Sync)."""
    with _listeners_lock:
        _listeners.append(listener)


def remove_custom_listener(listener: Callable[[], None]) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def set_custom(served: Iterable[Resource]) -> bool:
    """Replace the CRD-served resources (in preferred-version order per group); readers
    see the old table or the new one, never a mix. A name the static table has is never
    shadowed. Returns whether anything changed (and then tells the listeners)."""
    if not _set_custom(served):
        return False
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()
    return True


def _set_custom(served: Iterable[Resource]) -> bool:
    global _custom
    items = tuple(r for r in served if (r.group, r.version, r.plural) not in _BY_PATH)
    old = _custom.resources
    if len(items) == len(old) and all(
        a == b and a.custom == b.custom for a, b in zip(items, old, strict=True)
    ):
        return False
    by_kind: dict[tuple[str, str], Resource] = {}
    for r in items:
        by_kind.setdefault((r.group, r.kind), r)
    _custom = _Custom(
        items,
        {(r.group, r.version, r.plural): r for r in items},
        by_kind,
        _custom.generation + 1,
    )
    return True


_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
# A kind served in two versions (HorizontalPodAutoscaler) maps to the first, its
# storage version: a dict built once, so the pod path's lookup is unchanged.
_BY_KIND: dict[tuple[str, str], Resource] = {}
for _res in RESOURCES:
    _BY_KIND.setdefault((_res.group, _res.kind), _res)
_OTHER_VERSIONS = {
    (r.group, r.version, r.kind): r for r in RESOURCES if _BY_KIND[(r.group, r.kind)] is not r
}


# Built-in kinds deprecated while still served: (group, version, kind) -> the release
# that deprecated it and its replacement. Endpoints: KEP-4974, k8s.io/api core/v1
# types.go ``+k8s:prerelease-lifecycle-gen:deprecated=1.33`` with replacement
# discovery.k8s.io/v1 EndpointSlice.
DEPRECATED: dict[tuple[str, str, str], tuple[tuple[int, int], str]] = {
    ("", "v1", "Endpoints"): ((1, 33), "discovery.k8s.io/v1 EndpointSlice"),
}


def deprecation_warning(res: Resource, server: tuple[int, int]) -> str | None:
    """The ``Warning`` kube-apiserver adds to every request for ``res`` (any verb, an
    error too) once the server's own version has reached the deprecating release
    (apiserver pkg/endpoints/installer.go with pkg/endpoints/deprecation
    ``IsDeprecated`` and ``WarningMessage``: "<group/version> <Kind> is deprecated in
    v<M>.<m>+; use <group/version> <Kind>")."""
    found = DEPRECATED.get((res.group, res.version, res.kind))
    if found is None:
        return None
    (major, minor), replacement = found
    if server < (major, minor):
        return None
    return f"{res.group_version} {res.kind} is deprecated in v{major}.{minor}+; use {replacement}"
