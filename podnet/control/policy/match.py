"""The NetworkPolicy matching predicates, shared by every consumer of policy.

These are the atoms of networking.k8s.io/v1 semantics, written once so that the
per-connection :class:`~podnet.control.policy.engine.PolicyEngine`, the class-based
connectivity matrix (:mod:`podnet.analyze.matrix`) and the conformance runner cannot
disagree (STYLE.md principle 6). References:

* k8s.io/api networking/v1 ``types.go`` (NetworkPolicySpec, NetworkPolicyPeer,
  NetworkPolicyPort, IPBlock) - the field comments are the specification;
* https://kubernetes.io/docs/concepts/services-networking/network-policies/ ;
* the upstream e2e suite ``test/e2e/network/netpol`` (the truth tables in
  ../shared/conformance come from it).

Pure functions; no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from podnet.errors import ManifestError
from podnet.model.objects import IPBlock, NetworkPolicy, Pod, PolicyPeer, PolicyPort, PolicyRule

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

INGRESS = "ingress"
EGRESS = "egress"
_POLICY_TYPE = {INGRESS: "Ingress", EGRESS: "Egress"}
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@lru_cache(maxsize=4096)
def parse_network(cidr: str) -> IPNetwork:
    """Parse an ipBlock CIDR. Host bits may be set (the API server accepts them too)."""
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as e:
        raise ManifestError(f"invalid CIDR {cidr!r}: {e}", field="ipBlock.cidr") from e


@lru_cache(maxsize=65536)
def parse_ip(ip: str) -> IPAddress:
    try:
        return ipaddress.ip_address(ip)
    except ValueError as e:
        raise ManifestError(f"invalid IP address {ip!r}") from e


def default_namespace_labels(name: str) -> dict[str, str]:
    """The label the API server puts on every namespace (since v1.21, always present)."""
    return {NAMESPACE_NAME_LABEL: name}


def applies(policy: NetworkPolicy, direction: str) -> bool:
    """Whether ``policy`` governs ``direction``: only policyTypes count.

    types.go: rules of a direction missing from policyTypes are ignored, and a policy
    isolates only the directions it lists.
    """
    return _POLICY_TYPE[direction] in policy.policy_types


def selects(policy: NetworkPolicy, pod: Pod) -> bool:
    """spec.podSelector picks pods in the policy's own namespace; ``{}`` picks all."""
    return pod.namespace == policy.namespace and policy.pod_selector.matches(pod.labels)


def rules_of(policy: NetworkPolicy, direction: str) -> tuple[PolicyRule, ...]:
    return policy.ingress if direction == INGRESS else policy.egress


@dataclass(frozen=True)
class BlockRanges:
    """An ipBlock as integer ranges: one test per address, cheap enough for 10^5 pods."""

    version: int
    lo: int
    hi: int
    excepts: tuple[tuple[int, int], ...]

    def contains(self, version: int, ip: int) -> bool:
        if version != self.version or not self.lo <= ip <= self.hi:
            return False
        return not any(lo <= ip <= hi for lo, hi in self.excepts)


@lru_cache(maxsize=4096)
def block_ranges(block: IPBlock) -> BlockRanges:
    net = parse_network(block.cidr)
    excepts = []
    for exc in block.except_:
        enet = parse_network(exc)
        if enet.version == net.version:
            excepts.append((int(enet.network_address), int(enet.broadcast_address)))
    return BlockRanges(
        net.version, int(net.network_address), int(net.broadcast_address), tuple(excepts)
    )


def ip_block_contains(block: IPBlock, ip: IPAddress | None) -> bool:
    """``cidr`` contains the address and no ``except`` entry does.

    An address of the other family never matches. Upstream e2e ("should allow egress
    access to server in CIDR block") relies on ipBlock matching *pod* IPs as well, so
    callers pass the pod's IP for pod peers.
    """
    if ip is None:
        return False
    return block_ranges(block).contains(ip.version, int(ip))


def peer_matches(
    peer: PolicyPeer,
    policy_namespace: str,
    pod: Pod | None,
    ip: IPAddress | None,
    namespace_labels: Mapping[str, str] | None,
) -> bool:
    """Does one ``from``/``to`` entry match the other end of a connection?

    ``pod`` is None for a non-pod address. types.go NetworkPolicyPeer: podSelector alone
    selects pods in the policy's namespace; namespaceSelector alone all pods of the
    matching namespaces; both together the matching pods *within* the matching
    namespaces (AND); ipBlock (never combined with selectors) matches addresses.
    A peer with no field set is rejected by validation; it matches nothing here.
    """
    if peer.ip_block is not None:
        return ip_block_contains(peer.ip_block, ip)
    if pod is None:
        return False
    if peer.pod_selector is None and peer.namespace_selector is None:
        return False
    if peer.namespace_selector is None:
        if pod.namespace != policy_namespace:
            return False
    else:
        labels = namespace_labels
        if labels is None:
            labels = default_namespace_labels(pod.namespace)
        if not peer.namespace_selector.matches(labels):
            return False
    return peer.pod_selector is None or peer.pod_selector.matches(pod.labels)


def port_matches(rule_port: PolicyPort, port: int, protocol: str, dst: Pod | None) -> bool:
    """Does one NetworkPolicyPort match ``port``/``protocol`` at destination ``dst``?

    types.go NetworkPolicyPort: the protocol must be equal (a port entry with SCTP never
    admits TCP - e2e "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP'");
    no port = every port of that protocol; ``endPort`` makes an inclusive range; a
    named port is looked up in the *destination* pod's container ports with that
    protocol, for ingress and egress alike, and matches nothing where the destination
    (or a non-pod address) has no such name.
    """
    if rule_port.protocol != protocol:
        return False
    if rule_port.port is None:
        return True
    if isinstance(rule_port.port, int):
        if rule_port.end_port is not None:
            return rule_port.port <= port <= rule_port.end_port
        return port == rule_port.port
    if dst is None:
        return False
    return dst.named_port(rule_port.port, protocol) == port


def rule_ports_match(rule: PolicyRule, port: int, protocol: str, dst: Pod | None) -> bool:
    """An empty ``ports`` list allows every port (types.go)."""
    return not rule.ports or any(port_matches(p, port, protocol, dst) for p in rule.ports)


def rule_peers_match(
    rule: PolicyRule,
    policy_namespace: str,
    pod: Pod | None,
    ip: IPAddress | None,
    namespace_labels: Mapping[str, str] | None,
) -> bool:
    """An empty ``from``/``to`` list allows every source/destination, pod or not."""
    return not rule.peers or any(
        peer_matches(p, policy_namespace, pod, ip, namespace_labels) for p in rule.peers
    )
