"""Benchmark: podnet's cluster DNS server against dnsmasq, same records, on loopback.

Both servers get the same A records for N ClusterIP Services: podnet the records file
that ``podnet run`` writes (control.dns's ``build_records`` of a cluster with those
Services, which also holds their SRV and PTR records), dnsmasq a ``--host-record`` per
Service name. The client asks for those names in a fixed mix that also contains
NXDOMAIN names, so both servers answer from memory. The load generator is
``dnsperf`` (Debian package ``dnsperf``) when installed, else a bounded Python
generator (which measures the generator as much as the server: the figures say so).

Loopback only (127.0.0.1, ports chosen free); every run is bounded by ``--seconds``
and stops itself; both servers are started and stopped by pid.

    .venv/bin/python bench/bench_dns.py [--seconds 10] [--services 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podnet.control.cluster import build_cluster
from podnet.control.dns import RR, DnsRecords, build_records
from podnet.dataplane.dns import records as records_file
from podnet.model.objects import Manifests, Service, ServicePort

ZONE = "cluster.local"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = int(u.getsockname()[1])
    with socket.socket() as t:  # the TCP side must be free too
        t.bind(("127.0.0.1", port))
    return port


def records(n: int) -> DnsRecords:
    """control.dns's records for a cluster with ``n`` ClusterIP Services ``svc-<i>``."""
    services = tuple(
        Service("default", f"svc-{i}", ports=(ServicePort(80, 80, name="http"),)) for i in range(n)
    )
    return build_records(build_cluster(Manifests(services=services)), ZONE)


def service_a(recs: DnsRecords, n: int) -> list[RR]:
    """The A record of each ``svc-<i>``: the names both servers are asked for."""
    return [recs.rrsets[f"svc-{i}.default.svc.{ZONE}"]["A"][0] for i in range(n)]


def query_file(path: Path, rrs: list[RR]) -> None:
    lines = [f"{r.name.rstrip('.')} A" for r in rrs]
    lines += [f"missing-{i}.default.svc.{ZONE} A" for i in range(max(1, len(rrs) // 10))]
    path.write_text("\n".join(lines) + "\n")


def wait_udp(port: int, timeout: float = 10.0) -> None:
    from dnslib import DNSRecord

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            DNSRecord.question(f"svc-0.default.svc.{ZONE}").send("127.0.0.1", port, timeout=0.3)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer")


def run_dnsperf(port: int, qfile: Path, seconds: int, clients: int) -> tuple[float, float]:
    """Queries per second and average latency (ms) that dnsperf measured."""
    out = subprocess.run(
        ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile), "-l", str(seconds),
         "-c", str(clients), "-q", "500", "-t", "2"],
        capture_output=True, text=True, timeout=seconds + 30, check=False,
    )  # fmt: skip
    m = re.search(r"Queries per second:\s+([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"dnsperf output not understood:\n{out.stdout}\n{out.stderr}")
    lost = re.search(r"Queries lost:\s+(\d+)", out.stdout)
    lat = re.search(r"Average Latency \(s\):\s+([\d.]+)", out.stdout)
    latency_ms = float(lat.group(1)) * 1000 if lat else float("nan")
    print(f"    dnsperf: {m.group(1)} qps, lost {lost.group(1) if lost else '?'}, "
          f"average latency {latency_ms:.3f} ms")  # fmt: skip
    return float(m.group(1)), latency_ms


def run_python_gen(port: int, qfile: Path, seconds: int, window: int = 64) -> float:
    """Keeps ``window`` queries in flight on one socket for ``seconds``; answers/s."""
    from dnslib import DNSRecord

    names = [ln.split()[0] for ln in qfile.read_text().splitlines() if ln]
    packets = [bytes(DNSRecord.question(n).pack()) for n in names]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.settimeout(1.0)
    done, sent, i = 0, 0, 0
    end = time.monotonic() + seconds
    while sent - done < window:
        s.send(packets[i % len(packets)])
        sent, i = sent + 1, i + 1
    while time.monotonic() < end:
        try:
            s.recv(4096)
        except TimeoutError:
            sent = done  # lost packets: refill the window
        else:
            done += 1
        while sent - done < window:
            s.send(packets[i % len(packets)])
            sent, i = sent + 1, i + 1
    s.close()
    return done / seconds


def group_cpu_seconds(pgid: int) -> float:
    """User+system CPU seconds of every live process in process group ``pgid`` (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ... utime stime
            total += int(fields[11]) + int(fields[12])
    return total / tick


def in_process_cost(recs: DnsRecords, qfile: Path) -> tuple[float, float]:
    """Microseconds per ``DnsServer.answer`` call, best of 7: cached, and uncached.

    The uncached figure uses the TCP path, which never reads the answer cache: parse,
    ``control.dns.resolve``, pack. CPU per query, so less at the mercy of other load on
    the machine than the dnsperf figures.
    """
    from dnslib import DNSRecord

    from podnet.dataplane.dns.server import DnsServer

    names = [ln.split()[0] for ln in qfile.read_text().splitlines() if ln]
    packets = [bytes(DNSRecord.question(n).pack()) for n in names]
    server = DnsServer(recs)
    for packet in packets:
        server.answer(packet)

    def per_query(udp: bool, loops: int) -> float:
        best = float("inf")
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(loops):
                for packet in packets:
                    server.answer(packet, udp=udp)
            best = min(best, (time.perf_counter() - start) / (loops * len(packets)))
        return best * 1e6

    return per_query(True, 200), per_query(False, 5)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def bench(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--generator", choices=["auto", "dnsperf", "python"], default="auto")
    args = ap.parse_args(argv)
    use_dnsperf = args.generator == "dnsperf" or (
        args.generator == "auto" and shutil.which("dnsperf") is not None
    )
    recs = records(args.services)
    rrs = service_a(recs, args.services)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="podnet-bench-dns-") as tmp:
        d = Path(tmp)
        qfile = d / "queries.txt"
        query_file(qfile, rrs)
        rec = d / "records.json"
        records_file.write(rec, recs)
        cached, uncached = in_process_cost(recs, qfile)
        print(f"  in process: cached {cached:.3f} us/query, uncached {uncached:.1f} us/query")
        results["podnet_cached_us"], results["podnet_uncached_us"] = cached, uncached
        servers: dict[str, list[str]] = {
            "podnet": [sys.executable, "-m", "podnet.dataplane.dns",
                       "--records", str(rec), "--workers", str(args.workers)],
            "dnsmasq": ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                        "--no-resolv", "--no-hosts", "--bind-interfaces",
                        "--listen-address=127.0.0.1", "--pid-file=", "--cache-size=10000",
                        f"--local=/{ZONE}/", "--user=root",
                        *(f"--host-record={r.name.rstrip('.')},{r.data}" for r in rrs)],
        }  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        for name, argv0 in servers.items():
            port = free_port()
            extra = ["--listen", f"127.0.0.1:{port}"] if name == "podnet" else [f"--port={port}"]
            proc = subprocess.Popen([*argv0, *extra], env=env, start_new_session=True,
                                    stdout=subprocess.DEVNULL)  # fmt: skip
            try:
                wait_udp(port)
                print(f"  {name} on 127.0.0.1:{port}")
                cpu = group_cpu_seconds(proc.pid)
                if use_dnsperf:
                    qps, latency_ms = run_dnsperf(port, qfile, args.seconds, args.clients)
                    results[f"{name}_latency_ms"] = latency_ms
                else:
                    qps = run_python_gen(port, qfile, args.seconds)
                # server CPU per answer: steadier than q/s when other jobs share the cores
                cpu_us = (group_cpu_seconds(proc.pid) - cpu) / (qps * args.seconds) * 1e6
                print(f"    server CPU {cpu_us:.2f} us/query")
                results[name] = qps
                results[f"{name}_cpu_us_per_query"] = cpu_us
            finally:
                stop(proc)
    results["ratio"] = results["podnet"] / results["dnsmasq"]
    results["generator_is_dnsperf"] = float(use_dnsperf)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    bench()
