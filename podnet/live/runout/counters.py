"""What the policy tables denied, from the counters they keep.

Each node's ``inet podnet-policy`` table sends every denied packet through one chain,
``deny`` (``counter drop``, or ``counter reject ...`` with ``--deny reject``;
dataplane/policy/README.md). Its counters are per node and count packets, not
connections nor pod pairs: a dropped connection counts once per SYN retransmission.
Per-pod-pair counts would need a counter per policy verdict in the table, which it does
not have.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

CHAIN = ("inet", "podnet-policy", "deny")


def parse_counters(text: str) -> int:
    """Packets counted by the rules of an ``nft -j list chain`` output."""
    total = 0
    for item in json.loads(text).get("nftables", []):
        rule: dict[str, Any] = item.get("rule") or {}
        for expr in rule.get("expr", []):
            counter = expr.get("counter") if isinstance(expr, dict) else None
            if isinstance(counter, dict):
                total += int(counter.get("packets", 0))
    return total


def deny_counters(
    node_argv: Callable[[str, list[str]], list[str]], nodes: Sequence[str], nft: str = "nft"
) -> dict[str, int] | None:
    """Node -> packets denied so far; None when a node's table could not be read.
    ``node_argv(node, argv)`` runs argv in the node's network namespace
    (:meth:`~podnet.dataplane.sandbox.namespaces.Sandbox.node_exec_argv`)."""
    out: dict[str, int] = {}
    for node in nodes:
        argv = node_argv(node, [nft, "-j", "list", "chain", *CHAIN])
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
            if proc.returncode != 0:
                return None
            out[node] = parse_counters(proc.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            return None
    return out
