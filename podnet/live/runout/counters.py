"""What the policy tables denied, from the counters they keep.

Each node's ``inet podnet-policy`` table sends every denied packet through one chain,
``deny`` (dataplane/policy/README.md). Its verdict rule's ``counter`` counts packets
per node: a dropped connection counts once per SYN retransmission. Its ``denied``
dynamic set counts connections per (source IP, destination IP, protocol, port), one
element each, which the closing summary names by pod. One ``nft`` per node reads both
(``list chain`` and ``list set``: a few lines each, whatever the table's size).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FAMILY, TABLE = "inet", "podnet-policy"
CHAIN = (FAMILY, TABLE, "deny")
DENIED_SET = (FAMILY, TABLE, "denied")  # dataplane.policy.compile.DENIED


@dataclass(frozen=True, order=True)
class Flow:
    """Where denied connections went: source and destination IP, protocol, port."""

    src: str
    dst: str
    proto: str  # tcp, udp, sctp as nft names them
    port: int


@dataclass
class Denied:
    """What the deny chains counted on every node."""

    packets: dict[str, int] = field(default_factory=dict)  # node -> packets
    connections: dict[Flow, int] = field(default_factory=dict)  # summed over nodes


def _objects(text: str) -> list[dict[str, Any]]:
    """The ``nftables`` arrays of ``nft -j`` output, which prints one JSON document a
    line when given several commands."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.strip():
            out += json.loads(line).get("nftables", [])
    return out


def parse_counters(text: str) -> int:
    """Packets counted by the rules of an ``nft -j list chain`` output."""
    total = 0
    for item in _objects(text):
        rule: dict[str, Any] = item.get("rule") or {}
        for expr in rule.get("expr", []):
            counter = expr.get("counter") if isinstance(expr, dict) else None
            if isinstance(counter, dict):
                total += int(counter.get("packets", 0))
    return total


def parse_denied(text: str) -> dict[Flow, int]:
    """Connections per :class:`Flow` from an ``nft -j list set ... denied`` output (each
    element: ``{"val": {"concat": [src, dst, proto, port]}, "counter": {...}}``)."""
    out: dict[Flow, int] = {}
    for item in _objects(text):
        body = item.get("set")
        if not isinstance(body, dict) or body.get("name") != DENIED_SET[2]:
            continue
        for elem in body.get("elem", []):
            inner = elem.get("elem", elem) if isinstance(elem, dict) else {}
            val = inner.get("val") if isinstance(inner, dict) else None
            parts = val.get("concat") if isinstance(val, dict) else None
            counter = inner.get("counter") if isinstance(inner, dict) else None
            if not isinstance(parts, list) or len(parts) != 4 or not isinstance(counter, dict):
                continue
            src, dst, proto, port = parts
            flow = Flow(str(src), str(dst), str(proto), int(port))
            out[flow] = out.get(flow, 0) + int(counter.get("packets", 0))
    return out


def deny_counters(
    node_argv: Callable[[str, list[str]], list[str]], nodes: Sequence[str], nft: str = "nft"
) -> Denied | None:
    """What every node's deny chain counted so far; None when a node's table could not
    be read. ``node_argv(node, argv)`` runs argv in the node's network namespace
    (:meth:`~podnet.dataplane.sandbox.namespaces.Sandbox.node_exec_argv`)."""
    out = Denied()
    for node in nodes:
        # one nft, two commands; nft 1.0.6 says on stderr that `list chain` cannot
        # name the sets its rules use (they are listed as far as it can): harmless.
        argv = [nft, "-j", "list", "chain", *CHAIN, ";", "list", "set", *DENIED_SET]
        try:
            proc = subprocess.run(
                node_argv(node, argv), capture_output=True, text=True, timeout=5, check=False
            )
            if proc.returncode != 0:
                return None
            out.packets[node] = parse_counters(proc.stdout)
            for flow, n in parse_denied(proc.stdout).items():
                out.connections[flow] = out.connections.get(flow, 0) + n
        except (OSError, subprocess.TimeoutExpired, ValueError, TypeError):
            return None
    return out


def by_pod(connections: Mapping[Flow, int], pods: Mapping[str, str]) -> list[list[str]]:
    """Rows ``[from, to, port, connections]``, most first: IPs named by ``pods`` (IP ->
    namespace/name) where they are pods' (the destination is the endpoint: the policy
    judges after the Service's DNAT), else left as IPs."""
    rows = sorted(connections.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        [
            pods.get(f.src, f.src),
            pods.get(f.dst, f.dst) + (f" ({f.dst})" if f.dst in pods else ""),
            f"{f.port}/{f.proto.upper()}",
            str(n),
        ]
        for f, n in rows
    ]
