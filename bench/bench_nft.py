"""Benchmark of the Service proxy table (Brief G): run as root, ``python bench/bench_nft.py``.

In a scratch network namespace (``pnt-bench-<hex>``, deleted at the end, also on
failure) it measures:

1. full sync of 10,000 ClusterIP Services x 2 endpoints (compile + transaction + nft);
2. one endpoint change at that size through :class:`ServiceProxy` (diff + nft), median
   of several;
3. the same load with a kube-proxy-like ruleset (a chain per service and per endpoint),
   at growing sizes until one load exceeds a cap.

Prints Markdown for bench/README.md. Only the real numbers of this machine.
"""

# ruff: noqa: E501  (nft command lines are clearer unbroken)
from __future__ import annotations

import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podnet.dataplane.nft import ExecNftRunner
from podnet.dataplane.nft_proxy import compile_services
from podnet.dataplane.nft_proxy_sync import ServiceProxy, diff, full_transaction
from podnet.dataplane.nft_session import NftSession
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service, ServicePort

N_SERVICES = 10_000
CHANGES = 15
CAP_SECONDS = 20.0


def svc_ip(i: int) -> str:
    return f"10.{96 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def pod_ip(k: int) -> str:
    return f"10.244.{(k // 256) % 256}.{k % 256}"


def cluster(n: int, swap: dict[int, str] | None = None) -> ClusterState:
    services, eps = [], {}
    for i in range(n):
        services.append(
            Service("bench", f"s{i}", ports=(ServicePort(80, 8080),), cluster_ip=svc_ip(i))
        )
        ips = [pod_ip(2 * i), pod_ip(2 * i + 1)]
        if swap and i in swap:
            ips[1] = swap[i]
        eps[f"bench/s{i}"] = {
            "": tuple(Endpoint(f"bench/p{ip}", ip, "node-0", 8080, "TCP") for ip in ips)
        }
    return ClusterState((), (), (), tuple(services), (), eps)


def timed(fn: object, *args: object) -> float:
    t = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - t


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


def machine() -> str:
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    nft = subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()
    return f"nproc {os.cpu_count()}, CPU {cpu}, {nft}, kernel {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    ns = f"pnt-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    runner = ExecNftRunner(("ip", "netns", "exec", ns))
    try:
        print(f"Machine: {machine()}\n")
        state = cluster(N_SERVICES)
        t = time.perf_counter()
        ps = compile_services(state)
        compile_s = time.perf_counter() - t
        fulls, builds = [], []
        for _ in range(3):
            t = time.perf_counter()
            tx = full_transaction(ps)
            text = tx.render()
            builds.append(time.perf_counter() - t)
            fulls.append(builds[-1] + timed(runner.run_text, text))
        print(
            f"- {N_SERVICES} Services x 2 endpoints ({len(tx)} operations): compile_services "
            f"{compile_s * 1000:.0f} ms; full sync (transaction + render + nft -f) "
            f"median {statistics.median(fulls) * 1000:.0f} ms of {[round(x * 1000) for x in fulls]}, "
            f"of which Python {statistics.median(builds) * 1000:.0f} ms"
        )

        proxy = ServiceProxy(runner)
        proxy.sync(ps)
        empty = [timed(runner.run_text, "") for _ in range(CHANGES)]
        syncs, applies, ops = [], [], 0
        prev = ps
        for k in range(CHANGES):
            new = compile_services(cluster(N_SERVICES, {k * 7: f"10.245.0.{k + 1}"}))
            t = time.perf_counter()
            tx = diff(prev, new)
            mid = time.perf_counter()
            runner.run(tx)
            end = time.perf_counter()
            syncs.append(end - t)
            applies.append(end - mid)
            ops = len(tx)
            prev = new
        print(
            f"- one endpoint change at that size ({ops} element operations): nft transaction "
            f"median {statistics.median(applies) * 1000:.1f} ms (min {min(applies) * 1000:.1f}); "
            f"diff + nft median {statistics.median(syncs) * 1000:.1f} ms; an empty `nft -f -` "
            f"via `ip netns exec` costs {statistics.median(empty) * 1000:.1f} ms"
        )

        with NftSession(runner.prefix) as session:
            session_applies = []
            for k in range(CHANGES, 2 * CHANGES):
                new = compile_services(cluster(N_SERVICES, {k * 7: f"10.245.0.{k + 1}"}))
                tx = diff(prev, new)
                session_applies.append(timed(session.run, tx))
                prev = new
        print(
            f"- the same change through NftSession (one long-lived `nft -i`): transaction median "
            f"{statistics.median(session_applies) * 1000:.2f} ms "
            f"(max {max(session_applies) * 1000:.2f})"
        )

        for n in (1000, 2500, 5000, 10_000):
            text = chain_per_service_text(n)
            t = time.perf_counter()
            try:
                subprocess.run(
                    [*runner.prefix, "nft", "-f", "-"],
                    input=text,
                    text=True,
                    check=True,
                    timeout=CAP_SECONDS * 3,
                )
                took = time.perf_counter() - t
            except subprocess.TimeoutExpired:
                print(f"- chain-per-service, {n} Services: killed after {CAP_SECONDS * 3:.0f} s")
                break
            print(
                f"- chain-per-service (kube-proxy style, {3 * n} chains), {n} Services x 2: "
                f"full load {took * 1000:.0f} ms"
            )
            if took > CAP_SECONDS:
                print(f"  (over the {CAP_SECONDS:.0f} s cap: stopping)")
                break
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
