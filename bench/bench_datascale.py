"""Benchmark the data plane alone in a scale-up: N pods through :class:`LiveCluster`.

    sudo .venv/bin/python bench/bench_datascale.py [--pods 1000] [--nodes 10] [--chunk 100]

What ``podnet up``'s kubelet does for a scale-up, without the API server and the
controllers: pods of one Deployment-like set (busybox ``sleep 3600`` under crun, one
Service selecting them) are added in chunks of ``--chunk`` (``LiveCluster.add_pods``,
``wait=0``: sandboxes, veths, one recorded change each), and a start thread starts each
chunk's containers once the paced sync has applied its IPs, as the kubelet's
``_after_sync`` does. Printed: when the last sandbox was made, when every container was
Running, when every pod was in the Service's endpoints as applied by the sync; CPU:
``all_cpu_s`` of this process and everything it started, exited processes included
(with ``--cpuacct``: a cgroup v1 ``cpuacct`` group of its own), this process
alone (user+sys), and the live processes of the cluster by command name (nft, the
pauses; read from /proc before teardown); the syncs made; the machine's busy and idle
CPU seconds (other users of the machine included). ``--process`` starts plain
processes instead of crun (to split crun's share). Everything lives in the cluster's
namespaces, which die with the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from podnet.control.cluster import build_cluster  # noqa: E402
from podnet.dataplane.runtime.state import RUNNING, PodStatus  # noqa: E402
from podnet.live.cluster import RUNTIME_ENV, LiveCluster  # noqa: E402
from podnet.manifests.files import load_paths  # noqa: E402
from podnet.model.objects import Pod  # noqa: E402

SERVICE = """---
apiVersion: v1
kind: Service
metadata: {name: idle}
spec:
  selector: {app: idle}
  ports: [{port: 80, targetPort: 80}]
"""


def _pods(n: int) -> str:
    return "".join(
        f"""---
apiVersion: v1
kind: Pod
metadata: {{name: idle-{i}, labels: {{app: idle}}}}
spec:
  containers: [{{name: c, image: busybox, command: [sleep, "3600"]}}]
"""
        for i in range(n)
    )


def _cpu_of_tree(roots: set[int]) -> dict[str, float]:
    """utime+stime (and reaped children's) of every live descendant of ``roots`` by
    command name (crun's children live in PID namespaces of their own: found by
    parent), seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, str, int]] = {}  # pid -> (ppid, comm, ticks)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                head, tail = f.read().rsplit(b")", 1)
        except OSError:
            continue
        fields = tail.split()
        comm = head.split(b"(", 1)[1].decode(errors="replace")
        stats[int(entry)] = (int(fields[1]), comm, sum(int(x) for x in fields[11:15]))
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    todo = [c for r in roots for c in children.get(r, [])]
    while todo:
        pid = todo.pop()
        _, comm, ticks = stats[pid]
        out[comm] = out.get(comm, 0.0) + ticks / tick
        todo += children.get(pid, [])
    return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def _machine_cpu() -> tuple[float, float]:
    """(busy, idle) seconds of every CPU since boot, from /proc/stat: the kernel's own
    work (kworkers, RCU) shows only here; other users of the machine do too."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / tick, idle / tick


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuGroup:
    """A cgroup v1 ``cpuacct`` group this process moves into for the run: its usage
    counts every thread and descendant, exited ones included (crun's children, nsenter,
    ip), which /proc of the live processes cannot. Removed at the end (this process
    moves back first; the cluster's processes are gone by then). None where the
    hierarchy is absent or not writable."""

    def __init__(self) -> None:
        self.path = CPUACCT / f"podnet-bench-datascale-{os.getpid()}"
        self.path.mkdir()
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def usage(self) -> float:
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        for _ in range(100):  # the last of the cluster's processes may still be exiting
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)

    @classmethod
    def make(cls) -> CpuGroup | None:
        try:
            return cls()
        except OSError:
            return None


def run(pods: int, nodes: int, chunk: int, group: CpuGroup | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "base.yaml"
        base.write_text(SERVICE)
        every = Path(d) / "pods.yaml"
        every.write_text(SERVICE + _pods(pods))
        # scheduling as build_cluster does it; the IPs come from add_pods
        planned = [
            p
            for p in build_cluster(load_paths([str(every)]), nodes).pods
            if p.name.startswith("idle-")
        ]
        running: dict[str, float] = {}
        done = threading.Event()

        def on_status(st: PodStatus) -> None:
            if st.containers and st.containers[0].state == RUNNING and st.key not in running:
                running[st.key] = time.perf_counter()
                if len(running) == pods:
                    done.set()

        with LiveCluster(load_paths([str(base)]), nodes=nodes) as cluster:
            cluster.on_status = on_status
            cluster.start()
            assert cluster.sandbox is not None and cluster.sync is not None
            init = cluster.sandbox.init_pid
            syncs0, cpu0 = cluster.sync.syncs, os.times()
            starts: queue.SimpleQueue[tuple[list[Pod], int] | None] = queue.SimpleQueue()

            def start_loop() -> None:
                while (item := starts.get()) is not None:
                    placed, mark = item
                    while not cluster.wait_synced(10.0, mark):
                        pass
                    cluster.start_pods(placed)

            starter = threading.Thread(target=start_loop)
            t0, m0 = time.perf_counter(), _machine_cpu()
            g0 = None if group is None else group.usage()
            starter.start()
            chunk_s: list[float] = []
            for i in range(0, pods, chunk):
                t1 = time.perf_counter()
                placed = cluster.add_pods(
                    [dataclasses.replace(p, ip=None) for p in planned[i : i + chunk]], wait=0
                )
                starts.put((placed, cluster.sync_mark()))
                chunk_s.append(round(time.perf_counter() - t1, 2))
            t_sandboxes = time.perf_counter() - t0
            starts.put(None)
            ok = done.wait(120)
            t_running = time.perf_counter() - t0
            starter.join()
            # every pod's IP in the Service's endpoints, as applied
            while True:
                st = cluster.state
                ports = {} if st is None else st.endpoints.get("default/idle", {})
                eps = next(iter(ports.values()), ())
                if sum(1 for e in eps if e.ready) >= pods or time.perf_counter() - t0 > 120:
                    break
                time.sleep(0.01)
            t_served = time.perf_counter() - t0
            cpu1, m1 = os.times(), _machine_cpu()
            g1 = None if group is None else group.usage()
            cluster_cpu = _cpu_of_tree({os.getpid(), init})
            syncs = cluster.sync.syncs - syncs0
        return {
            "pods": pods,
            "all_running": ok,
            "sandboxes_s": round(t_sandboxes, 2),
            "running_s": round(t_running, 2),
            "in_endpoints_s": round(t_served, 2),
            "all_cpu_s": None if g0 is None or g1 is None else round(g1 - g0, 2),
            "self_cpu_s": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 2),
            "reaped_children_cpu_s": round(
                cpu1.children_user
                + cpu1.children_system
                - cpu0.children_user
                - cpu0.children_system,
                2,
            ),
            "cluster_procs_cpu_s": round(sum(cluster_cpu.values()), 2),
            "by_command": cluster_cpu,
            "machine_busy_idle_s": [round(m1[0] - m0[0], 2), round(m1[1] - m0[1], 2)],
            "syncs": syncs,
            "add_pods_s": chunk_s,
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--process", action="store_true", help="plain processes, not crun")
    ap.add_argument(
        "--cpuacct",
        action="store_true",
        help="count all_cpu_s in a cgroup v1 cpuacct group of its own (a host cgroup "
        "while it runs: tests that compare the host's cgroups may see it)",
    )
    args = ap.parse_args()
    if args.process:
        os.environ[RUNTIME_ENV] = "process"
    print(json.dumps({"commit_tree": str(REPO), "loadavg_before": os.getloadavg()}))
    group = CpuGroup.make() if args.cpuacct else None
    try:
        for _ in range(args.runs):
            out = run(args.pods, args.nodes, args.chunk, group)
            print(json.dumps({**out, "loadavg_after": os.getloadavg()}), flush=True)
    finally:
        if group is not None:
            group.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
