"""Benchmark: set up N pods (netns, veth pair, addresses, routes) with podnet's sandbox,
against a baseline doing the same wiring with plain ``ip -batch`` in the same run.

    sudo .venv/bin/python bench/bench_podnet_setup.py [--pods 200] [--runs 3] [--write]

podnet: ``Sandbox.add_pods`` for N pods on one node, timed inside the sandbox process
(a pause process per pod with its own net+UTS+mount namespaces, hostname and
/etc files; one ``ip -batch`` in the node; one ``ip -batch`` per pod, 16 at a time).

baseline: in a throw-away child with private mount and network namespaces (so
``ip netns add`` handles never reach the host's /run/netns), one ``ip -batch``
creating the N named netns, veth pairs, node-side addresses and routes, then one
``ip -n <pod> -batch -`` per pod for the pod side (address, lo, eth0, routes): the
way a shell script would do it. Run sequentially and 16 at a time.

Everything lives in namespaces that die with their processes; needs root.
``--write`` replaces the "Pod set-up (sandbox)" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from podnet.dataplane import execs, netns  # noqa: E402
from podnet.dataplane.sandbox import links  # noqa: E402
from podnet.model.cluster import Node  # noqa: E402

NODE = Node("node-0", {}, "10.244.0.0/24", "172.18.0.2")
BEGIN = "<!-- bench_podnet_setup: begin -->"
END = "<!-- bench_podnet_setup: end -->"


def pod_ip(i: int) -> str:
    return f"10.244.{i // 250}.{i % 250 + 2}" if i >= 250 else f"10.244.0.{i + 2}"


def baseline_child(n: int, parallel: int) -> None:
    """Runs in its own process: private mount + net namespaces, then time the set-up."""
    netns.unshare(netns.CLONE_NEWNS | netns.CLONE_NEWNET)
    netns.mount(None, "/", None, netns.MS_REC | netns.MS_PRIVATE)
    netns.mount("bench", "/run", "tmpfs", 0, "size=4m")
    gw = links.pod_gateway(NODE)
    t0 = time.perf_counter()
    lines = ["link set lo up"]
    for i in range(n):
        lines.append(f"netns add p{i}")
    for i in range(n):
        lines += [
            f"link add v{i} type veth peer name eth0 netns p{i}",
            f"address add {gw}/32 dev v{i}",
            f"link set v{i} up",
            f"route add {pod_ip(i)}/32 dev v{i} scope link",
        ]
    execs.run(["ip", "-batch", "-"], links.batch_text(lines))
    jobs = [
        (
            ["ip", "-n", f"p{i}", "-batch", "-"],
            links.batch_text(links.pod_config_batch(pod_ip(i), NODE)),
        )
        for i in range(n)
    ]
    execs.run_all(jobs, parallel=parallel)
    elapsed = time.perf_counter() - t0
    # sanity: the last pod is wired
    out = execs.run(["ip", "-n", f"p{n - 1}", "-4", "-o", "addr", "show", "dev", "eth0"])
    assert pod_ip(n - 1) in out, out
    print(json.dumps({"seconds": elapsed}))


def run_baseline(n: int, parallel: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--baseline-child", str(n), "--parallel", str(parallel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["seconds"])


def run_podnet(n: int, kill: bool = False) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet.dataplane.sandbox.driver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd="/",
    )
    assert proc.stdin is not None and proc.stdout is not None

    def call(**req: object) -> dict[str, object]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(req) + "\n")
        proc.stdin.flush()
        reply: dict[str, object] = json.loads(proc.stdout.readline())
        assert reply["ok"], reply
        return reply

    try:
        assert json.loads(proc.stdout.readline())["ok"]
        ready = time.perf_counter() - t0
        call(op="nodes", n=1)
        pods = [
            {"namespace": "bench", "name": f"p{i}", "node": "node-0", "ip": pod_ip(i)}
            for i in range(n)
        ]
        t1 = time.perf_counter()
        inner = float(call(op="pods", pods=pods)["seconds"])  # type: ignore[arg-type]
        outer = time.perf_counter() - t1
        r = call(op="exec", pod="bench/p0", argv=["busybox", "ping", "-c1", "-W2", pod_ip(n - 1)])
        assert r["rc"] == 0, r
        named: dict[str, int] = call(op="pids")["pids"]  # type: ignore[assignment]
        holders = [p for k, p in named.items() if k != "init"]
        if kill:
            t2 = time.perf_counter()
            proc.kill()
            proc.wait()
            while any(_alive(p) for p in holders):
                time.sleep(0.002)
            dead = time.perf_counter() - t2
            while _alive(named["init"]):
                time.sleep(0.002)
        else:
            t2 = time.perf_counter()
            call(op="close")
        closed = time.perf_counter() - t2
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if kill:
        return {"SIGKILL -> every pod/node process dead": dead, "SIGKILL -> init gone": closed}
    return {"enter": ready, "add_pods": inner, "add_pods_wall": outer, "close": closed}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ip = subprocess.run(["ip", "-V"], capture_output=True, text=True).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {ip}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--baseline-child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--parallel", type=int, default=16, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        baseline_child(args.baseline_child, args.parallel)
        return 0
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    n = args.pods
    rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for k, v in [*run_podnet(n).items(), *run_podnet(n, kill=True).items()]:
            rows.setdefault(f"podnet {k}", []).append(v)
        rows.setdefault("baseline ip -batch, pod side sequential", []).append(run_baseline(n, 1))
        rows.setdefault("baseline ip -batch, pod side 16 at a time", []).append(run_baseline(n, 16))
    load = os.getloadavg()[0]
    lines = [
        f"{n} pods on one node, {args.runs} runs, seconds (median / min); "
        f"1-min load average at the start {load:.2f} (other work shares the machine):",
        "",
        "| what | median s | min s | per pod ms (median) |",
        "|---|---|---|---|",
    ]
    for k, vs in rows.items():
        med = statistics.median(vs)
        per_pod = f"{med / n * 1000:.2f}" if "add_pods" in k or "baseline" in k else "-"
        lines.append(f"| {k} | {med:.3f} | {min(vs):.3f} | {per_pod} |")
    table = "\n".join(lines)
    print(table)
    print(f"\nmachine: {machine()}")
    if args.write:
        write_readme(table, machine())
    return 0


def write_readme(table: str, mach: str) -> None:
    path = REPO / "bench" / "README.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = (
        f"{BEGIN}\n## Pod set-up (sandbox): `bench/bench_podnet_setup.py`\n\n"
        "`sudo .venv/bin/python bench/bench_podnet_setup.py --pods 200 --runs 3 --write`\n\n"
        "podnet `add_pods` = pause process per pod (net+UTS+mount ns, hostname, /etc\n"
        "files, /proc), veth pair, addresses and routes on both sides; `enter` = process\n"
        "start to cluster ready; `close` = explicit teardown; `SIGKILL -> ...` = from\n"
        "SIGKILL of the podnet process until every pause/node process has exited (their\n"
        "namespaces are released on exit), resp. until the cluster init is gone: the\n"
        "kernel's init waits until every process of its namespace is *reaped*, and the\n"
        "orphaned zombies are reaped by the host's pid 1, at its own pace.\n"
        "Baseline = the same veths,\n"
        "addresses and routes with plain `ip -batch` + `ip netns add` (no hostname, no\n"
        "mount namespace), in the same run.\n\n"
        f"{table}\n\nMachine: {mach}\n{END}\n"
    )
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
