"""Benchmark of the NetworkPolicy table (Brief H): run as root, ``python bench/bench_nftpol.py``.

In a scratch network namespace (``pnp-bench-<hex>``, deleted at the end, also on
failure) it measures, for 1,000 pods in 20 namespaces and 200 policies (10 kinds per
namespace: default deny, pod/namespace/AND selectors, matchExpressions, named ports,
port ranges, ipBlock with except, egress deny, DNS egress):

1. ``compile_policies`` for one node, the full transaction (render) and ``nft -f``;
2. one pod label change: recompile + ``diff`` + apply, via ``nft -f`` per change and
   via a long-lived ``NftSession``.

``--anps N`` adds N AdminNetworkPolicies and the BaselineAdminNetworkPolicy (subjects
and peers by the same ``app``/``team`` labels, Deny/Pass/Accept, ranges, named ports,
node and network peers), so the label change also moves their subject/peer sets.

Done for a single node holding all 1,000 pods (the largest table one node can have)
and for node-0 of 4 nodes. Prints Markdown for bench/README.md.
"""

# ruff: noqa: E501
from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podnet.dataplane.nft.session import NftSession
from podnet.dataplane.nft.transaction import ExecNftRunner
from podnet.dataplane.policy.compile import compile_policies
from podnet.dataplane.policy.sync import PolicyProxy, diff, full_transaction
from podnet.model.cluster import ClusterState, Node
from podnet.model.clusterpolicy import (
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
    PodsIn,
)
from podnet.model.objects import (
    Container,
    ContainerPort,
    IPBlock,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
)
from podnet.model.selectors import EMPTY, LabelSelector, Requirement

N_NS, PODS_PER_NS = 20, 50


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.from_labels(labels)


def pods(nodes: int) -> list[Pod]:
    out = []
    for n in range(N_NS):
        for k in range(PODS_PER_NS):
            i = n * PODS_PER_NS + k
            labels = {"app": f"app{k % 10}", "tier": "abc"[k % 3], "version": f"v{k % 2}"}
            port = ContainerPort(8080 + k % 3, name="http")
            ip = f"10.244.{i // 250}.{i % 250 + 2}"
            out.append(
                Pod(
                    f"ns{n}",
                    f"p{k}",
                    labels,
                    (Container("c", "x", ports=(port,)),),
                    ip=ip,
                    node=f"node-{i % nodes}",
                )
            )
    out.append(
        Pod(
            "kube-system",
            "coredns",
            {"k8s-app": "kube-dns"},
            (Container("c", "x"),),
            ip="10.244.9.2",
            node="node-0",
        )
    )
    return out


def policies() -> list[NetworkPolicy]:
    out = []
    dns = PolicyRule(
        ports=(PolicyPort("UDP", 53), PolicyPort("TCP", 53)),
        peers=(
            PolicyPeer(
                namespace_selector=sel(**{"kubernetes.io/metadata.name": "kube-system"}),
                pod_selector=sel(**{"k8s-app": "kube-dns"}),
            ),
        ),
    )
    for n in range(N_NS):
        ns, a, b = f"ns{n}", f"app{n % 10}", f"app{(n + 1) % 10}"
        expr = LabelSelector(match_expressions=(Requirement("tier", "In", ("a", "b")),))
        notc = LabelSelector(match_expressions=(Requirement("tier", "NotIn", ("c",)),))
        specs: list[tuple[str, LabelSelector, tuple[str, ...], dict[str, object]]] = [
            ("deny-in", EMPTY, ("Ingress",), {}),
            (
                "from-b",
                sel(app=a),
                ("Ingress",),
                {
                    "ingress": (
                        PolicyRule(
                            ports=(PolicyPort(port="http"),),
                            peers=(PolicyPeer(pod_selector=sel(app=b)),),
                        ),
                    )
                },
            ),
            (
                "from-team",
                sel(app=b),
                ("Ingress",),
                {
                    "ingress": (
                        PolicyRule(peers=(PolicyPeer(namespace_selector=sel(team=f"t{n % 4}")),)),
                    )
                },
            ),
            (
                "and",
                sel(version="v0"),
                ("Ingress",),
                {
                    "ingress": (
                        PolicyRule(
                            ports=(PolicyPort("TCP", 8080, 8090),),
                            peers=(
                                PolicyPeer(
                                    namespace_selector=sel(team="t1"), pod_selector=sel(app=a)
                                ),
                            ),
                        ),
                    )
                },
            ),
            (
                "block",
                sel(app=a),
                ("Ingress",),
                {
                    "ingress": (
                        PolicyRule(
                            ports=(PolicyPort("UDP", 53),),
                            peers=(
                                PolicyPeer(ip_block=IPBlock("10.0.0.0/8", (f"10.244.{n}.0/24",))),
                            ),
                        ),
                    )
                },
            ),
            ("deny-eg", EMPTY, ("Egress",), {}),
            ("dns", EMPTY, ("Egress",), {"egress": (dns,)}),
            (
                "to-a",
                sel(app=b),
                ("Egress",),
                {
                    "egress": (
                        PolicyRule(
                            ports=(PolicyPort(port="http"),),
                            peers=(PolicyPeer(pod_selector=sel(app=a)),),
                        ),
                    )
                },
            ),
            (
                "expr",
                expr,
                ("Ingress",),
                {
                    "ingress": (
                        PolicyRule(
                            peers=(PolicyPeer(namespace_selector=EMPTY, pod_selector=notc),)
                        ),
                    )
                },
            ),
            (
                "internet",
                sel(tier="a"),
                ("Egress",),
                {
                    "egress": (
                        PolicyRule(
                            peers=(
                                PolicyPeer(
                                    ip_block=IPBlock("0.0.0.0/0", ("10.0.0.0/8", "172.16.0.0/12"))
                                ),
                            )
                        ),
                    )
                },
            ),
        ]
        for name, selector, types, kw in specs:
            out.append(NetworkPolicy(ns, name, selector, types, **kw))  # type: ignore[arg-type]
    return out


def cluster_policies(n: int) -> list[ClusterNetworkPolicy]:
    """``n`` AdminNetworkPolicies (priorities 0..n-1) and, when n > 0, the BANP."""
    if n == 0:
        return []
    out = []
    dns = ClusterPeer(
        pods=PodsIn(
            sel(**{"kubernetes.io/metadata.name": "kube-system"}), sel(**{"k8s-app": "kube-dns"})
        )
    )
    for i in range(n):
        team = ClusterPeer(namespaces=sel(team=f"t{i % 4}"))
        app = ClusterPeer(pods=PodsIn(EMPTY, sel(app=f"app{i % 10}")))
        other = ClusterPeer(pods=PodsIn(EMPTY, sel(app=f"app{(i + 1) % 10}")))
        ingress = (
            ClusterRule("Deny", (other,), (ClusterPort("TCP", 8080, 8090),), "deny-range"),
            ClusterRule("Pass", (ClusterPeer(namespaces=sel(team=f"t{(i + 2) % 4}")),), (), "pass"),
            ClusterRule("Accept", (dns,), (), "from-dns"),
            ClusterRule("Deny", (app,), (ClusterPort(None, named_port="http"),), "http"),
        )
        egress = (
            ClusterRule("Accept", (dns,), (ClusterPort("UDP", 53), ClusterPort("TCP", 53)), "dns"),
            ClusterRule("Deny", (ClusterPeer(networks=(f"192.168.{i}.0/24",)),), (), "net"),
            ClusterRule(
                "Deny", (ClusterPeer(nodes=EMPTY),), (ClusterPort("TCP", 10250),), "kubelet"
            ),
            ClusterRule("Pass", (other,), (), "pass"),
        )
        subject = app if i % 2 else team
        out.append(
            ClusterNetworkPolicy(
                f"anp{i}", "Admin", i, subject, ingress, egress, "AdminNetworkPolicy"
            )
        )
    banp = ClusterNetworkPolicy(
        "default",
        "Baseline",
        0,
        ClusterPeer(namespaces=EMPTY),
        (ClusterRule("Deny", (ClusterPeer(namespaces=sel(team="t3")),)),),
        (ClusterRule("Deny", (ClusterPeer(networks=("0.0.0.0/0",)),), (ClusterPort("TCP", 25),)),),
        "BaselineAdminNetworkPolicy",
    )
    return [*out, banp]


ANPS = 0  # set from --anps


def cluster(nodes: int, relabel: int | None = None) -> ClusterState:
    ps = pods(nodes)
    if relabel is not None:
        p = ps[relabel]
        ps[relabel] = replace(
            p, labels={**p.labels, "app": "app9" if p.labels["app"] != "app9" else "app8"}
        )
    nss = [
        Namespace(f"ns{n}", {"kubernetes.io/metadata.name": f"ns{n}", "team": f"t{n % 4}"})
        for n in range(N_NS)
    ]
    nss.append(Namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"}))
    node_objs = tuple(
        Node(f"node-{i}", {}, f"10.244.{i}.0/24", f"172.18.0.{i + 2}") for i in range(nodes)
    )
    cps = tuple(cluster_policies(ANPS))
    return ClusterState(
        node_objs, tuple(nss), tuple(ps), (), tuple(policies()), cluster_policies=cps
    )


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def run(ns: str, nodes: int, changes: int, runs: int) -> list[str]:
    runner = ExecNftRunner(("ip", "netns", "exec", ns))
    base = cluster(nodes)
    compile_t = [timed(lambda: compile_policies(base, "node-0")) for _ in range(runs)]
    ps = compile_policies(base, "node-0")
    tx = full_transaction(ps)
    text = tx.render()
    loads = [timed(lambda: runner.run_text(text)) for _ in range(runs)]
    totals = [
        timed(lambda: PolicyProxy(runner).sync(compile_policies(base, "node-0")))
        for _ in range(runs)
    ]
    n_elems = sum(len(v) for v in ps.elements.values())
    n_rules = sum(len(c.rules) for c in ps.chains.values())
    local = sum(1 for p in base.pods if p.node == "node-0")
    # Label changes: pod i flips its app label, then flips back (alternating states).
    states = [base, cluster(nodes, relabel=0)]
    proxy = PolicyProxy(runner)
    proxy.sync(compile_policies(base, "node-0"))
    exec_t, ops = [], []
    for i in range(changes):
        new = compile_policies(states[(i + 1) % 2], "node-0")
        t = time.perf_counter()
        ops.append(proxy.sync(new))
        exec_t.append(time.perf_counter() - t)
    old_ps, new_ps = (compile_policies(s, "node-0") for s in states)
    kinds = {f"{verb} {what}" for verb, what in diff(old_ps, new_ps).counts()}
    assert kinds <= {"add element", "delete element"}, kinds  # a label change: elements only
    diff_t = statistics.median(timed(lambda: diff(old_ps, new_ps)) for _ in range(runs))
    sess_t = []
    with NftSession(("ip", "netns", "exec", ns)) as session:
        sproxy = PolicyProxy(session)
        sproxy.sync(compile_policies(base, "node-0"))
        for i in range(changes):
            new = compile_policies(states[(i + 1) % 2], "node-0")
            t = time.perf_counter()
            sproxy.sync(new)
            sess_t.append(time.perf_counter() - t)
    return [
        f"| {len(base.pods)} pods / {len(base.policies)} policies / {len(base.cluster_policies)} cluster policies, {nodes} node(s) ({local} local to node-0) "
        f"| {len(tx)} ops ({n_rules} rules, {len(ps.chains)} chains, {len(ps.sets)} sets, {n_elems} elements), {len(text) // 1024} KiB "
        f"| {ms(statistics.median(compile_t))} | {ms(statistics.median(loads))} | {ms(statistics.median(totals))} "
        f"| {statistics.median(ops):.0f} ops; {ms(statistics.median(exec_t))} (nft -f) / {ms(statistics.median(sess_t))} (NftSession) "
        f"| {ms(diff_t)} |"
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=15)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--anps", type=int, default=0, help="AdminNetworkPolicies (+ the BANP)")
    args = ap.parse_args()
    global ANPS
    ANPS = args.anps
    ns = f"pnp-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        rows = run(ns, 1, args.changes, args.runs) + run(ns, 4, args.changes, args.runs)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    nft = subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()
    print(
        f"Machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, {nft}, kernel {platform.release()}, Python {platform.python_version()}, loadavg {os.getloadavg()[0]:.1f}"
    )
    print()
    print(
        "| cluster | node-0 table | compile_policies (median of runs) | `nft -f` load of the rendered text (median of runs) | full sync end to end: compile + render + nft (median of runs) | one pod label change: ops; `PolicyProxy.sync` = diff + apply, compile not included (median) | `diff` alone (Python, median) |"
    )
    print("|---|---|---:|---:|---:|---|---:|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
