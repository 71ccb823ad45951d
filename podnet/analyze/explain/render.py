"""Render an :class:`~podnet.analyze.explain.connection.Explanation` as text (80 columns) or data.

Both forms carry the same facts: each step a person would check, in packet order.
"""

from __future__ import annotations

import textwrap
from typing import Any

from podnet.analyze.explain.connection import Explanation, Hop
from podnet.analyze.explain.dns import NDOTS, Lookup
from podnet.control.policy.verdict import ClusterRuleRef, DirectionVerdict

WIDTH = 80
_IND = " " * 9
_GREEN, _RED, _BOLD, _RESET = "\033[32m", "\033[31m", "\033[1m", "\033[0m"


def _wrap(label: str, text: str) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=label.ljust(9),
        subsequent_indent=_IND + "  ",
        break_on_hyphens=False,
    )


def _dns_lines(lk: Lookup) -> list[str]:
    dots = lk.name.count(".")
    order = (
        "absolute name"
        if lk.name.endswith(".")
        else f"{dots} dot{'s' * (dots != 1)} < ndots:{NDOTS}, search list first"
        if dots < NDOTS
        else f"{dots} dots >= ndots:{NDOTS}, as is first"
    )
    lines = _wrap("DNS", f"{lk.name} from namespace {lk.namespace} ({order})")
    for q in lk.queries:
        if q.rcode == "UPSTREAM":
            lines += _wrap("", f"{q.qname}  -> outside cluster.local, forwarded upstream")
        elif q.positive:
            ans = ", ".join(f"{r.type} {r.data}" for r in q.answers)
            lines += _wrap("", f"{q.qname}  -> {ans}")
        else:
            lines += _wrap("", f"{q.qname}  -> {q.rcode if q.rcode != 'NOERROR' else 'NODATA'}")
    return lines


def _direction(d: DirectionVerdict) -> list[str]:
    return _wrap("", d.explain())


def _hop_lines(h: Hop, colour: bool) -> list[str]:
    who = h.pod or f"{h.ip} (not a pod)"
    where = f" on {h.node}" if h.node else ""
    lines = _wrap("ENDPOINT" if h.pod else "ADDRESS", f"{who}  {h.ip}:{h.port}/{h.protocol}{where}")
    lines += _direction(h.verdict.egress) + _direction(h.verdict.ingress)
    word = "allowed" if h.verdict.allowed else "denied"
    if colour:
        word = f"{_GREEN if h.verdict.allowed else _RED}{word}{_RESET}"
    lines.append(f"{_IND}=> {word}")
    return lines


def format_text(e: Explanation, colour: bool = False) -> str:
    s = e.source
    lines = _wrap("FROM", f"pod {s.key}  {s.ip} on {s.node}")
    lines += _wrap("TO", e.target)
    lines.append("")
    if e.lookup is not None:
        lines += _dns_lines(e.lookup)
        if e.dns_verdict is not None:
            word = "allowed" if e.dns_verdict.allowed else "BLOCKED"
            lines += _wrap("", f"query to cluster DNS (UDP 53): {word}")
            for d in (e.dns_verdict.egress, e.dns_verdict.ingress):
                if not d.allowed:
                    lines += _direction(d)
    if e.service is not None:
        svc = e.service
        ip = "headless" if svc.headless else (svc.cluster_ip or "no IP")
        lines += _wrap("SERVICE", f"{svc.key}  {svc.type} {ip}")
        if e.service_port is not None:
            sp = e.service_port
            name = f" ({sp.name})" if sp.name else ""
            lines += _wrap("", f"port {sp.port}/{sp.protocol}{name} -> targetPort {sp.target_port}")
    for h in e.hops:
        lines += _hop_lines(h, colour)
    for n in e.notes:
        lines += _wrap("NOTE", n)
    result = e.result
    if colour:
        result = f"{_BOLD}{_GREEN if e.reachable else _RED}{result}{_RESET}"
    lines.append("")
    lines += _wrap("RESULT", result) if not colour else [f"{'RESULT'.ljust(9)}{result}"]
    return "\n".join(lines)


def _rule_dict(r: ClusterRuleRef) -> dict[str, Any]:
    return {
        "policy": r.policy,
        "tier": r.tier,
        "priority": r.priority,
        "rule": r.index,
        "name": r.name,
        "action": r.action,
    }


def _dir_dict(d: DirectionVerdict) -> dict[str, Any]:
    return {
        "direction": d.direction,
        "tier": d.tier or None,
        "decided_by": None if d.decided_by is None else _rule_dict(d.decided_by),
        "passed": [_rule_dict(r) for r in d.passed],
        "conflicts": [_rule_dict(r) for r in d.conflicts],
        "isolated": d.isolated,
        "isolating_policies": list(d.isolating_policies),
        "allowed_by": [
            {"policy": r.policy, "direction": r.direction, "rule": r.index} for r in d.allowed_by
        ],
        "allowed": d.allowed,
        "explanation": d.explain(),
    }


def to_dict(e: Explanation) -> dict[str, Any]:
    """The body of ``explain -o json`` (docs/output-contract.md: the ends are from/to)."""
    lk = e.lookup
    return {
        "from": {"pod": e.source.key, "ip": e.source.ip, "node": e.source.node},
        "to": e.target,
        "to_kind": e.kind,
        "dns": None
        if lk is None
        else {
            "name": lk.name,
            "namespace": lk.namespace,
            "queries": [
                {
                    "qname": q.qname,
                    "rcode": q.rcode,
                    "answers": [
                        {"name": r.name, "type": r.type, "data": r.data} for r in q.answers
                    ],
                }
                for q in lk.queries
            ],
            "addresses": list(lk.addresses),
            "lookup_allowed": None if e.dns_verdict is None else e.dns_verdict.allowed,
            "lookup_reason": None if e.dns_verdict is None else e.dns_verdict.reason,
        },
        "service": None
        if e.service is None
        else {
            "name": e.service.key,
            "type": e.service.type,
            "cluster_ip": e.service.cluster_ip,
            "port": None if e.service_port is None else e.service_port.port,
            "port_name": None if e.service_port is None else e.service_port.name,
            "target_port": None if e.service_port is None else e.service_port.target_port,
            "protocol": None if e.service_port is None else e.service_port.protocol,
        },
        "endpoints": [
            {
                "pod": h.pod or None,
                "ip": h.ip,
                "node": h.node or None,
                "port": h.port,
                "protocol": h.protocol,
                "allowed": h.verdict.allowed,
                "egress": _dir_dict(h.verdict.egress),
                "ingress": _dir_dict(h.verdict.ingress),
                "reason": h.verdict.reason,
            }
            for h in e.hops
        ],
        "reachable": e.reachable,
        "result": e.result,
        "notes": list(e.notes),
    }
