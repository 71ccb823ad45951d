"""EndpointSlices and Endpoints of Services with a selector (pkg/controller/endpointslice:
endpointslice_controller.go, reconciler.go, utils.go; pkg/controller/endpoint:
endpoints_controller.go).

The rules are those of :mod:`podnet.control.endpoints` (same namespace, selector match,
an IP; a named targetPort resolved per pod, a pod lacking it left out of that port;
``hostname`` when the pod's subdomain names the Service), mirrored here over API dicts
rather than called: that function takes podnet's model objects and drops not-ready
pods, while an EndpointSlice keeps them with ``ready: false`` (and terminating pods
with ``terminating: true``), and the Endpoints object lists them as notReadyAddresses.

Pods whose targetPorts resolve to different numbers get different port lists, so they
go to different slices (one port list per slice), at most 100 endpoints each. Existing
slices are reused: an endpoint stays in the slice holding it, new ones fill free room,
and only slices whose content changed are written (reconciler.go reconcileByAddressType).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import (
    Controller,
    SyncCosts,
    by_namespace,
    deleting,
    labels,
    meta,
    name,
    namespace,
    owner_reference,
    pod_phase,
    pod_ready,
)
from podnet.controllers.informer import obj_key
from podnet.controllers.replicaset import PODS

SERVICES: Resource = by_kind("", "Service")  # type: ignore[assignment]
SLICES: Resource = by_kind("discovery.k8s.io", "EndpointSlice")  # type: ignore[assignment]
ENDPOINTS: Resource = by_kind("", "Endpoints")  # type: ignore[assignment]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MAX_ENDPOINTS = 100  # --max-endpoints-per-slice default
# endpointUpdatesBatchPeriod: pod changes within it make one sync of their Service (a
# sync reads every pod of the Service, so syncing per pod grows with the square of them)
BATCH_PERIOD = 0.05
STALE_AFTER = 5.0  # seconds to wait for the informer to show a slice written here
# The Endpoints object is synced under a key of its own (upstream it is another
# controller, pkg/controller/endpoint, with its own --endpoint-updates-batch-period):
# "ep:" cannot start a namespace name, so it never clashes with a Service's key.
ENDPOINTS_KEY = "ep:"
# A Service's slices sync waits at least BATCH_PERIOD after a pod change, and at least
# SYNC_COST_FACTOR times what its last sync cost (it reads every pod of the Service);
# its Endpoints sync at least ENDPOINTS_COST_FACTOR times, up to ENDPOINTS_MAX_DELAY:
# that one object of every address (up to 1000) is rewritten whole on each change, so
# it is rewritten at most ~2% of the time while the pods keep changing, and catches up
# with the slices once they stop (base.SyncCosts). The data plane reads the slices.
SYNC_COST_FACTOR = 20.0
ENDPOINTS_COST_FACTOR = 50.0
ENDPOINTS_MAX_DELAY = 5.0

Ports = tuple[tuple[str, int, str], ...]  # (name, port, protocol), in Service order


def find_port(pod: Obj, target: Any, protocol: str) -> int | None:
    """podutil.FindPort: a number as is, a name looked up in the containers' ports."""
    if isinstance(target, int):
        return target
    text = str(target)
    if text.isdigit():
        return int(text)
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            if p.get("name") == text and p.get("protocol", "TCP") == protocol:
                return int(p["containerPort"])
    return None


def pod_ports(svc: Obj, pod: Obj) -> Ports:
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or ():
        protocol = sp.get("protocol", "TCP")
        target = sp.get("targetPort", sp.get("port"))
        num = find_port(pod, target, protocol)
        if num is not None:
            out.append((str(sp.get("name", "")), num, protocol))
    return tuple(out)


def pod_ip(pod: Obj) -> str | None:
    st = pod.get("status") or {}
    ips = st.get("podIPs") or []
    for entry in ips:
        ip = entry.get("ip") if isinstance(entry, dict) else None
        if ip and ":" not in ip:
            return str(ip)
    ip = st.get("podIP")
    return str(ip) if ip and ":" not in str(ip) else None


def _hostname(svc: Obj, pod: Obj) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == name(svc):
        return str(spec["hostname"])
    return None


def _target_ref(pod: Obj) -> dict[str, str]:
    return {
        "kind": "Pod",
        "namespace": namespace(pod),
        "name": name(pod),
        "uid": str(meta(pod).get("uid", "")),
    }


def slice_endpoint(svc: Obj, pod: Obj, ip: str) -> dict[str, Any]:
    """utils.go podToEndpoint."""
    serving = pod_ready(pod)
    terminating = deleting(pod)
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    ep: dict[str, Any] = {
        "addresses": [ip],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
        "targetRef": _target_ref(pod),
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    hostname = _hostname(svc, pod)
    if hostname:
        ep["hostname"] = hostname
    return ep


@dataclass(frozen=True)
class PodEndpoint:
    """What one pod gives one Service: computed once per pod version and reused by the
    EndpointSlice endpoint and the Endpoints address alike."""

    ip: str
    ports: Ports
    endpoint: dict[str, Any]  # the EndpointSlice endpoint (podToEndpoint)
    address: dict[str, Any]  # the Endpoints address
    ready: bool  # Endpoints: addresses (else notReadyAddresses)
    terminating: bool


def pod_endpoint(svc: Obj, pod: Obj) -> PodEndpoint | None:
    """The pod's endpoint for ``svc``, None when it backs none (other namespace, labels
    not matching, finished, no IPv4 address yet)."""
    selector = (svc.get("spec") or {}).get("selector") or {}
    if namespace(pod) != namespace(svc) or pod_phase(pod) in ("Succeeded", "Failed"):
        return None
    pod_labels = labels(pod)
    if not all(pod_labels.get(k) == v for k, v in selector.items()):
        return None
    ip = pod_ip(pod)
    if ip is None:
        return None
    ep = slice_endpoint(svc, pod, ip)
    address: dict[str, Any] = {"ip": ip}
    if "hostname" in ep:
        address["hostname"] = ep["hostname"]
    if "nodeName" in ep:
        address["nodeName"] = ep["nodeName"]
    address["targetRef"] = ep["targetRef"]
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    return PodEndpoint(
        ip=ip,
        ports=pod_ports(svc, pod),
        endpoint=ep,
        address=address,
        ready=publish or pod_ready(pod),
        terminating=deleting(pod),
    )


def group_by_ports(infos: Sequence[PodEndpoint]) -> dict[Ports, dict[str, dict[str, Any]]]:
    """EndpointSlice endpoints grouped by their resolved port list: ports -> {ip: ep}."""
    out: dict[Ports, dict[str, dict[str, Any]]] = {}
    for info in infos:
        out.setdefault(info.ports, {})[info.ip] = info.endpoint
    return out


def desired_endpoints(svc: Obj, pods: Sequence[Obj]) -> dict[Ports, dict[str, dict[str, Any]]]:
    """Endpoints grouped by their resolved port list: ports -> {ip: endpoint}."""
    return group_by_ports([i for p in pods if (i := pod_endpoint(svc, p)) is not None])


def _ip_key(ep: Mapping[str, Any]) -> tuple[int, ...]:
    try:
        return _ip_tuple(ep["addresses"][0])
    except (KeyError, IndexError):
        return ()


@functools.lru_cache(maxsize=1 << 16)
def _ip_tuple(ip: str) -> tuple[int, ...]:
    """An address's sort key, kept: every sync sorts its slices' endpoints by it."""
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return ()


def slice_ports(ports: Ports) -> list[dict[str, Any]]:
    return [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]


def ports_of_slice(sl: Obj) -> Ports:
    return tuple(
        (str(p.get("name", "")), int(p.get("port") or 0), str(p.get("protocol", "TCP")))
        for p in sl.get("ports") or ()
    )


@dataclass
class SlicePlan:
    create: list[tuple[Ports, list[dict[str, Any]]]] = field(default_factory=list)
    update: list[tuple[Obj, list[dict[str, Any]]]] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    # slice name -> the ports it takes, for a slice rewritten in place of a create
    ports: dict[str, Ports] = field(default_factory=dict)


def plan_slices(
    desired: Mapping[Ports, Mapping[str, dict[str, Any]]],
    existing: Sequence[Obj],
    max_per_slice: int = MAX_ENDPOINTS,
) -> SlicePlan:
    """reconcileByPortMapping: keep endpoints where they are, fill room, add slices."""
    plan = SlicePlan()
    if not any(desired.values()):
        # no endpoints: one placeholder slice, without ports or endpoints (reconciler.go
        # placeholderSliceCompare)
        keep = [sl for sl in existing if not sl.get("ports") and not sl.get("endpoints")][:1]
        plan.delete = [sl for sl in existing if not any(sl is k for k in keep)]
        if not keep:
            plan.create.append(((), []))
        return _reuse_deleted(plan)
    by_ports: dict[Ports, list[Obj]] = {}
    for sl in sorted(existing, key=name):
        by_ports.setdefault(ports_of_slice(sl), []).append(sl)
    for ports, slices in by_ports.items():
        if ports not in desired:
            plan.delete += slices
    for ports, wanted in desired.items():
        placed: set[str] = set()
        contents: list[tuple[Obj, list[dict[str, Any]], bool]] = []
        for sl in by_ports.get(ports, []):
            kept = []
            changed = False
            for ep in sl.get("endpoints") or ():
                ip = (ep.get("addresses") or [""])[0]
                new = wanted.get(ip)
                if new is None or ip in placed:
                    changed = True
                    continue
                placed.add(ip)
                kept.append(new)
                changed = changed or new != ep
            contents.append((sl, kept, changed))
        fresh = sorted((ep for ip, ep in wanted.items() if ip not in placed), key=_ip_key)
        # fill slices already being written first, then any with room (reconciler.go)
        contents.sort(key=lambda c: (not c[2], name(c[0])))
        for i, (sl, kept, changed) in enumerate(contents):
            room = max_per_slice - len(kept)
            if room > 0 and fresh:
                kept += fresh[:room]
                fresh = fresh[room:]
                changed = True
            contents[i] = (sl, kept, changed)
        for sl, kept, changed in contents:
            if not kept:
                plan.delete.append(sl)
            elif changed:
                plan.update.append((sl, sorted(kept, key=_ip_key)))
        while fresh:
            plan.create.append((ports, fresh[:max_per_slice]))
            fresh = fresh[max_per_slice:]
    return _reuse_deleted(plan)


def _reuse_deleted(plan: SlicePlan) -> SlicePlan:
    """reconciler.go finalize: "If there are slices to create and delete, change the
    creates to updates of the slices that would otherwise be deleted", so a Service
    whose last pod is replaced keeps its slice's name (the slice goes to a placeholder
    and back) instead of churning through generated names."""
    while plan.create and plan.delete:
        ports, eps = plan.create.pop()
        sl = plan.delete.pop(0)
        plan.update.append((sl, eps))
        plan.ports[name(sl)] = ports
    return plan


def subsets_of(infos: Sequence[PodEndpoint], publish: bool) -> list[dict[str, Any]]:
    """endpoints_controller.go syncService: addresses per port list, ready or not
    (terminating pods left out unless publishNotReadyAddresses), repacked by ports."""
    groups: dict[Ports, tuple[list[PodEndpoint], list[PodEndpoint]]] = {}
    for info in infos:
        if info.terminating and not publish:
            continue
        ready, not_ready = groups.setdefault(info.ports, ([], []))
        (ready if info.ready else not_ready).append(info)
    subsets = []
    for ports in sorted(groups):
        ready, not_ready = groups[ports]
        sub: dict[str, Any] = {}
        if ready:
            sub["addresses"] = [i.address for i in sorted(ready, key=_info_key)]
        if not_ready:
            sub["notReadyAddresses"] = [i.address for i in sorted(not_ready, key=_info_key)]
        if ports:
            sub["ports"] = slice_ports(ports)
        subsets.append(sub)
    return subsets


def _info_key(info: PodEndpoint) -> tuple[int, ...]:
    return _ip_key(info.endpoint)


def endpoints_subsets(svc: Obj, pods: Sequence[Obj]) -> list[dict[str, Any]]:
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    return subsets_of([i for p in pods if (i := pod_endpoint(svc, p)) is not None], publish)


def managed_labels(svc: Obj) -> dict[str, str]:
    out = {k: v for k, v in labels(svc).items() if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    out[SERVICE_NAME_LABEL] = name(svc)
    out[MANAGED_BY_LABEL] = MANAGED_BY
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        out[HEADLESS_LABEL] = ""
    return out


def serves_endpoints(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


class EndpointSliceController(Controller):
    """Both controllers in one loop: each Service sync writes its slices and its
    Endpoints from the same pod list."""

    name = "endpointslice"

    def setup(self) -> None:
        self.services = self.informers.get(SERVICES)
        self.pods = self.informers.get(PODS)
        self.slices = self.informers.get(SLICES)
        self.endpoints = self.informers.get(ENDPOINTS)
        self.pods.add_index("namespace", by_namespace)
        self.services.add_index("namespace", by_namespace)
        self.slices.add_index("service", self._slice_service)
        self._lock = threading.Lock()
        # endpointSliceTracker: slices this controller wrote that its informer has not
        # shown yet (name -> resourceVersion written, -1 for a delete); the Service
        # waits for them, so a lagging cache never makes a second placeholder.
        self._written: dict[str, dict[str, int]] = {}
        self._written_at: dict[str, float] = {}
        # per Service: id(pod) -> (pod, Service, its endpoint), from the last sync
        self._memo: dict[str, dict[int, tuple[Obj, Obj, PodEndpoint | None]]] = {}
        self.sync_costs = SyncCosts(BATCH_PERIOD, SYNC_COST_FACTOR)
        self.endpoints_costs = SyncCosts(BATCH_PERIOD, ENDPOINTS_COST_FACTOR, ENDPOINTS_MAX_DELAY)
        self.services.add_handler(self._on_service)
        self.pods.add_handler(self._on_pod)
        self.slices.add_handler(self._on_slice)
        self.endpoints.add_handler(self._on_endpoints)

    @staticmethod
    def _slice_service(sl: Obj) -> list[str]:
        lab = labels(sl)
        if lab.get(MANAGED_BY_LABEL) != MANAGED_BY or SERVICE_NAME_LABEL not in lab:
            return []
        return [f"{namespace(sl)}/{lab[SERVICE_NAME_LABEL]}"]

    def _on_service(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        """The Services a pod change concerns (endpoint/controller_utils.go
        GetServicesToUpdateOnPodChange): on an add or delete, those selecting it; on
        an update that changes its endpoint, those selecting it before or after; on
        one that changes only its labels, those it joined or left (a pod that stays
        in a Service with the same endpoint changes none of its slices)."""
        assert new is not None
        pod_changed, labels_changed = True, False
        if old is not None and type_ == "MODIFIED":
            pod_changed, labels_changed = _pod_changed(old, new)
            if not pod_changed and not labels_changed:
                return
        for svc in self.services.by_index("namespace", namespace(new)):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if not selector:
                continue
            now = all(labels(new).get(k) == v for k, v in selector.items())
            before = old is not None and all(labels(old).get(k) == v for k, v in selector.items())
            # determineNeededServiceUpdates: the union when the endpoint changed,
            # else the symmetric difference
            if (now or before) if pod_changed else (now != before):
                key = obj_key(svc)
                self.queue.add_after(key, self.sync_costs.delay(key))

    def _on_slice(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        for key in self._slice_service(new):
            with self._lock:
                tracked = key in self._written
            if tracked or type_ == "DELETED" or self.services.get(key) is None:
                self.queue.add(key)

    def _track(self, key: str, slice_name: str, rv: int) -> None:
        with self._lock:
            self._written.setdefault(key, {})[slice_name] = rv
            self._written_at[key] = time.monotonic()

    def _waiting(self, key: str) -> bool:
        """Whether a slice written for this Service is not yet in the cache as written."""
        ns = key.partition("/")[0]
        with self._lock:
            pending = self._written.get(key)
            if not pending:
                return False
            for slice_name, want in list(pending.items()):
                cached = self.slices.get(f"{ns}/{slice_name}")
                if want < 0:
                    caught_up = cached is None
                else:
                    rv = int(meta(cached).get("resourceVersion") or 0) if cached else -1
                    caught_up = rv >= want
                if caught_up:
                    del pending[slice_name]
            if not pending:
                del self._written[key]
                return False
            if time.monotonic() - self._written_at.get(key, 0.0) > STALE_AFTER:
                del self._written[key]  # never seen: stop waiting
                return False
            return True

    def _on_endpoints(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ == "DELETED" and new is not None:
            self.queue.add(obj_key(new))

    def sync(self, key: str) -> None:
        if key.startswith(ENDPOINTS_KEY):
            self._sync_endpoints_key(key[len(ENDPOINTS_KEY) :])
            return
        svc = self.services.get(key)
        ns = key.partition("/")[0]
        if svc is None:
            self._memo.pop(key, None)
            self.sync_costs.forget(key)
            self.endpoints_costs.forget(key)
            self._service_gone(key, ns)
            return
        if not serves_endpoints(svc) or deleting(svc):
            return
        if self._waiting(key):
            self.queue.add_after(key, 0.05)
            return
        self.sync_costs.measure(key, lambda: self._sync_slices(svc, self._pod_endpoints(key, svc)))
        # the queue keeps the earlier of two waits: a steady stream of pod changes makes
        # one Endpoints write per wait, not one per slices sync
        self.queue.add_after(ENDPOINTS_KEY + key, self.endpoints_costs.delay(key))

    def _sync_endpoints_key(self, key: str) -> None:
        svc = self.services.get(key)
        if svc is None or not serves_endpoints(svc) or deleting(svc):
            return
        self.endpoints_costs.measure(
            key, lambda: self._sync_endpoints(svc, self._pod_endpoints(key, svc))
        )

    def _pod_endpoints(self, key: str, svc: Obj) -> list[PodEndpoint]:
        """Every pod's endpoint for the Service, recomputed only for pods (or a
        Service) changed since the last sync: the informer replaces an object's dict on
        every change and never mutates one, so the dicts themselves (held in the memo,
        so their ids are not reused) tell the versions apart."""
        old = self._memo.get(key, {})
        memo: dict[int, tuple[Obj, Obj, PodEndpoint | None]] = {}
        out: list[PodEndpoint] = []
        for pod in self.pods.by_index("namespace", namespace(svc)):
            hit = old.get(id(pod))
            if hit is None or hit[0] is not pod or hit[1] is not svc:
                hit = (pod, svc, pod_endpoint(svc, pod))
            memo[id(pod)] = hit
            if hit[2] is not None:
                out.append(hit[2])
        self._memo[key] = memo
        return out

    def _service_gone(self, key: str, ns: str) -> None:
        """Slices go with the Service through the garbage collector (owner reference);
        the Endpoints object has none and is deleted here, as the endpoints controller."""
        ep = self.endpoints.get(key)
        if ep is not None:
            try:
                self.registry.delete(ENDPOINTS, ns, name(ep))
            except ApiError as e:
                if e.code != 404:
                    raise

    def _sync_slices(self, svc: Obj, infos: Sequence[PodEndpoint]) -> None:
        ns = namespace(svc)
        existing = [
            sl
            for sl in self.slices.by_index("service", obj_key(svc))
            if any(
                r.get("uid") == meta(svc).get("uid") for r in meta(sl).get("ownerReferences") or ()
            )
        ]
        desired = group_by_ports(infos)
        plan = plan_slices(desired, existing)
        want_labels = managed_labels(svc)
        for ports, eps in plan.create:
            self._create_slice(svc, ports, eps, want_labels)
        for sl, eps in plan.update:
            # shallow, as the Endpoints' below: the registry copies what it stores
            fresh = {**sl, "metadata": dict(meta(sl)), "endpoints": eps}
            fresh["metadata"]["labels"] = want_labels
            if name(sl) in plan.ports:
                fresh["ports"] = slice_ports(plan.ports[name(sl)])
            out = self.registry.update(SLICES, ns, name(sl), fresh)
            self._track(obj_key(svc), name(sl), int(meta(out).get("resourceVersion") or 0))
        for sl in plan.delete:
            try:
                self.registry.delete(SLICES, ns, name(sl))
            except ApiError as e:
                if e.code != 404:
                    raise
                continue
            self._track(obj_key(svc), name(sl), -1)
        written = {id(sl) for sl in plan.delete} | {id(sl) for sl, _ in plan.update}
        for sl in existing:
            if id(sl) in written:
                continue
            if labels(sl) != want_labels:
                fresh = {**sl, "metadata": {**meta(sl), "labels": want_labels}}
                out = self.registry.update(SLICES, ns, name(sl), fresh)
                self._track(obj_key(svc), name(sl), int(meta(out).get("resourceVersion") or 0))

    def _create_slice(
        self, svc: Obj, ports: Ports, eps: list[dict[str, Any]], want_labels: dict[str, str]
    ) -> None:
        sl = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{name(svc)}-",
                "namespace": namespace(svc),
                "labels": dict(want_labels),
                "ownerReferences": [owner_reference(svc, SERVICES)],
            },
            "addressType": "IPv4",
            "endpoints": eps,
            "ports": slice_ports(ports),
        }
        out = self.registry.create(SLICES, namespace(svc), sl)
        self._track(obj_key(svc), name(out), int(meta(out).get("resourceVersion") or 0))

    def _sync_endpoints(self, svc: Obj, infos: Sequence[PodEndpoint]) -> None:
        ns = namespace(svc)
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        subsets = subsets_of(infos, publish)
        want_labels = {k: v for k, v in labels(svc).items()}
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            want_labels[HEADLESS_LABEL] = ""
        current = self.endpoints.get(obj_key(svc))
        if current is None:
            obj: Obj = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name(svc), "namespace": ns, "labels": want_labels},
                "subsets": subsets,
            }
            if not want_labels:
                del obj["metadata"]["labels"]
            try:
                self.registry.create(ENDPOINTS, ns, obj)
            except ApiError as e:
                if e.reason != "AlreadyExists":
                    raise
                self.queue.add_after(obj_key(svc), 0.01)
            return
        if (current.get("subsets") or []) == subsets and (labels(current) == want_labels):
            return
        # Shallow: the registry's update reads the body into copies of its own
        # (prepare_for_update), so the cached object is never changed through it.
        fresh = {**current, "metadata": dict(meta(current)), "subsets": subsets}
        if want_labels:
            fresh["metadata"]["labels"] = want_labels
        else:
            fresh["metadata"].pop("labels", None)
        self.registry.update(ENDPOINTS, ns, name(svc), fresh)


def _pod_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """podEndpointsChanged: (the pod's endpoint changed, its labels or hostname and
    subdomain changed). The endpoint: deletion, readiness, IPs, and (podnet's
    pod_endpoint leaves finished pods out) phase and nodeName."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = labels(old) != labels(new) or any(
        old_spec.get(f) != new_spec.get(f) for f in ("hostname", "subdomain")
    )
    pod_changed = (
        pod_ip(old) != pod_ip(new)
        or pod_ready(old) != pod_ready(new)
        or deleting(old) != deleting(new)
        or pod_phase(old) != pod_phase(new)
        or old_spec.get("nodeName") != new_spec.get("nodeName")
    )
    return pod_changed, labels_changed
