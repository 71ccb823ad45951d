"""Benchmark ``podnet run``: start-up, ClusterIP overhead, podnet's own memory.

    sudo .venv/bin/python bench/bench_live.py [--runs 7] [--conns 500] [--pods 200]
                                              [--only startup|clusterip|memory]

* startup: the seed example through the real CLI (``.venv/bin/podnet run -f
  examples/seed/pod-to-service.yaml``), from ``Popen`` to pod-a's first output line,
  and to the process's exit; median of ``--runs``. The CLI's own "cluster up in" figure
  and the bare interpreter + import cost (``podnet --version``) are shown beside it.
* clusterip: one nginx pod, a ClusterIP Service and a headless Service in front of it;
  a python client pod makes ``--conns`` sequential connections (connect, HTTP/1.0 GET,
  read to EOF) to the pod IP and as many to the ClusterIP, alternating in blocks of 10
  so drift hits both alike. The ClusterIP path adds the node's nftables DNAT (the
  client's node proxies; conntrack does the rest).
* memory: a Deployment of ``--pods`` busybox ``sleep`` replicas; once every pod runs,
  the RSS (and peak) of the podnet process, and the PSS of the helper processes podnet
  starts (cluster init, node and pause holders, ``nft -i`` sessions). Containers are
  not podnet's and are left out.

All traffic stays inside the cluster's namespaces, which die with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PODNET = [str(REPO / ".venv" / "bin" / "podnet")]
if not Path(PODNET[0]).exists():
    PODNET = [sys.executable, "-m", "podnet"]
SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"


def _popen(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*PODNET, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_until(
    proc: subprocess.Popen[bytes], needle: bytes, timeout: float
) -> tuple[float, bytes]:
    """Read stdout and stderr until ``needle`` shows; (monotonic time seen, bytes read)."""
    assert proc.stdout is not None and proc.stderr is not None
    fds = [proc.stdout.fileno(), proc.stderr.fileno()]
    seen = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and fds:
        ready, _, _ = select.select(fds, [], [], 0.05)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                fds.remove(fd)
            seen += chunk
        if needle in seen:
            return time.monotonic(), seen
    raise RuntimeError(f"no {needle!r} within {timeout}s:\n{seen[-3000:].decode()}")


# --- startup ---------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    """user + system CPU seconds of ``pid`` itself (all threads), /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_startup(runs: int) -> dict[str, object]:
    first, total, up, version, cpu, load = [], [], [], [], [], []
    for _ in range(runs):
        load.append(os.getloadavg()[0])
        t0 = time.monotonic()
        subprocess.run([*PODNET, "--version"], capture_output=True, check=True)
        version.append(time.monotonic() - t0)
        t0 = time.monotonic()
        proc = _popen("run", "-f", str(SEED), "--timeout", "60")
        try:
            seen_at, seen = _read_until(proc, b"[default/pod-a] ", 60)
            cpu.append(_cpu_s(proc.pid))
            _, err = proc.communicate(timeout=60)
            err = seen + err
        finally:
            _kill(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"podnet run exited {proc.returncode}: {err.decode()[-2000:]}")
        total.append(time.monotonic() - t0)
        first.append(seen_at - t0)
        line = next(ln for ln in err.decode().splitlines() if "cluster up in" in ln)
        up.append(float(line.split("cluster up in ")[1].split("s")[0]))
    return {
        "first_output_s": _stats(first),
        "exit_s": _stats(total),
        "cluster_up_s_as_printed": _stats(up),
        "podnet_version_s": _stats(version),
        "podnet_cpu_s_at_first_output": _stats(cpu),
        "loadavg_1min": _stats(load),
    }


# --- ClusterIP vs pod IP -------------------------------------------------------------

CLIENT = r"""
import json, os, socket, statistics, time
N = int(os.environ["CONNS"])
pod_ip = socket.gethostbyname("web-headless")
svc_ip = os.environ["WEB_SERVICE_HOST"]
REQ = b"GET / HTTP/1.0\r\nHost: web\r\n\r\n"
def once(ip):
    t = time.perf_counter()
    s = socket.create_connection((ip, 80))
    s.sendall(REQ)
    while s.recv(65536):
        pass
    s.close()
    return time.perf_counter() - t
for ip in (pod_ip, svc_ip):
    for _ in range(20):
        once(ip)  # warm up: ARP/neighbour, conntrack, nginx workers
times = {pod_ip: [], svc_ip: []}
for _ in range(N // 10):
    for ip in (pod_ip, svc_ip):
        times[ip] += [once(ip) for _ in range(10)]
print("RESULT " + json.dumps({"pod_ip": times[pod_ip], "cluster_ip": times[svc_ip]}), flush=True)
"""

CLUSTERIP_MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: python
    command: [python3, -c, CLIENT]
    env: [{name: CONNS, value: "NCONNS"}]
"""


def bench_clusterip(conns: int, tmp: Path) -> dict[str, object]:
    text = CLUSTERIP_MANIFEST.replace("CLIENT", json.dumps(CLIENT)).replace("NCONNS", str(conns))
    path = tmp / "clusterip.yaml"
    path.write_text(text)
    proc = _popen("run", "-f", str(path), "--timeout", "300")
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        _kill(proc)
    line = next((ln for ln in out.decode().splitlines() if "RESULT " in ln), None)
    if line is None:
        raise RuntimeError(f"no result: {err.decode()[-2000:]}")
    data = json.loads(line.split("RESULT ", 1)[1])
    pod, svc = _stats(data["pod_ip"], scale=1e3), _stats(data["cluster_ip"], scale=1e3)
    return {
        "conns_each": len(data["pod_ip"]),
        "pod_ip_ms": pod,
        "cluster_ip_ms": svc,
        "median_overhead_pct": round(100 * (svc["median"] / pod["median"] - 1), 1),
        "mean_overhead_pct": round(100 * (svc["mean"] / pod["mean"] - 1), 1),
    }


# --- memory --------------------------------------------------------------------------

MEMORY_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: idle}
spec:
  replicas: NPODS
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec:
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
"""


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def _children(root: int) -> list[int]:
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == root:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def bench_memory(pods: int, tmp: Path) -> dict[str, object]:
    path = tmp / "memory.yaml"
    path.write_text(MEMORY_MANIFEST.replace("NPODS", str(pods)))
    t0 = time.monotonic()
    proc = _popen("run", "-f", str(path), "--timeout", "600")
    try:
        seen_at, seen = _read_until(proc, f"started {pods} client pod(s)".encode(), 300)
        up = next(ln for ln in seen.decode().splitlines() if "cluster up in" in ln)
        time.sleep(2)  # let every container exec and settle
        helpers = {"init": 0, "holders": 0, "nft": 0}
        counts = {"init": 0, "holders": 0, "nft": 0, "containers": 0}
        for pid in _children(proc.pid):
            argv = _cmdline(pid)
            kind = (
                "init"
                if any("cluster_init.py" in a for a in argv)
                else "holders"
                if argv[:2] == [argv[0], "infinity"] and argv[0].endswith("sleep")
                else "nft"
                if any(a.endswith("nft") for a in argv)
                else "containers"
            )
            counts[kind] += 1
            if kind in helpers:
                helpers[kind] += _pss_kb(pid)
        result = {
            "pods": pods,
            "cluster_up_as_printed": up.split("podnet: ")[-1],
            "all_started_s": round(seen_at - t0, 2),
            "podnet_rss_mb": round(_status_kb(proc.pid, "VmRSS") / 1024, 1),
            "podnet_peak_rss_mb": round(_status_kb(proc.pid, "VmHWM") / 1024, 1),
            "helpers_pss_mb": {k: round(v / 1024, 1) for k, v in helpers.items()},
            "process_counts": counts,
        }
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
        result["sigterm_to_exit_s"] = round(time.monotonic() - t1, 2)
        result["teardown_exit_code"] = proc.returncode
        return result
    finally:
        _kill(proc)


def _stats(xs: list[float], scale: float = 1.0) -> dict[str, float]:
    ys = sorted(x * scale for x in xs)
    return {
        "median": round(statistics.median(ys), 3),
        "mean": round(statistics.fmean(ys), 3),
        "min": round(ys[0], 3),
        "p90": round(ys[int(0.9 * (len(ys) - 1))], 3),
        "max": round(ys[-1], 3),
        "n": len(ys),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--conns", type=int, default=500)
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--only", choices=["startup", "clusterip", "memory"])
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    info = {
        "machine": f"nproc {os.cpu_count()}, {platform.processor() or platform.machine()}",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_before": os.getloadavg(),
    }
    print(json.dumps(info), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as d:
        tmp = Path(d)
        if args.only in (None, "startup"):
            print(json.dumps({"startup": bench_startup(args.runs)}), flush=True)
        if args.only in (None, "clusterip"):
            print(json.dumps({"clusterip": bench_clusterip(args.conns, tmp)}), flush=True)
        if args.only in (None, "memory"):
            print(json.dumps({"memory": bench_memory(args.pods, tmp)}), flush=True)
    print(json.dumps({"loadavg_after": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
