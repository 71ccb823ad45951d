"""NetworkPolicy peers and ports as nftables match fragments (pure).

This is the policy compiler's OWN reading of networking.k8s.io/v1 (k8s.io/api
``networking/v1/types.go``: NetworkPolicyPeer, NetworkPolicyPort, IPBlock), written
independently of :mod:`podnet.control.policy.engine` on purpose: ``podnet probe`` compares
what the kernel does with what the engine says, which only means something if the
two are separate implementations. Only :meth:`LabelSelector.matches` is shared.

* a peer with only ``podSelector`` selects pods of the policy's namespace; with only
  ``namespaceSelector`` every pod of the matching namespaces; with both, the matching
  pods *in* the matching namespaces; ``ipBlock`` is an address range minus its
  ``except`` entries and applies to every address, pod IPs included (upstream e2e
  "should allow egress access to server in CIDR block" depends on that);
* a port entry matches its protocol only; no ``port`` = every port of the protocol;
  ``endPort`` makes an inclusive range; a *named* port is resolved on the destination
  pod (types.go: "a named port on a pod"), so it becomes a set of
  ``pod-ip . proto . port`` elements, one per pod that declares the name.

The cluster is IPv4-only (POD_CIDR, SERVICE_CIDR), so IPv6 ipBlocks can match nothing
here and are left out of the ranges.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from podnet.dataplane.nft.names import generated_name
from podnet.errors import ManifestError
from podnet.model.objects import IPBlock, Pod, PolicyPeer, PolicyPort
from podnet.model.selectors import LabelSelector

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# A selector peer, normalised: (namespace it is confined to or "*", podSelector,
# namespaceSelector). The tuple is the identity of a pod-IP set, so equal peers in
# different policies share one set.
PeerKey = tuple[str, LabelSelector | None, LabelSelector | None]


def selector_peers(policy_namespace: str, peers: Sequence[PolicyPeer]) -> tuple[PeerKey, ...]:
    """The rule's pod/namespace-selector peers, sorted and de-duplicated.

    A peer with neither selector (and no ipBlock) is refused by API validation; it
    selects nothing here.
    """
    keys: set[PeerKey] = set()
    for p in peers:
        if p.ip_block is not None:
            continue
        if p.pod_selector is None and p.namespace_selector is None:
            continue
        confined = policy_namespace if p.namespace_selector is None else "*"
        keys.add((confined, p.pod_selector, p.namespace_selector))
    return tuple(sorted(keys, key=repr))


def peer_selects(
    key: PeerKey, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, str]
) -> bool:
    """Does one selector peer select a pod with these labels in ``namespace``?"""
    confined, pod_sel, ns_sel = key
    if confined != "*" and namespace != confined:
        return False
    if ns_sel is not None and not ns_sel.matches(ns_labels):
        return False
    return pod_sel is None or pod_sel.matches(labels)


def namespace_labels(declared: Mapping[str, Mapping[str, str]], name: str) -> Mapping[str, str]:
    """A namespace's labels; an undeclared one still carries the name label, which the
    API server sets on every namespace since v1.21 (NamespaceDefaultLabelName)."""
    labels = declared.get(name)
    if labels is None:
        return {NAMESPACE_NAME_LABEL: name}
    return labels


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as e:
        raise ManifestError(f"invalid CIDR {cidr!r}: {e}", field="ipBlock") from e


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of inclusive integer ranges, adjacent ones joined (nft interval sets refuse
    overlapping elements, so overlaps are resolved here)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _subtract(lo: int, hi: int, holes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    cur = lo
    for hlo, hhi in merge_ranges(holes):
        if hhi < cur or hlo > hi:
            continue
        if hlo > cur:
            out.append((cur, hlo - 1))
        cur = max(cur, hhi + 1)
    if cur <= hi:
        out.append((cur, hi))
    return out


def block_ranges(blocks: Iterable[IPBlock]) -> list[tuple[int, int]]:
    """IPv4 address ranges the ipBlocks cover, excepts removed, merged."""
    ranges: list[tuple[int, int]] = []
    for b in blocks:
        net = _network(b.cidr)
        if net.version != 4:
            continue
        holes = []
        for exc in b.except_:
            e = _network(exc)
            if e.version == 4:
                holes.append((int(e.network_address), int(e.broadcast_address)))
        lo, hi = int(net.network_address), int(net.broadcast_address)
        ranges.extend(_subtract(lo, hi, holes))
    return merge_ranges(ranges)


def range_text(lo: int, hi: int) -> str:
    """An interval-set element: ``a.b.c.d`` or ``a.b.c.d-e.f.g.h``."""
    a = str(ipaddress.IPv4Address(lo))
    return a if lo == hi else f"{a}-{ipaddress.IPv4Address(hi)}"


@dataclass(frozen=True)
class PortMatch:
    """What a rule's ``ports`` compile to: per-protocol number matches and named ports.

    ``numbered`` holds ready nft fragments (``meta l4proto tcp th dport { 80, 90-99 }``
    or ``meta l4proto udp`` for "every port"); ``named`` holds ``(protocol, name)``
    pairs, each realised as a set of destination ``ip . proto . port`` elements.
    """

    numbered: tuple[str, ...]
    named: tuple[tuple[str, str], ...]


def port_match(ports: Sequence[PolicyPort]) -> PortMatch:
    """Compile a non-empty ``ports`` list (an empty one means "all ports": no match)."""
    every: set[str] = set()
    spans: dict[str, list[tuple[int, int]]] = {}
    named: set[tuple[str, str]] = set()
    for p in ports:
        proto = p.protocol.lower()
        if p.port is None:
            every.add(proto)
        elif isinstance(p.port, str):
            named.add((proto, p.port))
        else:
            hi = p.end_port if p.end_port is not None else p.port
            if hi >= p.port:  # validation refuses endPort < port; it would match nothing
                spans.setdefault(proto, []).append((p.port, hi))
    frags = [f"meta l4proto {proto}" for proto in sorted(every)]
    for proto in sorted(set(spans) - every):
        items = ", ".join(
            str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merge_ranges(spans[proto])
        )
        frags.append(f"meta l4proto {proto} th dport {{ {items} }}")
    named -= {(proto, n) for proto, n in named if proto in every}
    return PortMatch(tuple(frags), tuple(sorted(named)))


_SVC_NAME = re.compile(r"^[a-z0-9-]{1,15}$")


def named_port_set(proto: str, name: str) -> str:
    """Set name for one named port. Validated port names are IANA_SVC_NAME
    (``[a-z0-9-]``, at most 15), valid in an nft identifier after the prefix; anything
    else (a state built by code, not by the loader) gets a generated name."""
    if _SVC_NAME.match(name):
        return f"port-{proto}-{name}"
    return generated_name(f"port-{proto}", name, name)


def named_port_elements(pods: Iterable[Pod], proto: str, name: str) -> dict[str, str | None]:
    """``pod-ip . proto . port`` for every pod with an IP that declares the name."""
    out: dict[str, str | None] = {}
    upper = proto.upper()
    for pod in pods:
        if pod.ip is None:
            continue
        number = _named(pod, name, upper)
        if number is not None:
            out[f"{pod.ip} . {proto} . {number}"] = None
    return out


def _named(pod: Pod, name: str, protocol: str) -> int | None:
    """First container port with that name and protocol (containers in order), as the
    kubelet and the EndpointSlice controller resolve it."""
    for c in pod.containers:
        for cp in c.ports:
            if cp.name == name and cp.protocol == protocol:
                return cp.container_port
    return None
