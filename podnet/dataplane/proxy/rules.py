"""The fixed part of the Service proxy's table and its per-endpoint-count objects.

:mod:`podnet.dataplane.proxy.fragment` says what each Service port adds and
:mod:`podnet.dataplane.proxy.table` adds those up. Why the table is built from
maps, one per endpoint count, and which nft 1.0.6 limits shape it: README.md here.
"""

from __future__ import annotations

from collections.abc import Iterable

from podnet.dataplane.nft.names import generated_name
from podnet.dataplane.nft.objects import Chain, Map, Set, chains_of, sets_of
from podnet.dataplane.proxy.services import ServicePortRule

FAMILY = "ip"
TABLE = "podnet-proxy"
L4 = "meta l4proto { tcp, udp, sctp }"  # nft wants a transport match before `th`

STATIC_SETS: dict[str, Set] = sets_of(
    Set("cluster-ips", "ipv4_addr"),
    Set("nodeports", "inet_proto . inet_service"),
    Map("service-ips", "ipv4_addr . inet_proto . inet_service : verdict"),
    Map("service-nodeports", "inet_proto . inet_service : verdict"),
)

MASQ_MARK = "0x4000"  # kube-proxy's masquerade mark bit (only podnet-proxy uses marks)
_HAIRPIN = "ct state new ct status dnat fib daddr . iif oif exists"

BASE_CHAINS: dict[str, Chain] = chains_of(
    Chain("reject-new", ("meta l4proto tcp reject with tcp reset", "reject")),
    Chain(
        "reject-check",
        (
            "ip daddr @cluster-ips goto reject-new",
            "fib daddr type local meta l4proto . th dport @nodeports goto reject-new",
        ),
    ),
    Chain("nat-prerouting", ("jump services",), "nat", "prerouting", "dstnat", "accept"),
    Chain("nat-output", ("jump services",), "nat", "output", "-100", "accept"),
    Chain(
        "filter-prerouting",
        (f"{_HAIRPIN} meta mark set meta mark | {MASQ_MARK}", "ct state new jump reject-check"),
        "filter",
        "prerouting",
        "dstnat + 10",
        "accept",
    ),
    Chain(
        "filter-output", ("ct state new jump reject-check",), "filter", "output", "-90", "accept"
    ),
)

RECORD_CHAIN = "record-affinity"
POSTROUTING = Chain(
    "nat-postrouting",
    (
        f"jump {RECORD_CHAIN}",
        f"meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade",
        "ct status dnat ct original ip daddr != @cluster-ips masquerade",
    ),
    "nat",
    "postrouting",
    "srcnat",
    "accept",
)


def affinity_names(r: ServicePortRule) -> tuple[str, str]:
    """``(chain, map)`` of an affinity port: ``aff-<HASH>-<ns>-<name>-<proto>-<port>``
    and ``affinity-<HASH>-...``. The hash covers the timeout, fixed per map."""
    raw = f"{r.service}/{r.cluster_ip}/{r.protocol}/{r.port}/{r.node_port}/{r.affinity_timeout}"
    readable = f"{r.service}-{r.protocol}-{r.port}"
    return generated_name("aff", raw, readable), generated_name("affinity", raw, readable)


def count_sets(n: int) -> dict[str, Set]:
    """The backend maps of the service ports that have ``n`` ready endpoints."""
    pick = f"numgen random mod {n} : ip daddr . th dport"
    return sets_of(
        Map(f"be-{n}", typeof=f"ip daddr . meta l4proto . th dport . {pick}"),
        Map(f"npbe-{n}", typeof=f"meta l4proto . th dport . {pick}"),
    )


SERVICES_CHAIN = "services"


def count_chains(n: int) -> dict[str, Chain]:
    """``ep-<n>``/``np-<n>``: ONE lookup picks one of ``n`` endpoints uniformly."""
    pick = f"numgen random mod {n}"
    front = "ip daddr . meta l4proto . th dport"
    return chains_of(
        Chain(f"ep-{n}", (f"{L4} dnat ip to {front} . {pick} map @be-{n}",)),
        Chain(f"np-{n}", (f"{L4} dnat ip to meta l4proto . th dport . {pick} map @npbe-{n}",)),
    )


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
