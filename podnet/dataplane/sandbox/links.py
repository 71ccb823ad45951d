"""The routed pod network as ``ip -batch`` lines: pure functions, no I/O.

Nodes hang off the bridge ``pn-nodes`` (``172.18.0.1/24``) in the cluster's root netns
and route each other's pod /24s; a node's own /24 is ``unreachable``, so a pod IP with no
pod fails at once. A pod has a /32 on ``eth0``, a link-scope route to its gateway (the
first address of its node's pod CIDR) and a default route via it; the node side of each
pod veth carries that gateway /32 (so it answers the pod's ARP without proxy_arp) and a
host route to the pod. That is Calico's routed model (docs.tigera.io, "the pod's default
gateway ... a /32 route") with a routable gateway; every pod packet is routed by its node,
so the node's forward hook sees all pod traffic, as NetworkPolicy needs.

Interface names fit IFNAMSIZ (15 bytes): ``pn``/``nd`` + 8 hex digits of a sha256 of the
readable key, which is set as the link alias (STYLE.md principle 7). More: README.md here.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence

from podnet.errors import ClusterError
from podnet.model.cluster import NODE_CIDR, Node

BRIDGE = "pn-nodes"
POD_IFACE = "eth0"  # the pod's (and node's) end, as a CNI plugin names it
IFNAMSIZ = 15


def iface_name(key: str, prefix: str) -> str:
    """``prefix`` + 8 hex digits of sha256(key): stable, short, readable-prefixed."""
    name = prefix + hashlib.sha256(key.encode()).hexdigest()[:8]
    assert len(name) <= IFNAMSIZ
    return name


def pod_iface(pod_key: str) -> str:
    return iface_name(pod_key, "pn")


def node_iface(node_name: str) -> str:
    return iface_name(node_name, "nd")


def check_unique_ifaces(keys: Iterable[str], prefix: str) -> None:
    """Refuse two keys whose short names collide (1 in 4 billion, but never silently)."""
    seen: dict[str, str] = {}
    for key in keys:
        name = iface_name(key, prefix)
        if name in seen and seen[name] != key:
            raise ClusterError(f"interface name {name} collides: {seen[name]} and {key}")
        seen[name] = key


def bridge_gateway() -> str:
    """The bridge's address: the first host of the node network (172.18.0.1)."""
    return str(next(ipaddress.ip_network(NODE_CIDR).hosts()))


def pod_gateway(node: Node) -> str:
    """The pods' gateway on ``node``: the first address of its pod CIDR (10.244.i.1).

    IPAM must not hand this address to a pod (bridge CNI and kubenet reserve it the
    same way); :func:`check_pod_ip` enforces that.
    """
    return str(next(ipaddress.ip_network(node.pod_cidr).hosts()))


def check_pod_ip(pod_key: str, ip: str, node: Node) -> None:
    """The pod's IP must be a host of its node's CIDR and not the gateway."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError as e:
        raise ClusterError(f"pod {pod_key}: bad IP {ip!r}") from e
    net = ipaddress.ip_network(node.pod_cidr)
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise ClusterError(f"pod {pod_key}: IP {ip} is not in {node.name}'s {node.pod_cidr}")
    if ip == pod_gateway(node):
        raise ClusterError(f"pod {pod_key}: IP {ip} is {node.name}'s gateway")


def root_batch() -> list[str]:
    """The cluster root netns: loopback and the node-network bridge."""
    prefix = ipaddress.ip_network(NODE_CIDR).prefixlen
    return [
        "link set lo up",
        f"link add {BRIDGE} type bridge",
        f"address add {bridge_gateway()}/{prefix} dev {BRIDGE}",
        f"link set {BRIDGE} up",
    ]


def node_attach_batch(node: Node, node_netns: str) -> list[str]:
    """In the root netns: the node's veth pair, its ``eth0`` end moved into the node.

    ``node_netns`` is a path to the node's netns (``/proc/<pid>/ns/net``); ``ip``
    accepts a path wherever it takes a netns name (iproute2 lib/namespace.c
    netns_get_fd opens any name containing a ``/`` as a path).
    """
    dev = node_iface(node.name)
    return [
        f"link add {dev} type veth peer name {POD_IFACE} netns {node_netns}",
        f"link set {dev} alias {node.name}",
        f"link set {dev} master {BRIDGE} up",
    ]


def node_config_batch(node: Node, nodes: Sequence[Node]) -> list[str]:
    """Inside the node netns: its address, routes to the other nodes' pod CIDRs."""
    prefix = ipaddress.ip_network(NODE_CIDR).prefixlen
    lines = [
        "link set lo up",
        f"address add {node.address}/{prefix} dev {POD_IFACE}",
        f"link set {POD_IFACE} up",
        f"route add default via {bridge_gateway()} dev {POD_IFACE}",
        f"route add unreachable {node.pod_cidr}",
    ]
    for other in nodes:
        if other.name != node.name:
            lines.append(f"route add {other.pod_cidr} via {other.address} dev {POD_IFACE}")
    return lines


def pod_attach_batch(pod_key: str, ip: str, node: Node, pod_netns: str) -> list[str]:
    """Inside the node netns: the pod's veth pair, node side configured, ``eth0`` moved."""
    dev = pod_iface(pod_key)
    return [
        f"link add {dev} type veth peer name {POD_IFACE} netns {pod_netns}",
        f"link set {dev} alias {pod_key}",
        f"address add {pod_gateway(node)}/32 dev {dev}",
        f"link set {dev} up",
        f"route add {ip}/32 dev {dev} scope link",
    ]


def pod_config_batch(ip: str, node: Node) -> list[str]:
    """Inside the pod netns: loopback, the /32 on eth0, gateway and default route."""
    gw = pod_gateway(node)
    return [
        "link set lo up",
        f"address add {ip}/32 dev {POD_IFACE}",
        f"link set {POD_IFACE} up",
        f"route add {gw} dev {POD_IFACE} scope link",
        f"route add default via {gw} dev {POD_IFACE}",
    ]


def batch_text(lines: Iterable[str]) -> str:
    return "".join(line + "\n" for line in lines)
