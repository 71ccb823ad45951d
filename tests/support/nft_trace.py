"""Packet tracers over podnet's nft tables, as data or as the fake holds them.

Each tracer interprets exactly the rule language its compiler emits and fails loudly
on anything else (kube-proxy's fake tier does the same: ``helpers_test.go``'s
``tracePacket`` over knftables' fake). Only a connection's FIRST packet is traced
(``ct state new``): that is the one the nat hooks and the policy chains judge.

* :func:`passes`: the policy table's forward hook (``inet podnet-policy``);
* :func:`trace_service`: the Service proxy's hooks (``ip podnet-proxy``): DNAT
  choices, reject, masquerade, and ClientIP affinity with a remembered choice.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.objects import Table
from podnet.dataplane.policy.compile import PolicyState


@dataclass(frozen=True)
class View:
    """A table as the tracers read it: set declarations with elements, chains."""

    sets: Mapping[str, tuple[str, Mapping[str, str | None]]]  # name -> (decl, elements)
    chains: Mapping[str, tuple[str, tuple[str, ...]]]  # name -> (base declaration, rules)


def view_of(t: Table | PolicyState) -> View:
    table = t.table if isinstance(t, PolicyState) else t
    return View(
        {n: (s.decl(), table.elements.get(n, {})) for n, s in table.sets.items()},
        {n: (c.base, c.rules) for n, c in table.chains.items()},
    )


def fake_view(fake: FakeNft, family: str, name: str) -> View:
    """What the fake holds after the transactions it accepted."""
    t = fake.table(family, name)
    return View(
        {n: (s.decl, s.elements) for n, s in t.sets.items()},
        {n: (c.base, tuple(c.rules)) for n, c in t.chains.items()},
    )


def _in_set(v: View, name: str, key: str) -> bool:
    decl, elements = v.sets[name]
    if "interval" not in decl:
        return key in elements
    ip = int(ipaddress.IPv4Address(key))
    for item in elements:
        lo, _, hi = item.partition("-")
        if int(ipaddress.IPv4Address(lo)) <= ip <= int(ipaddress.IPv4Address(hi or lo)):
            return True
    return False


# -- the policy table ---------------------------------------------------------------

_POLICY_BASES = ("egress", "ingress")  # priority filter, filter + 1
_PORTS = re.compile(r"^th dport \{ ([^}]*) \} ?")


def _ports_contain(spec: str, port: int) -> bool:
    for item in spec.split(", "):
        lo, _, hi = item.partition("-")
        if int(lo) <= port <= int(hi or lo):
            return True
    return False


class Packet:
    def __init__(self, src: str, dst: str, proto: str, port: int) -> None:
        self.src, self.dst, self.proto, self.port = src, dst, proto.lower(), port

    def field(self, name: str) -> str:
        return self.src if name == "saddr" else self.dst


def _policy_rule(v: View, pkt: Packet, rule: str) -> str | None:
    """The verdict of one rule: ``accept``, ``drop``, ``jump X``, ``goto X`` or None."""
    rest = re.sub(r' comment "[^"]*"$', "", rule)
    while rest:
        if rest.startswith("ct state established,related "):
            return None  # only new connections are traced
        if re.match(r"^ct state new .* update @\S+ \{ [^}]* \}$", rest):
            return None  # the deny chain's counting: set updates, no verdict
        if m := re.match(r"^ip saddr \. ip daddr @(\S+) ?", rest):
            if not _in_set(v, m[1], f"{pkt.src} . {pkt.dst}"):
                return None
        elif m := re.match(r"^ip (saddr|daddr) vmap @(\S+)$", rest):
            return v.sets[m[2]][1].get(pkt.field(m[1]))
        elif m := re.match(r"^ip daddr \. meta l4proto \. th dport @(\S+) ?", rest):
            if not _in_set(v, m[1], f"{pkt.dst} . {pkt.proto} . {pkt.port}"):
                return None
        elif m := re.match(r"^ip (saddr|daddr) @(\S+) ?", rest):
            if not _in_set(v, m[2], pkt.field(m[1])):
                return None
        elif m := re.match(r"^meta l4proto (\w+) ?", rest):
            if pkt.proto != m[1]:
                return None
            rest = rest[m.end() :]
            if p := _PORTS.match(rest):
                if not _ports_contain(p[1], pkt.port):
                    return None
                rest = rest[p.end() :]
            continue
        elif m := re.match(r"^counter (drop|reject.*)$", rest):
            return "drop"
        elif rest in ("accept",) or re.match(r"^(jump|goto) \S+$", rest):
            return rest
        else:
            raise AssertionError(f"tracer does not know {rest!r} (in {rule!r})")
        rest = rest[m.end() :]
    raise AssertionError(f"rule without verdict: {rule!r}")


def _policy_chain(v: View, pkt: Packet, name: str, depth: int = 0) -> str | None:
    """``accept``/``drop`` or None (fell off the end: return to the caller)."""
    assert depth < 10
    for rule in v.chains[name][1]:
        verdict = _policy_rule(v, pkt, rule)
        if verdict is None:
            continue
        if verdict in ("accept", "drop"):
            return verdict
        verb, target = verdict.split()
        sub = _policy_chain(v, pkt, target, depth + 1)
        if verb == "goto" or sub is not None:
            return sub
    return None


def passes(t: Table | PolicyState | View, pkt: Packet) -> bool:
    """Does a new connection's first packet get through this node's forward hook?"""
    v = t if isinstance(t, View) else view_of(t)
    for base in _POLICY_BASES:
        assert "policy accept" in v.chains[base][0]
        if _policy_chain(v, pkt, base) == "drop":
            return False
    return True


# -- the Service proxy table --------------------------------------------------------

_L4 = "meta l4proto { tcp, udp, sctp } "
_EP = re.compile(
    _L4 + r"dnat ip to ip daddr \. meta l4proto \. th dport \. numgen random mod (\d+) map @(\S+)$"
)
_NP = re.compile(
    _L4 + r"dnat ip to meta l4proto \. th dport \. numgen random mod (\d+) map @(\S+)$"
)
_AFF = re.compile(_L4 + r"dnat ip to ip saddr map @(\S+)$")
_RECORD = re.compile(
    r"^ct status dnat meta l4proto (\w+) ct original ip daddr (!= @cluster-ips|\S+) "
    r"ct original proto-dst (\d+) update @(\S+) \{ ip saddr : ip daddr \. th dport \}$"
)
_HAIRPIN = "ct state new ct status dnat fib daddr . iif oif exists meta mark set meta mark | 0x4000"


@dataclass(frozen=True)
class Flow:
    """A connection's first packet: ``local`` is ``fib daddr type local`` (the
    destination is one of the node's addresses: a NodePort hit)."""

    src: str
    dst: str
    proto: str  # tcp, udp, sctp
    port: int
    local: bool = False


@dataclass(frozen=True)
class Outcome:
    """What the proxy table does with a flow."""

    backends: frozenset[tuple[str, int]]  # every DNAT target it may pick (empty: none)
    rejected: bool = False
    masquerade: frozenset[tuple[str, int]] = frozenset()  # targets it would masquerade to


@dataclass
class Affinity:
    """The kernel's dynamic affinity maps, which the fake never fills: ``map -> src ->
    (ip, port)``, written by :func:`remember` as ``record-affinity`` would."""

    maps: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)


def _backend(data: str | None) -> tuple[str, int]:
    assert data is not None
    ip, port = data.split(" . ")
    return ip, int(port)


def _nat(v: View, f: Flow, name: str, aff: Affinity, depth: int = 0) -> frozenset[tuple[str, int]]:
    """DNAT targets chosen by chain ``name``; empty when it returns without DNAT."""
    assert depth < 10
    for rule in v.chains[name][1]:
        if rule == "jump services":
            got = _nat(v, f, "services", aff, depth + 1)
        elif rule == "ip daddr . meta l4proto . th dport vmap @service-ips":
            target = v.sets["service-ips"][1].get(f"{f.dst} . {f.proto} . {f.port}")
            if target is None:
                continue
            verb, chain = target.split()
            assert verb == "goto", target
            return _nat(v, f, chain, aff, depth + 1)
        elif rule == "fib daddr type local meta l4proto . th dport vmap @service-nodeports":
            target = v.sets["service-nodeports"][1].get(f"{f.proto} . {f.port}")
            if not f.local or target is None:
                continue
            verb, chain = target.split()
            assert verb == "goto", target
            return _nat(v, f, chain, aff, depth + 1)
        elif m := re.fullmatch(r"(fib daddr type local )?(jump|goto) (\S+)", rule):
            if m[1] and not f.local:
                continue
            got = _nat(v, f, m[3], aff, depth + 1)
            if m[2] == "goto":
                return got
        elif m := _EP.match(rule):
            key = f"{f.dst} . {f.proto} . {f.port}"
            got = _pick(v, m[2], key, int(m[1]))
        elif m := _NP.match(rule):
            got = _pick(v, m[2], f"{f.proto} . {f.port}", int(m[1]))
        elif m := _AFF.match(rule):
            assert m[1] in v.sets, m[1]
            known = aff.maps.get(m[1], {}).get(f.src)
            got = frozenset((known,)) if known else frozenset()
        else:
            raise AssertionError(f"tracer does not know {rule!r} (chain {name})")
        if got:
            return got  # nat statements end the hook
    return frozenset()


def _pick(v: View, name: str, front: str, n: int) -> frozenset[tuple[str, int]]:
    elements = v.sets[name][1]
    return frozenset(_backend(elements[k]) for i in range(n) if (k := f"{front} . {i}") in elements)


def _rejects(v: View, f: Flow) -> bool:
    """The filter hook after DNAT, for a flow nothing DNATed."""
    for rule in v.chains["reject-check"][1]:
        if rule == "ip daddr @cluster-ips goto reject-new":
            if _in_set(v, "cluster-ips", f.dst):
                return True
        elif rule == "fib daddr type local meta l4proto . th dport @nodeports goto reject-new":
            if f.local and _in_set(v, "nodeports", f"{f.proto} . {f.port}"):
                return True
        else:
            raise AssertionError(f"tracer does not know {rule!r} (chain reject-check)")
    return False


def trace_service(
    v: View, f: Flow, hook: str = "prerouting", aff: Affinity | None = None
) -> Outcome:
    """Trace ``f`` through the proxy's nat hook, filter hook and postrouting.

    ``hook`` is ``prerouting`` (from a pod or the outside) or ``output`` (from the
    node itself). Masquerade: hairpin (podnet's routed pods: the chosen endpoint is
    the source itself, see proxy/README.md) or DNAT to a destination that was not a
    ClusterIP (a NodePort).
    """
    aff = aff or Affinity()
    nat, filt = (("nat-prerouting", "filter-prerouting"), ("nat-output", "filter-output"))[
        hook == "output"
    ]
    assert v.chains[nat][1] == ("jump services",), v.chains[nat]
    chosen = _nat(v, f, nat, aff)
    if not chosen:
        assert v.chains[filt][1][-1] == "ct state new jump reject-check", v.chains[filt]
        return Outcome(frozenset(), rejected=_rejects(v, f))
    masq = set()
    for rule in v.chains[filt][1]:
        if rule == _HAIRPIN:
            masq |= {b for b in chosen if b[0] == f.src}
        elif rule != "ct state new jump reject-check":
            raise AssertionError(f"tracer does not know {rule!r} (chain {filt})")
    for rule in v.chains["nat-postrouting"][1]:
        if rule == "ct status dnat ct original ip daddr != @cluster-ips masquerade":
            if not _in_set(v, "cluster-ips", f.dst):
                masq |= chosen
        elif rule not in ("jump record-affinity", "meta mark & 0x4000 == 0x4000 masquerade"):
            raise AssertionError(f"tracer does not know {rule!r} (chain nat-postrouting)")
    return Outcome(chosen, masquerade=frozenset(masq))


def remember(v: View, f: Flow, backend: tuple[str, int], aff: Affinity) -> None:
    """Run ``record-affinity`` for ``f`` DNATed to ``backend``, as postrouting would."""
    for rule in v.chains["record-affinity"][1]:
        m = _RECORD.match(rule)
        if m is None:
            raise AssertionError(f"tracer does not know {rule!r} (chain record-affinity)")
        proto, orig, port, amap = m[1], m[2], int(m[3]), m[4]
        if proto != f.proto or port != f.port:
            continue
        if orig == "!= @cluster-ips":
            if _in_set(v, "cluster-ips", f.dst):
                continue
        elif orig != f.dst:
            continue
        aff.maps.setdefault(amap, {})[f.src] = backend
