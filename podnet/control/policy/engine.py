"""The NetworkPolicy engine: the verdict for one connection (networking.k8s.io/v1).

Semantics from k8s.io/api networking/v1 ``types.go`` and
kubernetes.io/docs/concepts/services-networking/network-policies/:

* a pod is isolated for ingress (egress) when a policy of its namespace selects it and
  lists that type in policyTypes; otherwise that direction allows everything;
* policies are additive (the union of the isolating policies' rules; no deny rules);
* a connection needs the source's egress and the destination's ingress; a non-pod
  address has no policies, so only the pod's side applies;
* traffic between a pod and its own node is always allowed ("Pod isolation"), when the
  engine is given ``nodes``;
* only the first packet is judged; replies pass by connection tracking, as in every
  implementation (so a UDP probe needs no reverse rule).

Atoms in :mod:`podnet.control.policy.match`, result types in
:mod:`podnet.control.policy.verdict`. Pure: no I/O, deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from podnet.control.policy.match import (
    EGRESS,
    INGRESS,
    IPAddress,
    applies,
    default_namespace_labels,
    parse_ip,
    parse_network,
    rule_peers_match,
    rule_ports_match,
    rules_of,
    selects,
)
from podnet.control.policy.verdict import DirectionVerdict, RuleRef, Verdict
from podnet.errors import ManifestError
from podnet.model.cluster import Node
from podnet.model.objects import PROTOCOLS, Namespace, NetworkPolicy, Pod


@dataclass(frozen=True)
class _End:
    """One end of a connection: a pod (maybe without an IP yet) or a bare address."""

    name: str
    pod: Pod | None
    ip: IPAddress | None


class PolicyEngine:
    """Verdicts over a fixed set of namespaces, pods and policies.

    The constructor only indexes its inputs; :meth:`verdict` is a pure function of them.
    """

    def __init__(
        self,
        namespaces: Sequence[Namespace],
        pods: Sequence[Pod],
        policies: Sequence[NetworkPolicy],
        *,
        nodes: Sequence[Node] = (),
    ) -> None:
        self._ns_labels: dict[str, Mapping[str, str]] = {ns.name: ns.labels for ns in namespaces}
        self._by_ip: dict[IPAddress, Pod] = {}
        for pod in pods:
            if pod.ip is not None:
                self._by_ip.setdefault(parse_ip(pod.ip), pod)
        self._node_ips: dict[str, set[IPAddress]] = {}
        for node in nodes:
            # The node's own address, and the gateway address it holds on its pod
            # network (the first host of its pod CIDR), from which kubelet probes come.
            gateway = parse_ip(str(parse_network(node.pod_cidr).network_address + 1))
            self._node_ips[node.name] = {parse_ip(node.address), gateway}
        self._by_ns: dict[str, list[NetworkPolicy]] = {}
        for pol in sorted(policies, key=lambda p: (p.namespace, p.name)):
            self._by_ns.setdefault(pol.namespace, []).append(pol)

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        labels = self._ns_labels.get(namespace)
        return labels if labels is not None else default_namespace_labels(namespace)

    def policies_for(self, pod: Pod, direction: str) -> list[NetworkPolicy]:
        """The policies isolating ``pod`` for ``direction``, sorted by ns/name."""
        return [
            p
            for p in self._by_ns.get(pod.namespace, ())
            if applies(p, direction) and selects(p, pod)
        ]

    def verdict(self, src: Pod | str, dst: Pod | str, port: int, protocol: str = "TCP") -> Verdict:
        """May ``src`` open a connection to ``dst`` on ``port``/``protocol``?

        ``src``/``dst`` are pods or IP addresses; an address that is a known pod's IP
        stands for that pod. ``dst`` is the *final* destination: for a Service, the
        endpoint pod after DNAT, as kube-proxy and every CNI judge it.
        """
        proto = protocol.upper()
        if proto not in PROTOCOLS:
            raise ManifestError(f"unknown protocol {protocol!r} (expected TCP, UDP or SCTP)")
        if not 0 < port < 65536:
            raise ManifestError(f"port {port} out of range 1-65535")
        s, d = self._end(src), self._end(dst)
        egress = self._direction(EGRESS, subject=s, peer=d, dst=d, port=port, protocol=proto)
        ingress = self._direction(INGRESS, subject=d, peer=s, dst=d, port=port, protocol=proto)
        if self._own_node(d, s):
            ingress = replace(ingress, allowed=True, note=f"{d.name} always admits its own node")
        if self._own_node(s, d):
            egress = replace(egress, allowed=True, note=f"{s.name} may always reach its own node")
        return Verdict.of(egress, ingress)

    def _own_node(self, pod_end: _End, other: _End) -> bool:
        """Is ``other`` the node ``pod_end`` runs on? (needs ``nodes`` at construction)

        NetworkPolicy docs: "traffic to and from the node where a Pod is running is
        always allowed, regardless of the IP address of the Pod or the node".
        """
        if pod_end.pod is None or other.pod is not None or other.ip is None:
            return False
        node = pod_end.pod.node
        return node is not None and other.ip in self._node_ips.get(node, ())

    def _end(self, x: Pod | str) -> _End:
        if isinstance(x, Pod):
            return _End(x.key, x, parse_ip(x.ip) if x.ip is not None else None)
        ip = parse_ip(x)
        pod = self._by_ip.get(ip)
        if pod is not None:
            return _End(pod.key, pod, ip)
        return _End(str(ip), None, ip)

    def _direction(
        self, direction: str, *, subject: _End, peer: _End, dst: _End, port: int, protocol: str
    ) -> DirectionVerdict:
        def made(isolating: tuple[str, ...], by: tuple[RuleRef, ...], ok: bool) -> DirectionVerdict:
            return DirectionVerdict(
                direction,
                bool(isolating),
                isolating,
                by,
                ok,
                subject=subject.name,
                peer=peer.name,
                port=port,
                protocol=protocol,
                is_pod=subject.pod is not None,
            )

        if subject.pod is None:
            return made((), (), True)
        isolating = self.policies_for(subject.pod, direction)
        if not isolating:
            return made((), (), True)
        peer_ns_labels = self.namespace_labels(peer.pod.namespace) if peer.pod is not None else None
        allowed_by: list[RuleRef] = []
        for pol in isolating:
            for i, rule in enumerate(rules_of(pol, direction)):
                if rule_ports_match(rule, port, protocol, dst.pod) and rule_peers_match(
                    rule, pol.namespace, peer.pod, peer.ip, peer_ns_labels
                ):
                    allowed_by.append(RuleRef(pol.key, direction, i))
        return made(tuple(p.key for p in isolating), tuple(allowed_by), bool(allowed_by))
