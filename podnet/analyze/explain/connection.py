"""``podnet explain``: trace one connection the way a person would, step by step.

The path a packet takes in a cluster, and so the steps recorded here:

1. **DNS** - a name is resolved by the source pod's resolver (search path, ndots:5;
   :mod:`podnet.analyze.explain.dns`) against the cluster DNS records.
2. **Service** - a ClusterIP is load-balanced by kube-proxy to one endpoint: the
   Service port picks the targetPort, resolved per pod (named ports). A Service with
   no endpoints rejects the connection. A headless Service's name resolves straight to
   the pods.
3. **Policy** - policy is enforced on pod IPs after that translation: egress at the
   source, ingress at the endpoint; both must allow
   (https://kubernetes.io/docs/concepts/services-networking/network-policies/). Each
   direction goes through the cluster admin's Admin tier, NetworkPolicy, then the
   Baseline tier (network-policy-api); the step names the tier and rule that decided
   and any Pass on the way. A pod reaching itself (through its own Service) is always
   allowed: "a pod cannot block access to itself".

A connection counts as *reachable* only when every endpoint it may be sent to is
allowed: kube-proxy picks one at random, so a partly blocked Service fails
intermittently, which is reported as not reachable (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from podnet.analyze.explain.dns import Lookup, QueryFn, cluster_query, lookup
from podnet.analyze.explain.target import (
    SERVICE_KINDS,
    PortSpec,
    find_pod,
    find_service,
    is_kind_ref,
    source_pod,
    split_port,
)
from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.verdict import Verdict
from podnet.control.served import container_ports
from podnet.errors import TargetError
from podnet.model.addresses import is_ip
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod, Service, ServicePort


@dataclass(frozen=True)
class Hop:
    """One place the connection may land (an endpoint pod, a pod, or an outside IP)."""

    pod: str  # namespace/name, or "" when the address is no pod
    ip: str
    node: str
    port: int
    protocol: str
    verdict: Verdict


@dataclass(frozen=True)
class Explanation:
    source: Pod
    target: str  # TO as given
    kind: str  # "service" | "pod" | "ip" | "unresolved" | "external"
    lookup: Lookup | None
    service: Service | None
    service_port: ServicePort | None
    hops: tuple[Hop, ...]
    reachable: bool
    result: str  # one sentence
    notes: tuple[str, ...] = ()
    dns_verdict: Verdict | None = None  # the lookup itself: source -> kube-dns pod, UDP 53


def _svc_port(svc: Service, ps: PortSpec) -> ServicePort | None:
    ports = [p for p in svc.ports if ps.protocol is None or p.protocol == ps.protocol]
    if ps.port is None:
        if len(svc.ports) == 1:
            return svc.ports[0]
        listed = ", ".join(f"{p.port}/{p.protocol}" for p in svc.ports)
        raise TargetError(f"Service {svc.key} has several ports ({listed}); say which: TO:PORT")
    if isinstance(ps.port, str):
        return next((p for p in ports if p.name == ps.port), None)
    return next((p for p in ports if p.port == ps.port), None)


def _pod_port(pod: Pod, ps: PortSpec) -> tuple[int, str]:
    proto = ps.protocol or "TCP"
    if isinstance(ps.port, int):
        return ps.port, proto
    if isinstance(ps.port, str):
        num = pod.named_port(ps.port, proto)
        if num is None:
            raise TargetError(f"pod {pod.key} has no {proto} port named {ps.port!r}")
        return num, proto
    ports = container_ports(pod)
    if len(ports) == 1:
        return ports[0].container_port, ports[0].protocol
    if not ports:
        raise TargetError(
            f"pod {pod.key} declares no port (and its image none known); say which port: TO:PORT"
        )
    listed = ", ".join(f"{p.container_port}/{p.protocol}" for p in ports)
    raise TargetError(f"pod {pod.key} serves {listed}; say which port: TO:PORT")


class Tracer:
    """Holds the cluster and engine; :meth:`explain` is a pure function of them."""

    def __init__(self, state: ClusterState, query: QueryFn | None = None) -> None:
        self.state = state
        self.engine = PolicyEngine.of_state(state)
        self.query = query or cluster_query(state)
        self.pods_by_ip = {p.ip: p for p in state.pods if p.ip}
        self.dns_pods = [
            p
            for p in state.pods
            if p.namespace == "kube-system" and p.labels.get("k8s-app") == "kube-dns" and p.ip
        ]
        self.svc_by_ip = {
            s.cluster_ip: s for s in state.services if s.cluster_ip and not s.headless
        }

    def _hop(self, src: Pod, dst: Pod | str, port: int, proto: str) -> Hop:
        v = self.engine.verdict(src, dst, port, proto)
        if isinstance(dst, Pod):
            return Hop(dst.key, dst.ip or "", dst.node or "", port, proto, v)
        return Hop("", dst, "", port, proto, v)

    def via_service(
        self, src: Pod, target: str, svc: Service, ps: PortSpec, lk: Lookup | None = None
    ) -> Explanation:
        def done(
            hops: tuple[Hop, ...], ok: bool, result: str, sp: ServicePort | None
        ) -> Explanation:
            return Explanation(src, target, "service", lk, svc, sp, hops, ok, result)

        if svc.type == "ExternalName":
            return done(
                (),
                False,
                f"Service {svc.key} is ExternalName "
                f"({svc.external_name}): outside the cluster, not traced",
                None,
            )
        sp = _svc_port(svc, ps)
        if sp is None:
            listed = ", ".join(f"{p.port}/{p.protocol}" for p in svc.ports) or "no ports"
            return done(
                (),
                False,
                f"Service {svc.key} does not expose {ps.port} (it has {listed});"
                " the connection is refused",
                None,
            )
        eps = self.state.endpoints.get(svc.key, {}).get(sp.name, ())
        hops = []
        for ep in eps:
            pod = self.state.pod(ep.pod)
            port = sp.port if svc.headless and ps.port is None else ep.port
            hops.append(self._hop(src, pod if pod is not None else ep.ip, port, ep.protocol))
        if not hops:
            return done(
                (),
                False,
                f"Service {svc.key} port {sp.port} has no endpoints: "
                "kube-proxy rejects the connection",
                sp,
            )
        return done(tuple(hops), *_summary(hops), sp)

    def to_pods(
        self,
        src: Pod,
        target: str,
        pods: list[Pod | str],
        ps: PortSpec,
        lk: Lookup | None,
        kind: str,
    ) -> Explanation:
        first = next((p for p in pods if isinstance(p, Pod)), None)
        if first is not None:
            port, proto = _pod_port(first, ps)
        elif isinstance(ps.port, int):
            port, proto = ps.port, ps.protocol or "TCP"
        else:
            raise TargetError(f"{target} is outside the cluster; say which port: TO:PORT")
        hops = [self._hop(src, p, port, proto) for p in pods]
        ok, result = _summary(hops)
        notes = (
            (
                "an address outside the pod network: only NetworkPolicy is judged here, "
                "not whether anything answers there",
            )
            if any(isinstance(p, str) for p in pods)
            else ()
        )
        return Explanation(src, target, kind, lk, None, None, tuple(hops), ok, result, notes)

    def by_ip(self, src: Pod, target: str, ip: str, ps: PortSpec, lk: Lookup | None) -> Explanation:
        if ip in self.svc_by_ip:
            return self.via_service(src, target, self.svc_by_ip[ip], ps, lk)
        pod = self.pods_by_ip.get(ip)
        return self.to_pods(
            src,
            target,
            [pod if pod is not None else ip],
            ps,
            lk,
            "pod" if pod is not None else "ip",
        )

    def explain(self, src_spec: str, to_spec: str, namespace: str | None = None) -> Explanation:
        """``namespace`` (``-n``) applies to FROM; TO defaults to the source's namespace.

        When a name was looked up, the lookup itself is a UDP connection to a cluster DNS
        pod that policy may block (egress at the source; ingress at the DNS pod, which a
        cluster admin's policy may select); then nothing else happens (the lookup times
        out), whatever the Service path would have allowed.
        """
        e = self._explain(src_spec, to_spec, namespace)
        if e.lookup is None or not self.dns_pods:
            return e
        v = self.engine.verdict(e.source, self.dns_pods[0], 53, "UDP")
        if v.allowed:
            return replace(e, dns_verdict=v)
        # egress at the source, or (a cluster-wide policy) ingress at the DNS pod
        where = "egress policy" if not v.egress.allowed else "ingress policy at the DNS pod"
        return replace(
            e,
            dns_verdict=v,
            reachable=False,
            result=f"not reachable: the DNS lookup itself is blocked by {where} "
            f"(it times out); had it answered: {e.result}",
        )

    def _explain(self, src_spec: str, to_spec: str, namespace: str | None) -> Explanation:
        src = source_pod(self.state, src_spec, namespace or "default")
        to_ns = namespace or src.namespace
        target, ps = split_port(to_spec)
        if is_ip(target):
            return self.by_ip(src, to_spec, target, ps, None)
        if is_kind_ref(target):
            if target.split("/")[0].lower() not in SERVICE_KINDS:
                pod = find_pod(self.state, target, to_ns)
                if pod is not None:
                    return self.to_pods(src, to_spec, [pod], ps, None, "pod")
            svc = find_service(self.state, target, to_ns)
            if svc is None:
                raise TargetError(f"no pod, workload or Service {target!r}")
            return self.via_service(src, to_spec, svc, ps)
        lk = lookup(target.lower(), src.namespace, self.query)
        if lk.answer is not None:
            addrs = lk.addresses
            if len(addrs) == 1:
                return self.by_ip(src, to_spec, addrs[0], ps, lk)
            if addrs:
                pods: list[Pod | str] = [self.pods_by_ip.get(a) or a for a in addrs]
                return self.to_pods(src, to_spec, pods, ps, lk, "pod")
            return Explanation(
                src,
                to_spec,
                "external",
                lk,
                None,
                None,
                (),
                False,
                f"{target} is an alias for {lk.cname}, outside the cluster",
            )
        pod = find_pod(self.state, target, to_ns) if "." not in target else None
        if pod is not None:
            return self.to_pods(src, to_spec, [pod], ps, lk, "pod")
        why = "outside the cluster: podnet has no upstream DNS" if lk.went_upstream else "NXDOMAIN"
        return Explanation(
            src,
            to_spec,
            "unresolved",
            lk,
            None,
            None,
            (),
            False,
            f"{target} does not resolve ({why})",
        )


def _summary(hops: list[Hop]) -> tuple[bool, str]:
    ok = [h for h in hops if h.verdict.allowed]
    if len(ok) == len(hops):
        return (
            True,
            f"reachable: {'the' if len(hops) == 1 else 'all'} "
            f"{len(hops)} destination{'s' * (len(hops) > 1)} allowed",
        )
    if ok:
        return False, (
            f"partly reachable: {len(ok)} of {len(hops)} destinations allowed; "
            "connections to the others are dropped"
        )
    return False, f"not reachable: {_deniers(hops)} every destination"


def _deniers(hops: list[Hop]) -> str:
    """Who denies, e.g. "AdminNetworkPolicy/x denies" or "NetworkPolicy denies"."""
    who: dict[str, None] = {}
    for h in hops:
        for d in (h.verdict.egress, h.verdict.ingress):
            if not d.allowed:
                who.setdefault(d.decided_by.policy if d.decided_by else "NetworkPolicy", None)
    names = list(who)
    return " and ".join(names) + (" deny" if len(names) > 1 else " denies")


def explain(state: ClusterState, src: str, to: str, namespace: str | None = None) -> Explanation:
    return Tracer(state).explain(src, to, namespace)
