"""The layout of the Service proxy's nftables table, built from maps so it scales.

This module holds the fixed part (sets, base chains) and the per-count objects;
:mod:`podnet.dataplane.proxy.fragment` says what each Service port adds, and
:mod:`podnet.dataplane.proxy.table` adds those up (``desired``, incremental changes).

Why maps, and this shape (measured in bench/bench_nft.py, see bench/README.md):
kube-proxy's nftables mode (``pkg/proxy/nftables/proxier.go``) keeps a chain per
service port and a chain per endpoint. Loading 10,000 Services that way is slow, so
here the number of chains does not grow with the number of Services:

* ``be-<n>``: one map per *distinct* count ``n`` of ready endpoints (not per Service),
  holding ``ClusterIP . proto . port . i -> endpoint-ip . endpoint-port`` for i in
  0..n-1, and one chain ``ep-<n>`` with one rule:
  ``dnat to ip daddr . meta l4proto . th dport . numgen random mod <n> map @be-<n>``.
  The ``services`` chain jumps to every ``ep-<n>`` in turn. A service port's elements
  are in exactly one ``be-<n>``, so the other counts' lookups miss (a map miss ends the
  rule, the jump returns) and its own picks one endpoint uniformly. ``numgen``'s
  modulus is a constant, which is why the count picks the map; in exchange the choice
  is exactly uniform (no slot bias) and one endpoint change is one element deleted and
  one added. A changed count moves the service's elements from ``be-<n>`` to
  ``be-<m>``. The first packet of a connection (only it passes nat chains) costs one
  lookup per distinct count, typically a handful; a verdict map
  ``ClusterIP . proto . port -> goto ep-<n>`` would make it one lookup but costs a
  3-field element per Service port: 20% of the full-load time at 10,000 Services.
  Needs typeof with ``numgen`` in a concatenated map key: works on nftables v1.0.6
  (``type ... . integer`` does not: variable size). nft 1.0.6 cannot add a rule that
  uses such a map once the map exists in the kernel ("conflicting protocols specified:
  tcp vs. th", from the key it rebuilds out of the map's typeof data), so a map and
  the one rule using it are only ever created together, in the same batch; chains that
  change later (``services``, ``aff-<id>``) only ``jump``/``goto`` to ``ep-<n>``.
* NodePorts: the same with ``npbe-<n>`` / ``np-<n>`` keyed on ``proto . nodePort``,
  jumped to only for ``fib daddr type local`` (any local address, kube-proxy's default
  ``nodePortAddresses``).
* No endpoints / unknown port: no DNAT happens, so the packet still goes to a ClusterIP
  after the nat hook; a filter chain right after DNAT (priority dstnat+10 in prerouting,
  -90 in output) rejects ``ip daddr @cluster-ips`` with a TCP reset, or ICMP port
  unreachable for UDP/SCTP. kube-proxy does the same with its ``cluster-ips`` set and
  ``no-endpoint-services`` map ("connection refused" at once, not a timeout).
  Unserved NodePorts (``nodeports`` set) are refused the same way.
* Hairpin: a pod reaching itself through its Service needs SNAT, or it would answer
  itself directly (kube-proxy: ``mark-for-masquerade`` when the source is the chosen
  endpoint). nft cannot compare saddr with daddr, and a set of ``ip . ip`` pairs per
  endpoint cost a third of the full-load time at 10,000 Services. In podnet's routed
  topology every pod has its own interface on the node (``links.py``), so a DNATed
  packet is a hairpin exactly when its new destination is routed back out of the
  interface it came in on: ``fib daddr . iif oif exists`` (prerouting, after DNAT; fib
  may not give an oif in postrouting) sets kube-proxy's masquerade bit ``0x4000`` and
  postrouting masquerades marked packets. (On a bridge CNI, where all pods share one
  interface, this test would be true for all same-node traffic; podnet has none.)
  NodePort traffic is masqueraded too (externalTrafficPolicy Cluster), so replies
  return through the node that did the DNAT.
* ClientIP affinity (rare, so it may cost a chain per service port): the verdict maps
  ``service-ips`` / ``service-nodeports`` (consulted before the count rules) send the
  port to ``aff-<id>``, which first tries ``dnat to ip saddr map @affinity-<id>`` (a
  dynamic map with the Service's timeout), then makes the random choice itself;
  ``record-affinity`` in postrouting does
  ``update @affinity-<id> { ip saddr : ip daddr . th dport }`` once DNAT has chosen.
  kube-proxy keeps one affinity set per endpoint instead; nft 1.0.6 cannot put
  ``ct original proto-dst`` in a concatenation, so the record chain has one rule per
  affinity port and is rewritten (flush + add) when that list changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from podnet.dataplane.proxy.services import ServicePortRule

FAMILY = "ip"
TABLE = "podnet-proxy"
L4 = "meta l4proto { tcp, udp, sctp }"  # nft wants a transport match before `th`

STATIC_SETS: dict[str, tuple[bool, str]] = {
    "cluster-ips": (False, "type ipv4_addr;"),
    "nodeports": (False, "type inet_proto . inet_service;"),
    "service-ips": (True, "type ipv4_addr . inet_proto . inet_service : verdict;"),
    "service-nodeports": (True, "type inet_proto . inet_service : verdict;"),
}

MASQ_MARK = "0x4000"  # kube-proxy's masquerade mark bit (only podnet-proxy uses marks)
_HAIRPIN = "ct state new ct status dnat fib daddr . iif oif exists"

BASE_CHAINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reject-new": ("", ("meta l4proto tcp reject with tcp reset", "reject")),
    "reject-check": (
        "",
        (
            "ip daddr @cluster-ips goto reject-new",
            "fib daddr type local meta l4proto . th dport @nodeports goto reject-new",
        ),
    ),
    "nat-prerouting": (
        "type nat hook prerouting priority dstnat; policy accept;",
        ("jump services",),
    ),
    "nat-output": ("type nat hook output priority -100; policy accept;", ("jump services",)),
    "filter-prerouting": (
        "type filter hook prerouting priority dstnat + 10; policy accept;",
        (
            f"{_HAIRPIN} meta mark set meta mark | {MASQ_MARK}",
            "ct state new jump reject-check",
        ),
    ),
    "filter-output": (
        "type filter hook output priority -90; policy accept;",
        ("ct state new jump reject-check",),
    ),
}

RECORD_CHAIN = "record-affinity"
POSTROUTING = (
    "nat-postrouting",
    "type nat hook postrouting priority srcnat; policy accept;",
    (
        f"jump {RECORD_CHAIN}",
        f"meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade",
        "ct status dnat ct original ip daddr != @cluster-ips masquerade",
    ),
)


@dataclass(frozen=True)
class Desired:
    """The whole table as data. Dict order is creation order (referenced objects first)."""

    sets: dict[str, tuple[bool, str]]  # name -> (is_map, declaration)
    chains: dict[str, tuple[str, tuple[str, ...]]]  # name -> (base declaration, rules)
    elements: dict[str, dict[str, str | None]]  # set/map name -> key -> data


def affinity_id(r: ServicePortRule) -> str:
    """Short stable id of an affinity port; includes the timeout, which is fixed per map."""
    raw = f"{r.cluster_ip}/{r.protocol}/{r.port}/{r.node_port}/{r.affinity_timeout}"
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def count_sets(n: int) -> dict[str, tuple[bool, str]]:
    """The backend maps of the service ports that have ``n`` ready endpoints."""
    data = "ip daddr . th dport"
    return {
        f"be-{n}": (
            True,
            f"typeof ip daddr . meta l4proto . th dport . numgen random mod {n} : {data};",
        ),
        f"npbe-{n}": (
            True,
            f"typeof meta l4proto . th dport . numgen random mod {n} : {data};",
        ),
    }


SERVICES_CHAIN = "services"


def count_chains(n: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``ep-<n>``/``np-<n>``: ONE lookup picks one of ``n`` endpoints uniformly."""
    pick = f"numgen random mod {n}"
    front = "ip daddr . meta l4proto . th dport"
    return {
        f"ep-{n}": ("", (f"{L4} dnat ip to {front} . {pick} map @be-{n}",)),
        f"np-{n}": ("", (f"{L4} dnat ip to meta l4proto . th dport . {pick} map @npbe-{n}",)),
    }


def services_rules(counts: Iterable[int]) -> tuple[str, ...]:
    """The ``services`` chain for the endpoint counts in use: affinity ports first
    (verdict maps), then one rule per count for ClusterIPs, then for NodePorts."""
    ns = sorted(counts)
    return (
        "ip daddr . meta l4proto . th dport vmap @service-ips",
        "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
        *(f"jump ep-{n}" for n in ns),
        *(f"fib daddr type local jump np-{n}" for n in ns),
    )
