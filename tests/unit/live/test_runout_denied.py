"""Reading what the deny chains counted: packets from the chain's counter rules,
connections from the ``denied`` set's elements, one ``nft`` per node (pure parsing,
plus the argv run through a stand-in for the node's namespace)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from podnet.live.runout.counters import Flow, by_pod, deny_counters, parse_denied

CHAIN = {
    "nftables": [
        {"metainfo": {"version": "1.0.6"}},
        {"chain": {"family": "inet", "table": "podnet-policy", "name": "deny"}},
        {"rule": {"expr": [{"set": {"op": "update", "set": "@denied"}}]}},
        {"rule": {"expr": [{"counter": {"packets": 5, "bytes": 300}}, {"drop": None}]}},
    ]
}


def _set(*elems: tuple[list[object], int]) -> dict[str, object]:
    body = {
        "family": "inet",
        "name": "denied",
        "table": "podnet-policy",
        "flags": ["timeout"],
        "elem": [
            {"elem": {"val": {"concat": val}, "expires": 3590, "counter": {"packets": n}}}
            for val, n in elems
        ],
    }
    return {"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": body}]}


def test_parse_denied_reads_each_element_counter_as_connections() -> None:
    text = json.dumps(
        _set(
            (["10.244.0.2", "10.244.1.3", "tcp", 80], 3),
            (["10.244.0.2", "10.96.0.10", "udp", 53], 1),
        )
    )
    assert parse_denied(text) == {
        Flow("10.244.0.2", "10.244.1.3", "tcp", 80): 3,
        Flow("10.244.0.2", "10.96.0.10", "udp", 53): 1,
    }


def test_parse_denied_of_an_empty_set_and_of_other_objects() -> None:
    empty = {"nftables": [{"set": {"name": "denied", "table": "podnet-policy"}}]}
    assert parse_denied(json.dumps(empty)) == {}
    assert parse_denied(json.dumps(CHAIN)) == {}


def test_one_nft_per_node_both_documents_summed(tmp_path: Path) -> None:
    """nft prints one JSON document per command, one a line; a fake nft prints both."""
    out = tmp_path / "out.json"
    flow = ["10.244.0.2", "10.244.1.3", "tcp", 80]
    out.write_text(json.dumps(CHAIN) + "\n" + json.dumps(_set((flow, 2))) + "\n")
    argvs: list[list[str]] = []

    def node_argv(node: str, argv: list[str]) -> list[str]:
        argvs.append(argv)
        return [sys.executable, "-c", f"print(open({str(out)!r}).read(), end='')"]

    got = deny_counters(node_argv, ["node-0", "node-1"])
    assert got is not None
    assert got.packets == {"node-0": 5, "node-1": 5}
    assert got.connections == {Flow("10.244.0.2", "10.244.1.3", "tcp", 80): 4}
    assert argvs[0] == [
        "nft", "-j", "list", "chain", "inet", "podnet-policy", "deny",
        ";", "list", "set", "inet", "podnet-policy", "denied",
    ]  # fmt: skip


def test_a_node_that_cannot_be_read_gives_none() -> None:
    def node_argv(node: str, argv: list[str]) -> list[str]:
        return [sys.executable, "-c", "import sys; sys.exit(1)"]

    assert deny_counters(node_argv, ["node-0"]) is None


def test_by_pod_names_pods_most_connections_first() -> None:
    flows = {
        Flow("10.244.0.2", "10.244.1.3", "tcp", 80): 1,
        Flow("10.244.0.4", "1.1.1.1", "tcp", 443): 5,
    }
    pods = {"10.244.0.2": "default/client", "10.244.1.3": "default/web"}
    assert by_pod(flows, pods) == [
        ["10.244.0.4", "1.1.1.1", "443/TCP", "5"],
        ["default/client", "default/web (10.244.1.3)", "80/TCP", "1"],
    ]
