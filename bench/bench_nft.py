"""Benchmark of the Service proxy table (Briefs G, G2): run as root.

    .venv/bin/python bench/bench_nft.py [--services 10000] [--changes 200] [--compare]

In a scratch network namespace (``pnt-bench-<hex>``, deleted at the end, also on
failure) it measures, at N ClusterIP Services x 2 endpoints:

1. the full load end to end: ``ServiceProxy.sync_cluster(state)`` from a
   ``ClusterState`` to the kernel (compile + table + transaction text + ``nft -f``),
   with its parts measured separately; median of 3;
2. one endpoint change end to end through the handlers over one long-lived ``nft -i``
   (``NftSession``): from ``proxy.update_endpoints(key, port, endpoints)`` until
   ``sync_changes()`` returns after nft acknowledged; median, p99 and max of ``--changes``,
   and the Python part alone; then the same through a one-shot ``nft -f`` per change,
   through the whole-state ``sync_cluster`` (new ClusterState that shares the unchanged
   objects) and the pure ``diff(old, new)``;
3. with ``--compare``: a kube-proxy-like ruleset (a chain per service and per
   endpoint) at growing sizes until one load exceeds a cap.

Prints Markdown for bench/README.md. Only the real numbers of this machine.
"""

# ruff: noqa: E501  (nft command lines are clearer unbroken)
from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podnet.dataplane.nft.session import NftSession
from podnet.dataplane.nft.transaction import ExecNftRunner, NftRunner, Transaction
from podnet.dataplane.proxy.services import compile_services
from podnet.dataplane.proxy.sync import ServiceProxy, diff
from podnet.dataplane.proxy.table import ProxyTable
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service, ServicePort

CAP_SECONDS = 20.0


def svc_ip(i: int) -> str:
    return f"10.{96 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def pod_ip(k: int) -> str:
    return f"10.244.{(k // 256) % 256}.{k % 256}"


def endpoints(ips: list[str]) -> dict[str, tuple[Endpoint, ...]]:
    return {"": tuple(Endpoint(f"bench/p{ip}", ip, "node-0", 8080, "TCP") for ip in ips)}


def cluster(n: int) -> ClusterState:
    services = tuple(
        Service("bench", f"s{i}", ports=(ServicePort(80, 8080),), cluster_ip=svc_ip(i))
        for i in range(n)
    )
    eps = {f"bench/s{i}": endpoints([pod_ip(2 * i), pod_ip(2 * i + 1)]) for i in range(n)}
    return ClusterState((), (), (), services, (), eps)


class Timed:
    """An NftRunner wrapper that records the time spent in the real runner."""

    def __init__(self, inner: NftRunner) -> None:
        self.inner = inner
        self.spent = 0.0

    def run(self, tx: Transaction) -> None:
        t = time.perf_counter()
        self.inner.run(tx)
        self.spent += time.perf_counter() - t


def ms(x: float) -> str:
    return f"{x * 1000:.1f}" if x < 0.1 else f"{x * 1000:.0f}"


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished children."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return (me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime)


def full_load(runner: ExecNftRunner, state: ClusterState) -> None:
    loads, parts, cpus = [], [], []
    for _ in range(3):
        wrapped = Timed(runner)
        proxy = ServiceProxy(wrapped, freeze_gc=False)
        c0 = cpu()
        loads.append(timed(lambda p=proxy: p.sync_cluster(state)))  # type: ignore[misc]
        c1 = cpu()
        cpus.append((c1[0] - c0[0], c1[1] - c0[1]))
        parts.append(wrapped.spent)
    t = time.perf_counter()
    ps = compile_services(state)
    t_compile = time.perf_counter() - t
    table = ProxyTable.from_state(ps)
    t_table = time.perf_counter() - t - t_compile
    tx = table.full_transaction()
    text = tx.render()
    t_text = time.perf_counter() - t - t_compile - t_table
    t_nft = timed(lambda: runner.run_text(text))
    t_gc = timed(gc.collect)
    i = loads.index(statistics.median(loads))
    print(
        f"| full load of {len(state.services):,} Services x 2 endpoints ({len(tx):,} operations), "
        f"`ServiceProxy.sync_cluster(state)` to the kernel, median of 3 | **{ms(loads[i])} ms** "
        f"({', '.join(ms(x) for x in loads)}); of which nft {ms(parts[i])} ms; CPU time: Python "
        f"{ms(cpus[i][0])} ms + nft {ms(cpus[i][1])} ms = {ms(sum(cpus[i]))} ms |"
    )
    print(
        f"| its parts, measured once: `compile_services` / `ProxyTable` / transaction + text / `nft -f` "
        f"| {ms(t_compile)} / {ms(t_table)} / {ms(t_text)} / {ms(t_nft)} ms |"
    )
    print(
        f"| one full cyclic GC collection (`gc.collect()`) with that state and table alive, "
        f"not frozen | {ms(t_gc)} ms |"
    )


def changes(prefix: tuple[str, ...], state: ClusterState, count: int) -> None:
    n = len(state.services)
    with NftSession(prefix) as session:
        wrapped = Timed(session)
        proxy = ServiceProxy(wrapped)
        proxy.sync_cluster(state)
        ends, pys, ops = [], [], 0
        for k in range(count):
            i = (k * 7919) % n
            new = endpoints([pod_ip(2 * i), f"10.245.{k // 256}.{k % 256}"])[""]
            before = wrapped.spent
            t = time.perf_counter()
            proxy.update_endpoints(f"bench/s{i}", "", new)
            ops = proxy.sync_changes()
            ends.append(time.perf_counter() - t)
            pys.append(ends[-1] - (wrapped.spent - before))
        t_gc = timed(gc.collect)
        listing = ExecNftRunner(prefix).list_table("ip", "podnet-proxy")
        assert f"10.245.{(count - 1) // 256}.{(count - 1) % 256} . 8080" in listing
        assert (proxy.full_syncs, proxy.failed_syncs) == (1, 0)
    print(
        f"| one endpoint change at {n:,} Services ({ops} element operations), end to end: "
        f"`update_endpoints` + `sync_changes` over `NftSession`, {count} changes "
        f"| **median {ms(statistics.median(ends))} ms, p99 {ms(sorted(ends)[int(len(ends) * 0.99)])} ms, "
        f"max {ms(max(ends))} ms** |"
    )
    print(
        f"| of which Python (`update_endpoints` + fragment diff + transaction text) "
        f"| median {ms(statistics.median(pys))} ms, max {ms(max(pys))} ms |"
    )
    print(
        f"| the same `gc.collect()` after the proxy's full sync froze the heap "
        f"(`gc.freeze()`, the default) | {ms(t_gc)} ms |"
    )
    oneshot = ServiceProxy(ExecNftRunner(prefix))
    oneshot.sync_cluster(state)
    shots = []
    for k in range(10):
        new = endpoints([pod_ip(2 * k), f"10.246.0.{k + 1}"])[""]
        t = time.perf_counter()
        oneshot.update_endpoints(f"bench/s{k}", "", new)
        oneshot.sync_changes()
        shots.append(time.perf_counter() - t)
    print(
        f"| the same change through a one-shot `nft -f -` per change (`ExecNftRunner`, via `ip netns exec`), 10 changes "
        f"| median {ms(statistics.median(shots))} ms, max {ms(max(shots))} ms |"
    )
    whole = []
    cur = state
    for k in range(5):
        eps = dict(cur.endpoints)
        eps[f"bench/s{k}"] = endpoints([pod_ip(2 * k), f"10.247.0.{k + 1}"])
        cur = ClusterState((), (), (), cur.services, (), eps)
        t = time.perf_counter()
        oneshot.sync_cluster(cur)
        whole.append(time.perf_counter() - t)
    print(
        f"| the same change given as a whole new `ClusterState` (`sync_cluster`; unchanged Services are the same objects), one-shot nft, 5 changes "
        f"| median {ms(statistics.median(whole))} ms |"
    )
    old = compile_services(state)
    new_state = ClusterState(
        (), (), (), state.services, (), {**state.endpoints, "bench/s3": endpoints(["10.248.0.1"])}
    )
    new_ps = compile_services(new_state)
    print(
        f"| pure `diff(old, new)` of two `ProxyState`s at that size (builds the old table, compares per Service) | {ms(timed(lambda: diff(old, new_ps)))} ms |"
    )


def chain_per_service_text(n: int) -> str:
    """kube-proxy nftables style: service chain -> numgen vmap -> endpoint chain -> dnat."""
    lines = [
        "add table ip bench-chains",
        "delete table ip bench-chains",
        "add table ip bench-chains",
        "add map ip bench-chains service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }",
        "add chain ip bench-chains nat-prerouting { type nat hook prerouting priority dstnat; }",
        "add rule ip bench-chains nat-prerouting ip daddr . meta l4proto . th dport vmap @service-ips",
    ]
    for i in range(n):
        for j in range(2):
            lines.append(f"add chain ip bench-chains sep-{i}-{j}")
            lines.append(
                f"add rule ip bench-chains sep-{i}-{j} meta l4proto tcp dnat to {pod_ip(2 * i + j)}:8080"
            )
        lines.append(f"add chain ip bench-chains svc-{i}")
        lines.append(
            f"add rule ip bench-chains svc-{i} numgen random mod 2 vmap {{ 0 : goto sep-{i}-0, 1 : goto sep-{i}-1 }}"
        )
        lines.append(
            f"add element ip bench-chains service-ips {{ {svc_ip(i)} . tcp . 80 : goto svc-{i} }}"
        )
    return "\n".join(lines) + "\n"


def compare(prefix: tuple[str, ...]) -> None:
    for n in (1000, 2500, 5000, 10_000):
        t = time.perf_counter()
        try:
            subprocess.run(
                [*prefix, "nft", "-f", "-"],
                input=chain_per_service_text(n),
                text=True,
                check=True,
                timeout=CAP_SECONDS * 3,
            )
        except subprocess.TimeoutExpired:
            print(f"| chain-per-service, {n:,} Services | killed after {CAP_SECONDS * 3:.0f} s |")
            return
        took = time.perf_counter() - t
        print(
            f"| chain-per-service (kube-proxy style, {3 * n:,} chains), {n:,} Services x 2, full load | {ms(took)} ms |"
        )
        if took > CAP_SECONDS:
            return


def machine() -> str:
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    nft = subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()
    return f"nproc {os.cpu_count()}, CPU {cpu}, {nft}, kernel {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--compare", action="store_true", help="also load a chain-per-service ruleset")
    args = ap.parse_args()
    ns = f"pnt-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    prefix = ("ip", "netns", "exec", ns)
    try:
        print(f"Machine: {machine()}; load average before: {os.getloadavg()[0]:.1f}\n")
        print("| measurement | result |\n|---|---|")
        state = cluster(args.services)
        full_load(ExecNftRunner(prefix), state)
        changes(prefix, state, args.changes)
        if args.compare:
            compare(prefix)
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
