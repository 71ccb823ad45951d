"""POST pods/<name>/binding (assign a pod to a node: pkg/registry/core/pod/storage/
storage.go BindingREST.Create, assignPod, setPodNodeAndMetadata) and pods/<name>/eviction
(:func:`evict_pod`, honouring PodDisruptionBudgets).

A pod's spec.nodeName may not change through an update (ValidatePodUpdate), so the
scheduler binds through this subresource: one compare-and-swap write that sets
spec.nodeName, merges the binding's annotations and sets ``PodScheduled=True``. A pod
being deleted, already bound, or with scheduling gates is refused with a Conflict, as
kubectl shows "Operation cannot be fulfilled on pods/binding ...".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from podnet.apiserver.errors import ApiError, bad_request, conflict, not_found
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.base import KeyMissing, Obj, VersionMismatch
from podnet.model.selectors import LabelSelector, Requirement

PODS = by_kind("", "Pod")
_RETRIES = 5


def bind_pod(registry: Any, namespace: str, name: str, binding: Obj) -> Obj:
    """Bind ``namespace/name`` as ``binding`` (a v1 Binding) says; returns the pod."""
    assert PODS is not None
    meta = binding.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise bad_request("name in URL does not match name in Binding object")
    target = binding.get("target") or {}
    node = target.get("name")
    if target.get("kind") not in (None, "", "Node") or not node:
        raise bad_request(f"invalid target kind or name: {target!r}")
    key = PODS.key(namespace, name)
    want_uid = meta.get("uid")
    for _ in range(_RETRIES):
        current = registry.store.get(key)
        if current is None:
            raise not_found("", "pods", name)
        cmeta = current["metadata"]
        spec = current.get("spec") or {}
        if want_uid and want_uid != cmeta.get("uid"):
            raise conflict(
                "",
                "pods/binding",
                name,
                f"Precondition failed: UID in precondition: {want_uid}, UID in object meta: "
                f"{cmeta.get('uid', '')}",
            )
        if cmeta.get("deletionTimestamp"):
            why = f"pod {name} is being deleted, cannot be assigned to a host"
            raise conflict("", "pods/binding", name, why)
        if spec.get("nodeName"):
            why = f'pod {name} is already assigned to node "{spec["nodeName"]}"'
            raise conflict("", "pods/binding", name, why)
        if spec.get("schedulingGates"):
            raise conflict(
                "", "pods/binding", name, f"pod {name} has non-empty .spec.schedulingGates"
            )
        # A new version shares what it does not change with the stored one (stored
        # objects are never changed in place: the store's readers share them), so a
        # bind copies three small dicts, not the whole pod (a deepcopy here was 31 % of
        # the scheduler thread in a 1,000-pod scale-up).
        out = {**current, "spec": {**spec, "nodeName": node}, "metadata": {**cmeta}}
        if meta.get("annotations"):
            annotations = {**(cmeta.get("annotations") or {}), **meta["annotations"]}
            out["metadata"]["annotations"] = annotations
        status = out["status"] = {**(current.get("status") or {})}
        conds = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
        old = next(
            (c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None
        )
        cond: Obj = {"type": "PodScheduled", "status": "True"}
        cond["lastTransitionTime"] = (
            old["lastTransitionTime"]
            if old is not None and old.get("status") == "True" and old.get("lastTransitionTime")
            else registry.now()
        )
        status["conditions"] = [cond, *conds]
        try:
            stored: Obj = registry.store.update(key, out, expect_rv=int(cmeta["resourceVersion"]))
            return stored
        except VersionMismatch:
            continue
        except KeyMissing:
            raise not_found("", "pods", name) from None
    raise conflict("", "pods/binding", name, "the object has been modified; please retry")


# -- pods/eviction --------------------------------------------------------------------

PDBS = by_kind("policy", "PodDisruptionBudget")
EVICTION_RETRIES = 20  # eviction.go EvictionsRetry: Steps 20
MAX_DISRUPTED_POD_SIZE = 2000  # eviction.go MaxDisruptedPodSize
PDB_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def _selects(selector: Any, pod_labels: dict[str, str]) -> bool:
    """A policy/v1 budget's selector: nil selects nothing, empty selects everything."""
    if not isinstance(selector, dict):
        return False
    exprs = tuple(
        Requirement(str(e.get("key", "")), str(e.get("operator", "")), tuple(e.get("values") or ()))
        for e in selector.get("matchExpressions") or ()
    )
    try:
        return LabelSelector(
            tuple(sorted((selector.get("matchLabels") or {}).items())), exprs
        ).matches(pod_labels)
    except ValueError:
        return False


def _too_many_requests(cause: str) -> ApiError:
    """errors.NewTooManyRequests(message, 0) with a DisruptionBudget cause: kubectl drain
    reads the 429 and retries ("will retry after 5s")."""
    return ApiError(
        429,
        "TooManyRequests",
        PDB_VIOLATION,
        details={"causes": [{"reason": "DisruptionBudget", "message": cause}]},
    )


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
        if isinstance(c, dict)
    )


def _check_and_decrement(registry: Any, pdb: Obj, pod_name: str, dry_run: bool) -> bool:
    """checkAndDecrement: refuse (429/403) or spend one allowed disruption, noting the
    pod in disruptedPods for the disruption controller; False on a lost CAS (retry)."""
    assert PDBS is not None
    meta, status = pdb["metadata"], pdb.get("status") or {}
    name = meta["name"]
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 1):
        raise _too_many_requests(
            f"The disruption budget {name} is still being processed by the server."
        )
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise forbidden_eviction(pod_name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        raise forbidden_eviction(
            pod_name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        )
    if allowed == 0:
        raise _too_many_requests(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently"
        )
    if dry_run:
        return True
    out = copy.deepcopy(pdb)
    st = out.setdefault("status", {})
    st["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:  # pdbhelper.UpdateDisruptionAllowedCondition
        conds = [c for c in st.get("conditions") or () if c.get("type") != "DisruptionAllowed"]
        old: dict[str, Any] = next(
            (c for c in st.get("conditions") or () if c.get("type") == "DisruptionAllowed"), {}
        )
        cond = dict(
            old, type="DisruptionAllowed", status="False", reason="InsufficientPods", message=""
        )
        if old.get("status") != "False":
            cond["lastTransitionTime"] = registry.now()
        st["conditions"] = [*conds, cond]
    st.setdefault("disruptedPods", {})[pod_name] = registry.now()
    try:
        registry.update(PDBS, meta.get("namespace"), name, out, subresource="status")
    except ApiError as e:
        if e.code == 409:
            return False
        raise
    return True


def forbidden_eviction(pod_name: str, message: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'pods "{pod_name}" is forbidden: {message}',
        details={"name": pod_name, "kind": "pods"},
    )


def evict_pod(
    registry: Any, namespace: str, name: str, delete: Callable[[], Any], *, dry_run: bool = False
) -> None:
    """POST pods/<name>/eviction (pkg/registry/core/pod/storage/eviction.go
    EvictionREST.Create): a pod that is terminal, pending or being deleted, or that no
    budget selects, is deleted (``delete``, with the Eviction's DeleteOptions); one
    budget must allow a disruption first (429 TooManyRequests when it does not, which
    ``kubectl drain`` retries); an unready pod follows the budget's
    unhealthyPodEvictionPolicy; more than one budget is a 500, as upstream."""
    assert PODS is not None and PDBS is not None
    pod = registry.store.get(PODS.key(namespace, name))
    if pod is None:
        raise not_found("", "pods", name)
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
        delete()  # canIgnorePDB
        return
    pod_labels = pod["metadata"].get("labels") or {}
    for _ in range(EVICTION_RETRIES):
        pdbs = [
            p
            for p in registry.store.list(PDBS.prefix(namespace))[0]
            if _selects((p.get("spec") or {}).get("selector"), pod_labels)
        ]
        if not pdbs:
            break
        if len(pdbs) > 1:
            raise ApiError(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support.",
            )
        pdb = pdbs[0]
        st = pdb.get("status") or {}
        if not _ready(pod):
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
            desired = int(st.get("desiredHealthy") or 0)
            if policy == "AlwaysAllow" or (
                int(st.get("currentHealthy") or 0) >= desired and desired > 0
            ):
                break
        if _check_and_decrement(registry, pdb, name, dry_run):
            break
    else:
        raise conflict(
            "policy", "poddisruptionbudgets", name, "the object has been modified; please retry"
        )
    delete()
