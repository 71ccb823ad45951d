"""The policy engine: the verdict for one connection, through every tier.

Per direction (apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier``): the Admin tier
(AdminNetworkPolicy / ClusterNetworkPolicy tier Admin; Accept and Deny final, Pass skips
to NetworkPolicy), then NetworkPolicy v1 (final for an isolated pod), then the Baseline
tier, then allow (:mod:`podnet.control.policy.tiers`). A pod reaching itself (through
its own Service) is always allowed: "a pod cannot block access to itself" (NetworkPolicy
docs), as podnet's data plane does. NetworkPolicy v1 semantics
(networking.k8s.io/v1):

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

from collections.abc import Callable, Mapping, Sequence
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
from podnet.control.policy.tiers import (
    TierMatch,
    first_match,
    layered,
    peer_matches,
    pods_match,
    tier_order,
)
from podnet.control.policy.tiers import (
    rule_ports_match as cluster_ports_match,
)
from podnet.control.policy.verdict import DirectionVerdict, RuleRef, Verdict
from podnet.errors import ManifestError
from podnet.model.cluster import ClusterState, Node
from podnet.model.clusterpolicy import ADMIN, BASELINE, PASS, ClusterNetworkPolicy, ClusterRule
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
    ``nodes`` turns on the own-node rule; ``cluster_nodes`` are the nodes whose labels
    cluster policies' ``nodes`` peers select (:meth:`of_state` passes both).
    """

    def __init__(
        self,
        namespaces: Sequence[Namespace],
        pods: Sequence[Pod],
        policies: Sequence[NetworkPolicy],
        *,
        nodes: Sequence[Node] = (),
        cluster_policies: Sequence[ClusterNetworkPolicy] = (),
        cluster_nodes: Sequence[Node] = (),
    ) -> None:
        self._admin = tier_order(cluster_policies, ADMIN)
        self._baseline = tier_order(cluster_policies, BASELINE)
        self._subject_memo: dict[tuple[str, str], list[ClusterNetworkPolicy]] = {}
        self._node_labels: dict[IPAddress, Mapping[str, str]] = {
            parse_ip(n.address): n.labels for n in cluster_nodes
        }
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

    @classmethod
    def of_state(cls, state: ClusterState, *, own_node: bool = False) -> PolicyEngine:
        """Every layer of ``state``: NetworkPolicies and the cluster admin's policies."""
        return cls(
            state.namespaces,
            state.pods,
            state.policies,
            nodes=state.nodes if own_node else (),
            cluster_policies=state.cluster_policies,
            cluster_nodes=state.nodes,
        )

    @property
    def has_tiers(self) -> bool:
        return bool(self._admin or self._baseline)

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
        if s.pod is not None and d.pod is not None and s.pod.key == d.pod.key:
            # NetworkPolicy docs: "a pod cannot block access to itself"; the data plane
            # accepts a pod's packets to its own IP before any policy chain.
            note = f"{s.name} may always reach itself (a pod cannot block access to itself)"
            return Verdict.of(
                self._fixed(EGRESS, s, d, port, proto, note),
                self._fixed(INGRESS, d, s, port, proto, note),
            )
        egress = self._direction(EGRESS, subject=s, peer=d, dst=d, port=port, protocol=proto)
        ingress = self._direction(INGRESS, subject=d, peer=s, dst=d, port=port, protocol=proto)
        if self._own_node(d, s):
            ingress = replace(ingress, allowed=True, note=f"{d.name} always admits its own node")
        if self._own_node(s, d):
            egress = replace(egress, allowed=True, note=f"{s.name} may always reach its own node")
        return Verdict.of(egress, ingress)

    @staticmethod
    def _fixed(
        direction: str, subject: _End, peer: _End, port: int, protocol: str, note: str
    ) -> DirectionVerdict:
        return DirectionVerdict(
            direction, False, (), (), True, subject.name, peer.name, port, protocol, note=note
        )

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
        if not self.has_tiers:
            return self._network_policy(direction, subject.pod, peer, dst, port, protocol, made)
        pod = subject.pod

        def matches(rule: ClusterRule) -> bool:
            return cluster_ports_match(rule, port, protocol, dst.pod) and any(
                peer_matches(p, peer.pod, peer.ip, self.namespace_labels, self._node_labels)
                for p in rule.peers
            )

        ns_labels = self.namespace_labels
        admin = first_match(self._selecting(ADMIN, pod), direction, pod, matches, ns_labels)
        np = self._network_policy(direction, pod, peer, dst, port, protocol, made)
        baseline: TierMatch | None = None
        if not np.isolated and (admin is None or admin.rule.action == PASS):
            ordered = self._selecting(BASELINE, pod)
            baseline = first_match(ordered, direction, pod, matches, ns_labels)
        return layered(np, admin, baseline)

    def _selecting(self, tier: str, pod: Pod) -> list[ClusterNetworkPolicy]:
        """``tier``'s policies whose subject holds ``pod``, in order (memoised per pod)."""
        key = (tier, pod.key)
        got = self._subject_memo.get(key)
        if got is None:
            ordered = self._admin if tier == ADMIN else self._baseline
            got = [p for p in ordered if pods_match(p.subject, pod, self.namespace_labels)]
            self._subject_memo[key] = got
        return got

    def _network_policy(
        self,
        direction: str,
        pod: Pod,
        peer: _End,
        dst: _End,
        port: int,
        protocol: str,
        made: Callable[[tuple[str, ...], tuple[RuleRef, ...], bool], DirectionVerdict],
    ) -> DirectionVerdict:
        isolating = self.policies_for(pod, direction)
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
