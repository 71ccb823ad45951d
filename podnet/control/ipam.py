"""Pod IP address management: one /24 per node, round-robin like CNI host-local.

The reference is the host-local IPAM plugin of containernetworking/plugins
(plugins/ipam/host-local/backend/allocator/allocator.go): it remembers the last
reserved IP per range and starts the next search just after it, wrapping around at the
end. A released address is therefore handed out again only once every other free
address has been used, so a recreated pod gets a NEW IP and stale connections or
caches aimed at the old pod do not silently reach its replacement.

Reserved in every node range: ``.0`` (network), ``.1`` (the node's gateway on the pod
side, as the bridge plugin's ``isGateway`` puts it) and ``.255`` (broadcast).

This class is the one stateful piece of the controllers; it does no I/O and has no
clock, so the same calls always give the same addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from podnet.errors import ClusterError
from podnet.model.cluster import ClusterState, Node

FIRST_HOST = 2  # .0 network, .1 gateway
LAST_HOST = 254  # .255 broadcast


@dataclass
class _Range:
    network: ipaddress.IPv4Network
    cursor: int = FIRST_HOST - 1  # offset of the last reserved address

    def addr(self, offset: int) -> str:
        return str(self.network.network_address + offset)


class PodIPAllocator:
    """Allocate pod IPs from the node's pod CIDR; never two live pods with one IP."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._ranges: dict[str, _Range] = {}
        for node in nodes:
            net = ipaddress.ip_network(node.pod_cidr)
            if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen != 24:
                raise ClusterError(f"node {node.name}: pod CIDR {node.pod_cidr} is not an IPv4 /24")
            self._ranges[node.name] = _Range(net)
        self._used: dict[str, str] = {}  # ip -> pod key
        self._by_pod: dict[str, tuple[str, str]] = {}  # pod key -> (node, ip)

    @classmethod
    def from_state(cls, state: ClusterState) -> PodIPAllocator:
        """An allocator that already holds every pod IP in ``state``.

        The cursor of each node is left on the highest address in use, which is where
        the initial sorted allocation of :func:`build_cluster` stopped.
        """
        alloc = cls(state.nodes)
        for pod in sorted(state.pods, key=lambda p: (p.namespace, p.name)):
            if pod.ip is not None and pod.node is not None:
                alloc.reserve(pod.key, pod.node, pod.ip)
        return alloc

    def _range(self, node: str) -> _Range:
        try:
            return self._ranges[node]
        except KeyError:
            raise ClusterError(f"unknown node {node!r}") from None

    def reserve(self, pod_key: str, node: str, ip: str) -> None:
        """Record an address that is already in use (e.g. restored from a state)."""
        rng = self._range(node)
        addr = ipaddress.ip_address(ip)
        offset = int(addr) - int(rng.network.network_address)
        if addr not in rng.network or not FIRST_HOST <= offset <= LAST_HOST:
            raise ClusterError(f"Pod/{pod_key}: {ip} is not a pod address of node {node}")
        holder = self._used.get(ip)
        if holder is not None and holder != pod_key:
            raise ClusterError(f"Pod/{pod_key}: {ip} is already used by Pod/{holder}")
        self._used[ip] = pod_key
        self._by_pod[pod_key] = (node, ip)
        rng.cursor = max(rng.cursor, offset)

    def allocate(self, pod_key: str, node: str) -> str:
        """The next free address after the node's last reserved one (wrapping).

        Idempotent for a pod that already holds an address on ``node``.
        """
        held = self._by_pod.get(pod_key)
        if held is not None:
            if held[0] != node:
                raise ClusterError(f"Pod/{pod_key} already has {held[1]} on {held[0]}")
            return held[1]
        rng = self._range(node)
        size = LAST_HOST - FIRST_HOST + 1
        for step in range(1, size + 1):
            offset = FIRST_HOST + (rng.cursor - FIRST_HOST + step) % size
            ip = rng.addr(offset)
            if ip not in self._used:
                rng.cursor = offset
                self._used[ip] = pod_key
                self._by_pod[pod_key] = (node, ip)
                return ip
        raise ClusterError(
            f"Pod/{pod_key}: no free pod IP on {node} ({rng.network}: all {size} addresses in use)"
        )

    def release(self, pod_key: str) -> str | None:
        """Free the pod's address; returns it (None if the pod held none)."""
        held = self._by_pod.pop(pod_key, None)
        if held is None:
            return None
        del self._used[held[1]]
        return held[1]

    def in_use(self) -> dict[str, str]:
        """A copy of ``ip -> pod key`` for every live allocation."""
        return dict(self._used)
