"""An independent, whole-table reference for the proxy table (test oracle).

This is the first, non-incremental implementation of the table (one pass over the
sorted ports). The incremental :class:`ProxyTable` must describe exactly the same
table for every state, including the ownership rule for colliding frontends. (Since
then the layout changed twice: the ``hairpin`` set became a fib test in a base chain,
the ``service-ips`` verdicts per Service port became one ``jump ep-<n>`` per count in
the ``services`` chain; this oracle follows the layout, not the code.)
"""

from __future__ import annotations

from podnet.dataplane.proxy.rules import BASE_CHAINS as _BASE_CHAINS
from podnet.dataplane.proxy.rules import POSTROUTING as _POSTROUTING
from podnet.dataplane.proxy.rules import STATIC_SETS as _STATIC_SETS
from podnet.dataplane.proxy.rules import Desired, affinity_id
from podnet.dataplane.proxy.services import ProxyState, ServicePortRule

_L4 = "meta l4proto { tcp, udp, sctp }"  # nft wants a transport match before `th`


def _proto(r: ServicePortRule) -> str:
    return r.protocol.lower()


def oracle_desired(st: ProxyState) -> Desired:
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
            aid = affinity_id(r)
            sets[f"affinity-{aid}"] = (
                True,
                "type ipv4_addr : ipv4_addr . inet_service; flags dynamic,timeout; "
                f"timeout {r.affinity_timeout}s;",
            )
            rules = [f"{_L4} dnat ip to ip saddr map @affinity-{aid}"]
            if has_np:
                rules.append(f"fib daddr type local goto np-{n}")
            rules.append(f"goto ep-{n}")
            aff_chains[f"aff-{aid}"] = ("", tuple(rules))
            update = f"update @affinity-{aid} {{ ip saddr : ip daddr . th dport }}"
            l4 = f"ct status dnat meta l4proto {_proto(r)}"
            record.append(
                f"{l4} ct original ip daddr {r.cluster_ip} ct original proto-dst {r.port} {update}"
            )
            el["service-ips"][front] = f"goto aff-{aid}"
            if has_np:
                record.append(
                    f"{l4} ct original ip daddr != @cluster-ips "
                    f"ct original proto-dst {r.node_port} {update}"
                )
                el["service-nodeports"][np_key] = f"goto aff-{aid}"
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
    return Desired(sets, chains, el)


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
