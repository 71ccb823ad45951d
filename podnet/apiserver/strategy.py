"""Per-kind create/update/delete rules: what each ``pkg/registry/<group>/<kind>/strategy.go``
does in PrepareForCreate, PrepareForUpdate and CheckGracefulDelete, plus the ``scale``
and ``finalize`` subresources. Pure functions over JSON-shaped objects; the registry
(:mod:`podnet.apiserver.registry`) calls them in upstream's order.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

from podnet.apiserver.autoscaling import hpa
from podnet.apiserver.crd import custom, definition
from podnet.apiserver.errors import ApiError, bad_request, invalid
from podnet.apiserver.resources import Resource

Obj = dict[str, Any]

# Kinds whose strategy sets metadata.generation = 1 on create and bumps it on spec
# changes (deployment, replicaset, statefulset, daemonset, job, replicationcontroller,
# networkpolicy, endpointslice strategies; pods since 1.33, KEP-5067; CRDs with status).
GENERATION_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "ReplicationController",
        "NetworkPolicy",
        "EndpointSlice",
        "CronJob",  # cronjob, ingress, ingressclass, poddisruptionbudget strategies
        "Ingress",
        "IngressClass",
        "PodDisruptionBudget",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "CustomResourceDefinition",
    }
)
CRD = "CustomResourceDefinition"
SCALE_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"})


def has_status(res: Resource) -> bool:
    return "status" in res.subresources


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def prepare_for_create(res: Resource, obj: Obj) -> None:
    """Status as each strategy's PrepareForCreate leaves it (before defaulting)."""
    kind = res.kind
    if kind == "Node":
        return  # node strategy keeps status: the kubelet registers with it
    if res.custom is not None:
        custom.check_create(res)
    if has_status(res):
        obj.pop("status", None)
    if kind == CRD and res.custom is None:
        definition.apply_defaults(obj)
    if kind == "Namespace":
        _spec(obj)["finalizers"] = ["kubernetes"]  # namespace strategy PrepareForCreate
    if kind == hpa.KIND and res.group == hpa.GROUP:
        hpa.apply_defaults(obj)


def after_defaults_create(res: Resource, obj: Obj) -> None:
    """What needs the defaulted object and its uid (pod QoS class, job selector)."""
    if res.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(_spec(obj))}
    elif res.kind == "Job":
        job_selector(obj)
    elif res.kind == "PersistentVolume" and res.group == "":
        # persistentvolume strategy PrepareForCreate (PersistentVolumeLastPhaseTransitionTime,
        # GA in 1.31): Pending since now, the create's own timestamp
        obj["status"] = {
            "phase": "Pending",
            "lastPhaseTransitionTime": obj["metadata"]["creationTimestamp"],
        }
    if res.kind in GENERATION_KINDS or res.custom is not None:
        obj["metadata"]["generation"] = 1  # customResourceStrategy.PrepareForCreate too


def qos_class(spec: Obj) -> str:
    """pkg/apis/core/v1/helper/qos GetPodQOS, over cpu and memory."""
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)]
    containers += [c for c in (spec.get("initContainers") or []) if isinstance(c, dict)]
    requests: list[dict[str, Any]] = []
    limits: list[dict[str, Any]] = []
    for c in containers:
        r = c.get("resources") or {}
        requests.append(
            {k: v for k, v in (r.get("requests") or {}).items() if k in ("cpu", "memory")}
        )
        limits.append({k: v for k, v in (r.get("limits") or {}).items() if k in ("cpu", "memory")})
    if not any(requests) and not any(limits):
        return "BestEffort"
    guaranteed = all(
        set(lim) == {"cpu", "memory"} and all(req.get(k, lim[k]) == lim[k] for k in lim)
        for req, lim in zip(requests, limits, strict=True)
    )
    return "Guaranteed" if guaranteed else "Burstable"


def job_selector(obj: Obj) -> None:
    """batch/job strategy generateSelector: a selector on the job's uid, the same labels
    (legacy and ``batch.kubernetes.io/``-prefixed) on its pod template."""
    spec = _spec(obj)
    if spec.get("manualSelector") is True:
        return
    meta = obj["metadata"]
    uid, name = meta["uid"], meta["name"]
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    labels = tmeta.setdefault("labels", {})
    labels.update(
        {
            "controller-uid": uid,
            "job-name": name,
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
        }
    )
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


def _without(obj: Obj, *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}


def prepare_for_update(
    res: Resource, old: Obj, new: Obj, subresource: str | None, *, owned: bool = False
) -> Obj:
    """The object to validate and store for a PUT of ``new`` over ``old`` (a new dict,
    or with ``owned`` of a main resource ``new`` itself, changed in place: the caller's
    private copy, which nothing else holds).

    Main resource: status kept from ``old``. ``status``: see :func:`prepare_status_update`.
    ``finalize`` (namespaces): only ``spec.finalizers``. System fields (uid,
    creationTimestamp, generation, deletion*) always come from ``old``.
    """
    if subresource == "status":
        return prepare_status_update(res, old, new)
    if subresource == "finalize":
        out = copy.deepcopy(old)
        meta = out["metadata"]
        for key in ("resourceVersion", "managedFields"):
            if key in new.get("metadata", {}):
                meta[key] = copy.deepcopy(new["metadata"][key])
        fin = (new.get("spec") or {}).get("finalizers") or []
        _spec(out)["finalizers"] = list(fin)
        return out
    if subresource == "ephemeralcontainers":
        return _ephemeral_update(old, new)
    if subresource is not None:
        raise bad_request(f"subresource {subresource!r} cannot be updated this way")
    if res.custom is not None:
        return custom.prepare_update(res, old, new)
    if res.kind == CRD:
        definition.apply_defaults(new)
    out = new if owned else copy.deepcopy(new)
    if res.kind == hpa.KIND and res.group == hpa.GROUP:
        hpa.apply_defaults(out)
    meta = out.setdefault("metadata", {})
    old_meta = old["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if res.kind == "Namespace":
        _spec(out)["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])
    if has_status(res) or res.kind == "Namespace":
        if "status" in old:
            out["status"] = copy.deepcopy(old["status"])
        else:
            out.pop("status", None)
    set_generation(res, old, out)
    return out


def set_generation(res: Resource, old: Obj, out: Obj) -> None:
    """``out``'s generation: ``old``'s, plus one when the spec changed (each strategy's
    PrepareForUpdate). The registry calls it again once ``out`` is defaulted: upstream
    compares decoded, so defaulted, objects (a template replaced by an equal one minus
    its defaults is no change)."""
    meta, old_meta = out["metadata"], old["metadata"]
    if res.custom is not None:
        custom.set_generation(res, old, out)
        return
    if res.kind in GENERATION_KINDS:
        gen = old_meta.get("generation", 1)
        changed = _without(out, "metadata", "status", "apiVersion", "kind") != _without(
            old, "metadata", "status", "apiVersion", "kind"
        )
        # Deployment annotations are copied to its ReplicaSets: they bump it too
        # (apps/deployment/strategy.go PrepareForUpdate).
        if res.kind == "Deployment" and meta.get("annotations") != old_meta.get("annotations"):
            changed = True
        meta["generation"] = gen + 1 if changed else gen
    else:
        meta.pop("generation", None)
        if "generation" in old_meta:
            meta["generation"] = old_meta["generation"]


# Kinds served by CustomResourceDefinitions on a real cluster (network-policy-api): their
# status writes keep all metadata but managedFields (apiextensions-apiserver
# pkg/registry/customresource/status_strategy.go PrepareForUpdate copies the old object).
CRD_KINDS = frozenset({"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"})
# What a status write never changes, whatever the body says (rest.BeforeUpdate keeps
# generation, uid, creationTimestamp, deletionTimestamp/GracePeriodSeconds; name and
# namespace are the request's).
_SYSTEM_META = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
# Metadata a kind's status strategy resets to the stored one, beyond _SYSTEM_META:
# deploymentStatusStrategy (pkg/registry/apps/deployment/strategy.go: Spec and Labels,
# its GetResetFields "spec", "metadata.labels"); podStatusStrategy
# (pkg/registry/core/pod/strategy.go: ownerReferences, "old kubelets corrupt them").
# The other in-tree status strategies (replicaset, statefulset, daemonset, job,
# replicationcontroller, service, node, namespace) reset only the spec.
_STATUS_KEEPS_META: dict[str, tuple[str, ...]] = {
    "Deployment": ("labels",),
    "Pod": ("ownerReferences",),
}


def prepare_status_update(res: Resource, old: Obj, new: Obj) -> Obj:
    """``<kind>/status`` PUT: ``old`` with ``new``'s status and, as each in-tree status
    strategy's PrepareForUpdate leaves it, ``new``'s metadata but for the system fields
    and what the kind resets (a Deployment's labels, a Pod's ownerReferences): the
    deployment controller writes its revision annotation this way, so it bumps no
    generation. CRD-served kinds keep all of ``old``'s metadata. Pods also as
    podStatusStrategy.PrepareForUpdate: qosClass backfilled, observedGeneration kept when
    the writer left it out.

    Shallow: everything but ``metadata`` and ``status`` is ``old``'s own subtree, shared
    (stored objects are never changed in place), so a kubelet's write copies no spec;
    metadata values equal to the stored ones are the stored ones, others are copied.
    """
    out = dict(old)
    old_meta = old["metadata"]
    given = new.get("metadata") or {}
    if res.kind in CRD_KINDS or res.custom is not None:
        meta = dict(old_meta)
        for key in ("resourceVersion", "managedFields"):
            if key in given:
                meta[key] = copy.deepcopy(given[key])
    else:
        keep = _SYSTEM_META + _STATUS_KEEPS_META.get(res.kind, ())
        meta = {k: v for k, v in old_meta.items() if k in keep}
        for key, value in given.items():
            if key in keep:
                continue
            old_value = old_meta.get(key)
            meta[key] = old_value if value == old_value else copy.deepcopy(value)
    out["metadata"] = meta
    status = dict(new.get("status") or {})
    if res.kind == "Pod":
        old_status = old.get("status") or {}
        for key in ("qosClass", "observedGeneration"):
            if not status.get(key) and old_status.get(key):
                status[key] = old_status[key]
        _keep_condition_generations(status, old_status)
    elif res.kind == "PersistentVolume" and res.group == "":
        _phase_transition(status, old.get("status") or {})
    out["status"] = status
    return out


def _phase_transition(status: Obj, old_status: Obj) -> None:
    """persistentvolumeStatusStrategy.PrepareForUpdate: a write that keeps the phase
    and leaves lastPhaseTransitionTime out keeps the stored one; a write that changes
    the phase and leaves the time out (or as stored) gets now. ``now`` is the process
    clock: status writes do not reach the registry's."""
    was = old_status.get("lastPhaseTransitionTime")
    given = status.get("lastPhaseTransitionTime")
    if status.get("phase") == old_status.get("phase"):
        if given is None and was is not None:
            status["lastPhaseTransitionTime"] = was
    elif given is None or given == was:
        status["lastPhaseTransitionTime"] = rfc3339(time.time())


def _keep_condition_generations(status: Obj, old_status: Obj) -> None:
    """preserveOldObservedGeneration: a condition written without observedGeneration
    keeps the one its type had (the n-th of a type the n-th's)."""
    old_gens: dict[Any, list[Any]] = {}
    for c in old_status.get("conditions") or ():
        if isinstance(c, dict):
            old_gens.setdefault(c.get("type"), []).append(c.get("observedGeneration"))
    if not any(any(g) for g in old_gens.values()):
        return
    if not isinstance(status.get("conditions"), list):
        return
    conditions = []
    for c in status["conditions"]:
        gens = old_gens.get(c.get("type")) if isinstance(c, dict) else None
        if gens:
            gen = gens.pop(0)
            if not c.get("observedGeneration"):
                c = {**c, "observedGeneration": gen}
        conditions.append(c)
    status["conditions"] = conditions


def _ephemeral_update(old: Obj, new: Obj) -> Obj:
    """``pods/ephemeralcontainers``: only ``spec.ephemeralContainers`` is taken from
    ``new``, the rest of the pod stays as stored, and a changed spec bumps the generation
    (pkg/registry/core/pod/strategy.go podEphemeralContainersStrategy.PrepareForUpdate,
    dropNonEphemeralContainerUpdates, updatePodGeneration)."""
    out = copy.deepcopy(old)
    meta = out["metadata"]
    for key in ("resourceVersion", "managedFields"):
        if key in new.get("metadata", {}):
            meta[key] = copy.deepcopy(new["metadata"][key])
    given = (new.get("spec") or {}).get("ephemeralContainers")
    spec = _spec(out)
    if given:
        spec["ephemeralContainers"] = copy.deepcopy(given)
    else:
        spec.pop("ephemeralContainers", None)
    if spec != (old.get("spec") or {}):
        meta["generation"] = old["metadata"].get("generation", 1) + 1
    return out


def label_selector_string(selector: Any) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key."""
    if not isinstance(selector, dict):
        return ""
    parts: list[tuple[str, str]] = []
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}  # a ReplicationController's plain map
    for k, v in sorted((selector.get("matchLabels") or {}).items()):
        parts.append((k, f"{k}={v}"))
    for req in selector.get("matchExpressions") or []:
        key, op = req.get("key", ""), req.get("operator", "")
        values = ",".join(sorted(req.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op, key)
        parts.append((key, text))
    return ",".join(t for _, t in sorted(parts, key=lambda p: p[0]))


def to_scale(res: Resource, obj: Obj) -> Obj:
    """The autoscaling/v1 Scale of a scalable object (``<kind>/scale`` GET)."""
    if res.custom is not None and res.custom.scale is not None:
        return custom.to_scale(res, obj)
    if res.kind not in SCALE_KINDS:
        raise bad_request(f"{res.plural} do not have a scale subresource")
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {
            "replicas": status.get("replicas", 0),
            "selector": label_selector_string(spec.get("selector")),
        },
    }


def from_scale(res: Resource, old: Obj, scale: Obj) -> Obj:
    """``old`` with the Scale's ``spec.replicas`` (``<kind>/scale`` PUT)."""
    if res.custom is not None and res.custom.scale is not None:
        return custom.from_scale(res, old, scale)
    if res.kind not in SCALE_KINDS:
        raise bad_request(f"{res.plural} do not have a scale subresource")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    out = copy.deepcopy(old)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    out["metadata"]["resourceVersion"] = rv or ""
    if replicas != (old.get("spec") or {}).get("replicas"):
        out["spec"]["replicas"] = replicas
        if res.kind in GENERATION_KINDS:
            out["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
    return out


def graceful_period(res: Resource, obj: Obj, requested: int | None) -> int:
    """Seconds a delete waits (0: remove now). Pods bound to a node and still running get
    their termination grace (pod strategy CheckGracefulDelete); other kinds none."""
    if res.kind != "Pod":
        return 0
    spec = obj.get("spec") or {}
    if not spec.get("nodeName"):
        return 0
    if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    period = requested if requested is not None else spec.get("terminationGracePeriodSeconds", 30)
    period = int(period)
    return 1 if period < 0 else period


# Kinds whose DELETE without a propagationPolicy orphans dependents (batch/v1 job and
# core/v1 replicationcontroller strategies' DefaultGarbageCollectionPolicy, kept for
# backward compatibility); every other kind deletes them in the background.
ORPHAN_BY_DEFAULT = frozenset({"ReplicationController", "Job"})
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def deletion_finalizers(res: Resource, finalizers: list[str], propagation: str | None) -> list[str]:
    """The finalizers after a DELETE with ``propagation`` (store.go
    deletionFinalizersForGarbageCollection): Orphan adds ``orphan``, Foreground adds
    ``foregroundDeletion``, Background removes both."""
    if propagation is None:
        if ORPHAN_FINALIZER in finalizers or FOREGROUND_FINALIZER in finalizers:
            return finalizers  # a second delete keeps the first one's choice
        propagation = "Orphan" if res.kind in ORPHAN_BY_DEFAULT else "Background"
    if propagation not in ("Orphan", "Foreground", "Background"):
        raise bad_request(
            f'Unsupported value: "{propagation}": supported values: '
            '"Orphan", "Background", "Foreground"'
        )
    out = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if propagation == "Orphan":
        out.append(ORPHAN_FINALIZER)
    elif propagation == "Foreground":
        out.append(FOREGROUND_FINALIZER)
    return out


def rfc3339(t: float) -> str:
    """metav1.Time on the wire: RFC 3339, whole seconds, UTC. The last second's text is
    kept: every write stamps one or more times, thousands of them within a second."""
    global _last_stamp
    second = math.floor(t)
    last = _last_stamp
    if last[0] == second:
        return last[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    _last_stamp = (second, text)  # one tuple: threads read it whole
    return text


_last_stamp: tuple[int, str] = (-1, "")


def plan_delete(
    res: Resource, current: Obj, propagation: str | None, grace_period: int | None, now: float
) -> Obj | None:
    """What a DELETE does to ``current``: None to remove it now, else the object to
    store (store.go Delete, rest.BeforeDelete, updateForGracefulDeletionAndFinalizers).

    Finalizers (including the GC's ``orphan``/``foregroundDeletion``) or a pod's grace
    keep it with ``deletionTimestamp`` (now + grace) and ``deletionGracePeriodSeconds``;
    a second delete may only shorten the grace. A Namespace turns Terminating and waits
    for its ``spec.finalizers`` (the namespace controller, then ``finalize``).
    """
    meta = current["metadata"]
    if res.kind == CRD and res.custom is None and not meta.get("deletionTimestamp"):
        current = _crd_delete(current, now)
        meta = current["metadata"]
    finalizers = deletion_finalizers(res, list(meta.get("finalizers") or []), propagation)
    grace = graceful_period(res, current, grace_period)
    left = meta.get("deletionGracePeriodSeconds") or 0
    pending = bool(meta.get("deletionTimestamp"))
    if pending:
        grace = min(grace, left) if grace_period is not None else left
    keep = bool(finalizers) or grace > 0
    if res.kind == "Namespace":
        grace = 0
        keep = keep or bool((current.get("spec") or {}).get("finalizers"))
    if not keep:
        return None
    out = copy.deepcopy(current)
    ometa = out["metadata"]
    if not pending or grace < left:
        ometa["deletionTimestamp"] = rfc3339(now + grace)
        ometa["deletionGracePeriodSeconds"] = grace
    if finalizers:
        ometa["finalizers"] = finalizers
    else:
        ometa.pop("finalizers", None)
    if res.kind == "Namespace":
        out.setdefault("status", {})["phase"] = "Terminating"
    return out


def _crd_delete(current: Obj, now: float) -> Obj:
    """A CRD's first DELETE (apiextensions-apiserver pkg/registry/customresourcedefinition
    etcd.go Delete): deletionTimestamp, the cleanup finalizer and the Terminating
    condition; the CRD finalizer controller deletes its objects, then the finalizer."""
    out = copy.deepcopy(current)
    meta = out["metadata"]
    meta.setdefault("deletionTimestamp", rfc3339(now))
    meta.setdefault("deletionGracePeriodSeconds", 0)
    fins = list(meta.get("finalizers") or ())
    if definition.CLEANUP_FINALIZER not in fins:
        fins.append(definition.CLEANUP_FINALIZER)
    meta["finalizers"] = fins
    definition.set_condition(
        out.setdefault("status", {}),
        "Terminating",
        "True",
        "InstanceDeletionPending",
        "CustomResource deletion is pending",
        rfc3339(now),
    )
    return out


def may_go(res: Resource, obj: Obj) -> bool:
    """Whether a deleting object whose finalizers are gone is removed by that update
    (store.go ShouldDeleteDuringUpdate): a pod still in its grace period stays until the
    kubelet deletes it; a Namespace waits for its spec.finalizers too."""
    if res.kind == "Namespace":
        return not (obj.get("spec") or {}).get("finalizers")
    return res.kind != "Pod" or not obj["metadata"].get("deletionGracePeriodSeconds")


def same(a: Obj, b: Obj) -> bool:
    """Equal but for resourceVersion and managedFields: such a write is skipped, as
    GuaranteedUpdate skips one whose bytes do not change."""
    strip = ("resourceVersion", "managedFields")
    return {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    } and {k: v for k, v in a["metadata"].items() if k not in strip} == {
        k: v for k, v in b["metadata"].items() if k not in strip
    }


NS_MISMATCH = (
    "the namespace of the provided object does not match the namespace sent on the request"
)


def request_namespace(res: Resource, namespace: str | None, meta: Obj) -> str | None:
    """The namespace a create goes to: the path's unless the body names another (400);
    the body's when the path has none; cluster-scoped objects lose theirs."""
    if not res.namespaced:
        meta.pop("namespace", None)
        return None
    body_ns = meta.get("namespace")
    if namespace and body_ns and body_ns != namespace:
        raise bad_request(NS_MISMATCH)
    ns = body_ns or namespace
    if not ns:
        raise bad_request("an empty namespace may not be set during creation")
    meta["namespace"] = ns
    return str(ns)


def check_create_meta(res: Resource, meta: Obj) -> str | None:
    """rest.BeforeCreate's metadata rules; drops the system fields a client may not set
    and returns the generateName to use (None when a name is given)."""
    if meta.get("resourceVersion"):
        raise bad_request("resourceVersion should not be set on objects to be created")
    generate = None if meta.get("name") else meta.get("generateName")
    if not meta.get("name") and not generate:
        raise invalid(
            res.group,
            res.kind,
            "",
            [
                (
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )
            ],
        )
    for key in ("uid", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"):
        meta.pop(key, None)
    return str(generate) if generate else None


def terminating(res: Resource, ns: str, name: str) -> ApiError:
    """NamespaceLifecycle admission's refusal (plugin/pkg/admission/namespace/lifecycle)."""
    what = f"{res.plural}.{res.group}" if res.group else res.plural
    details: Obj = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    return ApiError(
        403,
        "Forbidden",
        f'{what} "{name}" is forbidden: unable to create new content in namespace {ns} '
        "because it is being terminated",
        details=details,
    )
