"""NetworkPolicies as one node's nftables table: :func:`compile_policies` (pure).

Where and when packets are judged (Kubernetes semantics in nftpol_match's docstring):

* table ``inet podnet-policy``, two base chains on the **forward** hook: ``egress`` at
  priority ``filter`` and ``ingress`` at ``filter + 1``. Forward runs after the
  proxy's prerouting DNAT (priority ``dstnat``), so a connection to a ClusterIP is
  judged on the endpoint pod's IP and port, as in every CNI. Only the hook
  priorities order this table against ``ip podnet-proxy`` (STYLE.md principle 8).
  Every pod packet is routed through its node (podnet.dataplane.sandbox.links), so the
  forward hook sees pod-to-pod traffic on the same node as well as across nodes.
* ``egress`` judges packets *from* local pods, ``ingress`` packets *to* local pods;
  a cross-node connection is judged for egress on the source's node and for ingress
  on the destination's node. Two base chains because an ``accept`` ends only the
  chain it is in: an egress accept must still face the ingress check when both pods
  are local. A drop anywhere is final.
* ``ct state established,related accept`` first: replies and the rest of an allowed
  connection pass; only a connection's first packet is judged (as in Calico/Cilium:
  a connection that was allowed keeps going when a policy changes).
* a pod reaching *itself* (through its own Service: the proxy's hairpin) is allowed:
  "a pod cannot block access to itself" (kubernetes.io NetworkPolicy docs), and a
  pod reaching its own IP never leaves its netns anyway. The upstream e2e truth
  tables never check self pairs. ``self`` holds ``ip . ip`` per local pod.
* traffic from or to the pod's own node never crosses forward (it is input/output
  of the node), so it is always allowed, as the docs require ("traffic to and from
  the node where a Pod is running is always allowed").

Layout (scales by sets, not by chains per pod): ``egress-pods`` / ``ingress-pods``
map each local pod IP that is isolated in that direction to ``goto set-<d>-<h>``, a
chain per distinct *set of policies* isolating a pod, which ``jump``s to one chain
per policy (``pol-<d>-<h>``) and ends in ``goto deny``. A policy chain has one
``... accept`` line per (rule, peer match, port match). Peers are named sets of pod
IPs (``pods-<h>``, shared by equal peers), interval sets of ipBlock ranges
(``cidr-<h>``, named by content) and named-port sets (``port-<proto>-<name>``).
So a pod add, delete or label change only moves set/map elements (a new *combination*
of policies adds one small chain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podnet.dataplane.policy.build import FIXED_SETS, SetBuilder
from podnet.dataplane.policy.match import short_hash
from podnet.errors import (  # `X as X`: re-exported, defined in podnet.errors
    PolicyCompileError as PolicyCompileError,
)
from podnet.model.cluster import ClusterState
from podnet.model.objects import NetworkPolicy, Pod

FAMILY = "inet"
TABLE = "podnet-policy"
DENY_MODES = ("drop", "reject")
_DIRS = (("in", "Ingress", "saddr"), ("eg", "Egress", "daddr"))  # short, type, peer field

_DENY_RULES = {
    "drop": ("counter drop",),
    # TCP gets a reset, everything else ICMP admin-prohibited: the client fails at once
    # instead of timing out (iptables-based CNIs use REJECT the same way).
    "reject": (
        "meta l4proto tcp counter reject with tcp reset",
        "counter reject with icmpx admin-prohibited",
    ),
}


def _base_rules(field: str, vmap: str) -> tuple[str, ...]:
    return (
        "ct state established,related accept",
        "ip saddr . ip daddr @self accept",
        f"ip {field} vmap @{vmap}",
    )


_BASE_CHAINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "egress": (
        "type filter hook forward priority filter; policy accept;",
        _base_rules("saddr", "egress-pods"),
    ),
    "ingress": (
        "type filter hook forward priority filter + 1; policy accept;",
        _base_rules("daddr", "ingress-pods"),
    ),
}


@dataclass(frozen=True)
class PolicyState:
    """One node's ``inet podnet-policy`` table as data; dict order is creation order.

    Chains are ordered so that a chain comes after every chain it references (deny,
    policy chains, policy-set chains, base chains); deleting in reverse is safe.
    """

    node: str
    deny: str
    sets: dict[str, tuple[bool, str]]  # name -> (is_map, declaration)
    chains: dict[str, tuple[str, tuple[str, ...]]]  # name -> (base declaration, rules)
    elements: dict[str, dict[str, str | None]]  # set/map name -> key -> data


def policy_chain(direction: str, policy: NetworkPolicy) -> str:
    return f"pol-{direction}-{short_hash(policy.key)}"


def _selected(policies: Sequence[NetworkPolicy], pod: Pod, ptype: str) -> list[NetworkPolicy]:
    """Policies isolating ``pod`` for ``ptype`` (``policies``: those of its namespace):
    the type listed in policyTypes (types.go: rules of unlisted types are ignored) and
    the podSelector matching (``{}`` selects every pod of the namespace)."""
    return [p for p in policies if ptype in p.policy_types and p.pod_selector.matches(pod.labels)]


@dataclass(frozen=True)
class _Shared:
    """What every node's table has in common: policy chains, peer and port sets."""

    sets: dict[str, tuple[bool, str]]
    elements: dict[str, dict[str, str | None]]
    chains: dict[str, tuple[str, tuple[str, ...]]]
    by_ns: dict[str, list[NetworkPolicy]]


def _shared(state: ClusterState) -> _Shared:
    b = SetBuilder(state)
    policies = sorted(state.policies, key=lambda p: p.key)
    chains: dict[str, tuple[str, tuple[str, ...]]] = {}
    by_ns: dict[str, list[NetworkPolicy]] = {}
    for pol in policies:
        by_ns.setdefault(pol.namespace, []).append(pol)
        for short, ptype, field in _DIRS:
            if ptype not in pol.policy_types:
                continue
            rules = pol.ingress if short == "in" else pol.egress
            lines = [line for r in rules for line in b.rule_lines(pol, r, field)]
            chains[policy_chain(short, pol)] = ("", tuple(lines))
    return _Shared(b.sets, b.elements, chains, by_ns)


def _for_node(sh: _Shared, state: ClusterState, node: str, deny: str) -> PolicyState:
    """Add ``node``'s own part: hairpin pairs, isolation maps, policy-set chains."""
    if deny not in DENY_MODES:
        raise PolicyCompileError(f"deny must be one of {', '.join(DENY_MODES)}, not {deny!r}")
    local: dict[str, dict[str, str | None]] = {n: {} for n in FIXED_SETS}
    isolation: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[NetworkPolicy]] = {}
    set_chains: dict[str, tuple[str, tuple[str, ...]]] = {}
    for pod in sorted(state.pods, key=lambda p: p.key):
        if pod.node != node or pod.ip is None:
            continue
        local["self"][f"{pod.ip} . {pod.ip}"] = None
        labels = tuple(sorted(pod.labels.items()))
        for short, ptype, _ in _DIRS:
            cache_key = (ptype, pod.namespace, labels)
            if cache_key not in isolation:
                isolation[cache_key] = _selected(sh.by_ns.get(pod.namespace, []), pod, ptype)
            isolating = isolation[cache_key]
            if not isolating:
                continue
            chain = f"set-{short}-{short_hash(' '.join(p.key for p in isolating))}"
            if chain not in set_chains:
                jumps = [
                    f'jump {policy_chain(short, p)} comment "{_comment(p)}"' for p in isolating
                ]
                set_chains[chain] = ("", (*jumps, "goto deny"))
            vmap = "ingress-pods" if short == "in" else "egress-pods"
            local[vmap][pod.ip] = f"goto {chain}"
    chains: dict[str, tuple[str, tuple[str, ...]]] = {"deny": ("", _DENY_RULES[deny])}
    chains.update(sh.chains)
    chains.update(sorted(set_chains.items()))
    chains.update(_BASE_CHAINS)
    # The shared dicts are not copied: a PolicyState is never mutated.
    return PolicyState(node, deny, sh.sets, chains, {**sh.elements, **local})


def compile_policies(state: ClusterState, node: str, deny: str = "drop") -> PolicyState:
    """The desired ``inet podnet-policy`` table of ``node``. Pure, deterministic.

    Policy chains exist for every policy of the cluster (so a label change that makes a
    pod newly selected needs no new policy chain); the isolation maps, the ``self``
    set and the policy-set chains only cover this node's pods.
    """
    return _for_node(_shared(state), state, node, deny)


def _comment(pol: NetworkPolicy) -> str:
    """The policy's key for ``nft list`` readers (nft comments hold at most 128 bytes;
    namespace and name are DNS labels/subdomains, so no quoting issues)."""
    return pol.key[:120]


def policy_states(
    state: ClusterState, nodes: Sequence[str] | None = None, deny: str = "drop"
) -> dict[str, PolicyState]:
    """:func:`compile_policies` for several nodes (default: all of ``state.nodes``),
    computing the part all nodes share (policy chains, peer sets) once."""
    names = list(nodes) if nodes is not None else [n.name for n in state.nodes]
    sh = _shared(state)
    return {n: _for_node(sh, state, n, deny) for n in names}
