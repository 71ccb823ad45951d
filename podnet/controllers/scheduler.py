"""kube-scheduler in miniature: bind each pod without ``spec.nodeName`` to a node.

Filters as the default plugins do for what podnet models (pkg/scheduler/framework/
plugins): NodeName, NodeUnschedulable, TaintToleration, NodeAffinity (``nodeSelector`` and required
node affinity, ``matchExpressions`` on labels and ``matchFields`` on
``metadata.name``, as DaemonSet pods carry) and NodeResourcesFit's pod count
(allocatable ``pods``, 110 as kubelet's --max-pods and podnet/control/scheduler.py).
Among feasible nodes the one with the fewest pods wins, then node order: the same
score :func:`podnet.control.scheduler.place` uses. A pod no node fits gets
``PodScheduled=False``, reason ``Unschedulable``, the FitError message
(schedule_one.go), and waits until a pod is deleted or a node added
(MoveAllToActiveOrBackoffQueue). VolumeBinding's PreFilter comes first: a pod whose
claim is missing, being deleted or not yet bound waits unscheduled with its message,
and is tried again when a claim changes.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from podnet.apiserver.binding import bind_pod
from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.control.scheduler import MAX_PODS
from podnet.controllers.base import (
    Controller,
    condition,
    deleting,
    labels,
    meta,
    name,
    namespace,
    pod_phase,
    record_event,
    rfc3339,
)
from podnet.controllers.informer import obj_key
from podnet.controllers.volume.persistentvolume import claim_volumes

PODS: Resource = by_kind("", "Pod")  # type: ignore[assignment]
NODES: Resource = by_kind("", "Node")  # type: ignore[assignment]
CLAIMS: Resource = by_kind("", "PersistentVolumeClaim")  # type: ignore[assignment]
SCHEDULER_NAME = "default-scheduler"


@functools.lru_cache(maxsize=4096)
def node_order(node_name: str) -> tuple[int, str]:
    """node-2 before node-10 (cached: every pod's placement ranks every node)."""
    m = re.fullmatch(r"(.*?)(\d+)", node_name)
    return (int(m.group(2)), m.group(1)) if m else (1 << 30, node_name)


def allocatable_pods(node: Obj) -> int:
    alloc = (node.get("status") or {}).get("allocatable") or {}
    try:
        return int(alloc.get("pods", MAX_PODS))
    except (TypeError, ValueError):
        return MAX_PODS


def _term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """One nodeSelectorTerm: every expression and field requirement holds
    (component-helpers/scheduling/corev1/nodeaffinity)."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches nothing
    node_labels = labels(node)
    for e in exprs:
        if not _requirement(
            e, node_labels.get(str(e.get("key"))), str(e.get("key")) in node_labels
        ):
            return False
    for f in fields:
        if f.get("key") != "metadata.name":
            return False
        if not _requirement(f, name(node), True):
            return False
    return True


def _requirement(req: Mapping[str, Any], value: str | None, present: bool) -> bool:
    op = req.get("operator")
    values = [str(v) for v in req.get("values") or ()]
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            a, b = int(value or ""), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def affinity_fits(pod: Obj, node: Obj) -> bool:
    """NodeAffinity filter: nodeSelector, then required node affinity (terms ORed)."""
    spec = pod.get("spec") or {}
    node_labels = labels(node)
    for k, v in (spec.get("nodeSelector") or {}).items():
        if node_labels.get(k) != v:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    return any(_term_matches(t, node) for t in terms)


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1 Toleration.ToleratesTaint: effect (empty: all), key (empty with Exists:
    all), then Exists or Equal on the value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(pod: Obj, node: Obj) -> dict[str, Any] | None:
    """TaintToleration filter: the first NoSchedule/NoExecute taint no toleration covers."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or ():
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return dict(taint)
    return None


def pick_node(pod: Obj, nodes: Sequence[Obj], load: Mapping[str, int]) -> tuple[str | None, str]:
    """The node for ``pod`` (fewest pods, then node order) or None and the FitError
    message ``0/N nodes are available: <count> <reason>, ...`` (reasons sorted)."""
    reasons: dict[str, int] = {}
    best: tuple[int, tuple[int, str], str] | None = None
    wanted = (pod.get("spec") or {}).get("nodeName")
    for node in nodes:
        n = name(node)
        taint = untolerated_taint(pod, node)
        # filters in the default profile's order: the first that fails names the reason
        if (node.get("spec") or {}).get("unschedulable"):
            reason = "node(s) were unschedulable"
        elif wanted and n != wanted:
            reason = "node(s) didn't match the requested node name"
        elif taint is not None:
            shown = f"{taint.get('key', '')}: {taint.get('value', '')}"
            reason = "node(s) had untolerated taint {" + shown + "}"
        elif not affinity_fits(pod, node):
            reason = "node(s) didn't match Pod's node affinity/selector"
        elif load.get(n, 0) >= allocatable_pods(node):
            reason = "Too many pods"
        else:
            cand = (load.get(n, 0), node_order(n), n)
            if best is None or cand < best:
                best = cand
            continue
        reasons[reason] = reasons.get(reason, 0) + 1
    if best is not None:
        return best[2], ""
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return None, f"0/{len(nodes)} nodes are available: {', '.join(parts)}."


def _fit_fields(node: Obj) -> tuple[Any, ...]:
    spec = node.get("spec") or {}
    return (labels(node), spec.get("unschedulable"), spec.get("taints"), allocatable_pods(node))


def counts_on_node(pod: Obj) -> str | None:
    """The node a pod occupies: bound and not terminal (kubelet admission and the
    scheduler cache both drop finished pods)."""
    node = (pod.get("spec") or {}).get("nodeName")
    if not node or pod_phase(pod) in ("Succeeded", "Failed"):
        return None
    return str(node)


def wants_scheduling(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME
        and not deleting(pod)
        and pod_phase(pod) not in ("Succeeded", "Failed")
    )


class Scheduler(Controller):
    name = "scheduler"

    def setup(self) -> None:
        self.pods = self.informers.get(PODS)
        self.nodes = self.informers.get(NODES)
        # whether the registry takes pods/binding as a create (an API client), else
        # bind_pod is called: looked up once, not per pod
        params = inspect.signature(self.registry.create).parameters
        self._binding_subresource = "subresource" in params
        self._lock = threading.Lock()
        self._on_node: dict[str, str] = {}  # pod key -> node it occupies
        self._load: dict[str, int] = {}
        self._assumed: dict[str, str] = {}  # pods bound here, not yet seen bound
        self._unschedulable: set[str] = set()
        self._moves = 0  # bumped when room may have appeared (moveRequestCycle)
        self.claims = self.informers.get(CLAIMS)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node_event)
        self.claims.add_handler(self._on_claim)

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        key = obj_key(new)
        node = None if type_ == "DELETED" else counts_on_node(new)
        with self._lock:
            prev = self._on_node.pop(key, None)
            if prev is not None:
                self._load[prev] -= 1
            if node is not None:
                self._on_node[key] = node
                self._load[node] = self._load.get(node, 0) + 1
                self._assumed.pop(key, None)
            freed = prev is not None and node is None
            if type_ == "DELETED":
                self._assumed.pop(key, None)
                self._unschedulable.discard(key)
            retry = list(self._unschedulable) if freed else []
            if freed:
                self._moves += 1
                self._unschedulable.clear()
        for k in retry:
            self.queue.add(k)
        if type_ != "DELETED" and wants_scheduling(new):
            self.queue.add(key)

    def _on_node_event(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ == "DELETED":
            return
        if old is not None and new is not None and _fit_fields(old) == _fit_fields(new):
            return  # a heartbeat: nothing a pod's fit depends on changed
        self._move_all()

    def _on_claim(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        """A claim came, was bound or went: the pods waiting on claims try again."""
        self._move_all()

    def _move_all(self) -> None:
        """MoveAllToActiveOrBackoffQueue: every unschedulable pod is tried again."""
        with self._lock:
            retry = list(self._unschedulable)
            self._unschedulable.clear()
            self._moves += 1
        for k in retry:
            self.queue.add(k)

    def claims_problem(self, pod: Obj) -> str | None:
        """volumebinding PreFilter (plugins/volumebinding/binder.go GetPodVolumeClaims):
        a missing or deleting claim, else any claim without a volume (binding is
        immediate here: podnet's class binds at once)."""
        unbound = False
        for claim in claim_volumes(pod):
            pvc = self.claims.get(f"{namespace(pod)}/{claim}")
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            if deleting(pvc):
                return f'persistentvolumeclaim "{claim}" is being deleted'
            if not (pvc.get("spec") or {}).get("volumeName"):
                unbound = True
        return "pod has unbound immediate PersistentVolumeClaims" if unbound else None

    def load(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._load)
            for node in self._assumed.values():
                out[node] = out.get(node, 0) + 1
            return out

    def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or not wants_scheduling(pod):
            return
        with self._lock:
            if key in self._assumed:
                return  # bound; the informer has not caught up yet
            moves = self._moves
        nodes = self.nodes.objects()
        problem = self.claims_problem(pod)
        if problem is not None:
            message = f"0/{len(nodes)} nodes are available: {problem}."
            self._unschedulable_pod(key, pod, message, moves)
            return
        node, message = pick_node(pod, nodes, self.load())
        if node is None:
            self._unschedulable_pod(key, pod, message, moves)
            return
        with self._lock:
            self._assumed[key] = node  # assume (scheduler cache AssumePod)
        try:
            self._bind(pod, node)
        except ApiError:
            with self._lock:
                self._assumed.pop(key, None)
            raise
        record_event(
            self.registry,
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {namespace(pod)}/{name(pod)} to {node}",
            SCHEDULER_NAME,
        )

    def _bind(self, pod: Obj, node: str) -> None:
        """POST pods/binding: spec.nodeName and PodScheduled=True in one write (pod
        storage's assignPod); an update could not change spec.nodeName."""
        ns, n = namespace(pod), name(pod)
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": n, "namespace": ns, "uid": meta(pod).get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        if self._binding_subresource:
            self.registry.create(PODS, ns, body, subresource="binding")
        else:
            bind_pod(self.registry, ns, n, body)

    def _set_scheduled(self, pod: Obj, status: str, reason: str | None, message: str) -> None:
        st = pod.setdefault("status", {})
        conds = [c for c in st.get("conditions") or () if c.get("type") != "PodScheduled"]
        cond: dict[str, Any] = {
            "type": "PodScheduled",
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": rfc3339(self.clock()),
        }
        if reason:
            cond["reason"] = reason
            cond["message"] = message
        st["conditions"] = [cond, *conds]
        st.setdefault("phase", "Pending")

    def _unschedulable_pod(self, key: str, pod: Obj, message: str, moves: int) -> None:
        with self._lock:
            if self._moves != moves:  # room appeared while deciding: try again
                self.queue.add(key)
            else:
                self._unschedulable.add(key)
        cond = condition(pod, "PodScheduled")
        if (
            cond is not None
            and cond.get("reason") == "Unschedulable"
            and cond.get("message") == message
        ):
            return
        fresh = copy.deepcopy(pod)
        self._set_scheduled(fresh, "False", "Unschedulable", message)
        self.registry.update(PODS, namespace(pod), name(pod), fresh, subresource="status")
        record_event(self.registry, pod, "Warning", "FailedScheduling", message, SCHEDULER_NAME)
