"""What ONE Service port adds to the proxy table: :func:`fragment`. Pure.

The table (:mod:`podnet.dataplane.proxy.table`) is the sum of these fragments, so
a change to one Service is diffed by comparing that Service's old and new fragments
only (kube-proxy ``proxier.go`` does the same with its per-service change tracker).

A port contributes in two ways:

* always its ClusterIP to ``cluster-ips`` and its NodePort to ``nodeports`` (shared
  sets: the reject rule needs them even when there is no endpoint);
* when it *owns* its frontend (ClusterIP . protocol . port) - it has ready endpoints
  and no earlier rule (in :func:`~podnet.dataplane.proxy.services.rule_order`) with
  endpoints has the same frontend - its backends in ``be-<n>``, and when it also owns
  its NodePort, in ``npbe-<n>``; with ClientIP affinity also the ``service-ips`` (and
  ``service-nodeports``) verdict that sends it to its ``aff-<HASH>-<key>`` chain. Two Services
  never share a frontend or NodePort in a valid cluster (the API server's allocators
  refuse it); the ownership rule only keeps a broken input deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from podnet.dataplane.nft.objects import Chain, Map
from podnet.dataplane.proxy.rules import L4, affinity_names
from podnet.dataplane.proxy.services import Backend, ServicePortRule

Element = tuple[str, str, str | None]  # (set or map, key, data or None)


@dataclass(frozen=True)
class AffinityPart:
    """ClientIP affinity objects of one owning port: map, chain and recording rules."""

    map: Map  # the dynamic map of remembered choices
    chain: Chain  # replays a remembered choice, else chooses
    record: tuple[str, ...]  # its rules in the record-affinity chain
    backends: frozenset[Backend]  # to know when remembered choices must be forgotten

    @property
    def aid(self) -> str:
        """The part's identity in the table: its chain's generated name."""
        return self.chain.name


class Fragment(NamedTuple):
    """A tuple, not a dataclass: 10,000 of them are built per full load."""

    n: int  # ready endpoints when the port owns its frontend, else 0
    shared: tuple[tuple[str, str], ...]  # (set, key) in sets other ports may share
    unique: tuple[Element, ...]  # map elements only this port can have (it owns the key)
    affinity: AffinityPart | None = None


def front_key(r: ServicePortRule) -> str:
    """A frontend: ``ClusterIP . proto . port`` (the key prefix in ``be-<n>``)."""
    return f"{r.cluster_ip} . {r.protocol.lower()} . {r.port}"


def nodeport_key(r: ServicePortRule) -> str:
    """A NodePort frontend: ``proto . nodePort`` (the key prefix in ``npbe-<n>``)."""
    return f"{r.protocol.lower()} . {r.node_port}"


def fragment(
    r: ServicePortRule, owns_front: bool, owns_nodeport: bool, front: str | None = None
) -> Fragment:
    """The elements (and affinity objects) ``r`` adds; see the module docstring.
    ``front`` is :func:`front_key` of ``r`` when the caller has it already."""
    shared = [("cluster-ips", r.cluster_ip)]
    np_key = ""
    if r.node_port is not None:
        np_key = nodeport_key(r)
        shared.append(("nodeports", np_key))
    if not owns_front:
        return Fragment(0, tuple(shared), ())
    n = len(r.backends)
    front = front or front_key(r)
    be = f"be-{n}"
    els: list[Element] = [
        (be, f"{front} . {i}", f"{b.ip} . {b.port}") for i, b in enumerate(r.backends)
    ]
    if owns_nodeport:
        npbe = f"npbe-{n}"
        for i, b in enumerate(r.backends):
            els.append((npbe, f"{np_key} . {i}", f"{b.ip} . {b.port}"))
    part = None
    if r.affinity_timeout is not None:
        part = _affinity(r, n, owns_nodeport)
        els.append(("service-ips", front, f"goto {part.aid}"))
        if owns_nodeport:
            els.append(("service-nodeports", np_key, f"goto {part.aid}"))
    return Fragment(n, tuple(shared), tuple(els), part)


def _affinity(r: ServicePortRule, n: int, owns_nodeport: bool) -> AffinityPart:
    """The ``aff-`` chain first replays a remembered choice, then falls through to the
    random one; ``record-affinity`` (postrouting, after DNAT chose) remembers it."""
    chain_name, map_name = affinity_names(r)
    amap = Map(
        map_name,
        "ipv4_addr : ipv4_addr . inet_service",
        flags=("dynamic", "timeout"),
        timeout=r.affinity_timeout,
    )
    chain = [f"{L4} dnat ip to ip saddr map @{map_name}"]
    if owns_nodeport:
        chain.append(f"fib daddr type local goto np-{n}")
    chain.append(f"goto ep-{n}")
    update = f"update @{map_name} {{ ip saddr : ip daddr . th dport }}"
    l4 = f"ct status dnat meta l4proto {r.protocol.lower()}"
    record = [f"{l4} ct original ip daddr {r.cluster_ip} ct original proto-dst {r.port} {update}"]
    if owns_nodeport:
        record.append(
            f"{l4} ct original ip daddr != @cluster-ips "
            f"ct original proto-dst {r.node_port} {update}"
        )
    return AffinityPart(amap, Chain(chain_name, tuple(chain)), tuple(record), frozenset(r.backends))
