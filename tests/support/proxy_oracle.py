"""An independent, whole-table reference for the proxy table (test oracle).

This is the first, non-incremental implementation of the table (one pass over the
sorted ports). The incremental :class:`ProxyTable` must describe exactly the same
table for every state, including the ownership rule for colliding frontends. (Since
then the layout changed twice: the ``hairpin`` set became a fib test in a base chain,
the ``service-ips`` verdicts per Service port became one ``jump ep-<n>`` per count in
the ``services`` chain; this oracle follows the layout, not the code.)
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from podnet.dataplane.nft.objects import Table
from podnet.dataplane.proxy.services import ProxyState, ServicePortRule

_L4 = "meta l4proto { tcp, udp, sctp }"  # nft wants a transport match before `th`

_STATIC_SETS: dict[str, tuple[bool, str]] = {
    "cluster-ips": (False, "type ipv4_addr;"),
    "nodeports": (False, "type inet_proto . inet_service;"),
    "service-ips": (True, "type ipv4_addr . inet_proto . inet_service : verdict;"),
    "service-nodeports": (True, "type inet_proto . inet_service : verdict;"),
}
_HAIRPIN = "ct state new ct status dnat fib daddr . iif oif exists"
_BASE_CHAINS: dict[str, tuple[str, tuple[str, ...]]] = {
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
        (f"{_HAIRPIN} meta mark set meta mark | 0x4000", "ct state new jump reject-check"),
    ),
    "filter-output": (
        "type filter hook output priority -90; policy accept;",
        ("ct state new jump reject-check",),
    ),
}
_POSTROUTING = (
    "nat-postrouting",
    "type nat hook postrouting priority srcnat; policy accept;",
    (
        "jump record-affinity",
        "meta mark & 0x4000 == 0x4000 masquerade",
        "ct status dnat ct original ip daddr != @cluster-ips masquerade",
    ),
)


@dataclass(frozen=True)
class Plain:
    """A table as rendered text: what the oracle writes by hand."""

    sets: dict[str, tuple[bool, str]]  # name -> (is_map, declaration)
    chains: dict[str, tuple[str, tuple[str, ...]]]  # name -> (base declaration, rules)
    elements: dict[str, dict[str, str | None]]


def plain(t: Table) -> Plain:
    """A :class:`Table` of specs as the text its specs render to."""
    return Plain(
        {n: (s.KIND == "map", s.decl()) for n, s in t.sets.items()},
        {n: (c.base, c.rules) for n, c in t.chains.items()},
        {n: dict(e) for n, e in t.elements.items()},
    )


def _proto(r: ServicePortRule) -> str:
    return r.protocol.lower()


def oracle_desired(st: ProxyState) -> Plain:
    """Turn a :class:`ProxyState` into the table's sets, chains and elements. Pure."""
    sets = dict(_STATIC_SETS)
    counts: set[int] = set()
    aff_chains: dict[str, tuple[str, tuple[str, ...]]] = {}
    record: list[str] = []
    el: dict[str, dict[str, str | None]] = {name: {} for name in _STATIC_SETS}
    fronts: set[str] = set()  # owned frontends
    nodeports: set[str] = set()  # owned NodePorts
    for r in st.ports:
        front = f"{r.cluster_ip} . {_proto(r)} . {r.port}"
        el["cluster-ips"].setdefault(r.cluster_ip, None)
        if r.node_port is not None:
            el["nodeports"].setdefault(f"{_proto(r)} . {r.node_port}", None)
        n = len(r.backends)
        if n == 0 or front in fronts:
            continue
        fronts.add(front)
        if n not in counts:
            counts.add(n)
            _add_count(n, sets, el)
        for i, b in enumerate(r.backends):
            el[f"be-{n}"][f"{front} . {i}"] = f"{b.ip} . {b.port}"
        np_key = f"{_proto(r)} . {r.node_port}"
        has_np = r.node_port is not None and np_key not in nodeports
        if has_np:
            nodeports.add(np_key)
            for i, b in enumerate(r.backends):
                el[f"npbe-{n}"][f"{np_key} . {i}"] = f"{b.ip} . {b.port}"
        if r.affinity_timeout is not None:
            chain, amap = _affinity_names(r)
            sets[amap] = (
                True,
                "type ipv4_addr : ipv4_addr . inet_service; flags dynamic,timeout; "
                f"timeout {r.affinity_timeout}s;",
            )
            rules = [f"{_L4} dnat ip to ip saddr map @{amap}"]
            if has_np:
                rules.append(f"fib daddr type local goto np-{n}")
            rules.append(f"goto ep-{n}")
            aff_chains[chain] = ("", tuple(rules))
            update = f"update @{amap} {{ ip saddr : ip daddr . th dport }}"
            l4 = f"ct status dnat meta l4proto {_proto(r)}"
            record.append(
                f"{l4} ct original ip daddr {r.cluster_ip} ct original proto-dst {r.port} {update}"
            )
            el["service-ips"][front] = f"goto {chain}"
            if has_np:
                record.append(
                    f"{l4} ct original ip daddr != @cluster-ips "
                    f"ct original proto-dst {r.node_port} {update}"
                )
                el["service-nodeports"][np_key] = f"goto {chain}"
    chains: dict[str, tuple[str, tuple[str, ...]]] = {}
    for n in sorted(counts):
        chains[f"ep-{n}"] = ("", (_ip_rule(n),))
        chains[f"np-{n}"] = ("", (_np_rule(n),))
    chains.update(sorted(aff_chains.items()))
    chains["record-affinity"] = ("", tuple(record))
    chains["services"] = (
        "",
        (
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
            *(f"jump ep-{n}" for n in sorted(counts)),
            *(f"fib daddr type local jump np-{n}" for n in sorted(counts)),
        ),
    )
    chains.update(_BASE_CHAINS)
    chains[_POSTROUTING[0]] = (_POSTROUTING[1], _POSTROUTING[2])
    return Plain(sets, chains, el)


def _affinity_names(r: ServicePortRule) -> tuple[str, str]:
    """kube-proxy's ``hashAndTruncate`` shape: base32(sha256(key))[:8] + readable key."""
    raw = f"{r.service}/{r.cluster_ip}/{r.protocol}/{r.port}/{r.node_port}/{r.affinity_timeout}"
    h = base64.b32encode(hashlib.sha256(raw.encode()).digest()).decode()[:8]
    tail = f"{r.service.replace('/', '-')}-{_proto(r)}-{r.port}"
    return f"aff-{h}-{tail}"[:255], f"affinity-{h}-{tail}"[:255]


def _ip_rule(n: int) -> str:
    pick = f"numgen random mod {n}"
    return f"{_L4} dnat ip to ip daddr . meta l4proto . th dport . {pick} map @be-{n}"


def _np_rule(n: int) -> str:
    pick = f"numgen random mod {n}"
    return f"{_L4} dnat ip to meta l4proto . th dport . {pick} map @npbe-{n}"


def _add_count(
    n: int, sets: dict[str, tuple[bool, str]], el: dict[str, dict[str, str | None]]
) -> None:
    """Create the backend maps of count ``n`` on first use."""
    data = "ip daddr . th dport"
    sets[f"be-{n}"] = (
        True,
        f"typeof ip daddr . meta l4proto . th dport . numgen random mod {n} : {data};",
    )
    sets[f"npbe-{n}"] = (True, f"typeof meta l4proto . th dport . numgen random mod {n} : {data};")
    el[f"be-{n}"] = {}
    el[f"npbe-{n}"] = {}
