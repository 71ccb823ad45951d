"""Benchmark: podnet's cluster DNS server against dnsmasq, same records, on loopback.

Both servers get the same A records (``--host-record`` for dnsmasq, a records file
for podnet) for N Services; the client asks for those names in a fixed mix that also
contains NXDOMAIN names, so both servers answer from memory. The load generator is
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

from podnet.dataplane.dns import table

ZONE = "cluster.local"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = int(u.getsockname()[1])
    with socket.socket() as t:  # the TCP side must be free too
        t.bind(("127.0.0.1", port))
    return port


def records(n: int) -> list[table.RR]:
    return [
        table.RR(f"svc-{i}.default.svc.{ZONE}", "A", 30, f"10.96.{i // 250}.{i % 250 + 2}")
        for i in range(n)
    ]


def query_file(path: Path, rrs: list[table.RR]) -> None:
    lines = [f"{r.name} A" for r in rrs]
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


def run_dnsperf(port: int, qfile: Path, seconds: int, clients: int) -> float:
    out = subprocess.run(
        ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile), "-l", str(seconds),
         "-c", str(clients), "-q", "500", "-t", "2"],
        capture_output=True, text=True, timeout=seconds + 30, check=False,
    )  # fmt: skip
    m = re.search(r"Queries per second:\s+([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"dnsperf output not understood:\n{out.stdout}\n{out.stderr}")
    lost = re.search(r"Queries lost:\s+(\d+)", out.stdout)
    print(f"    dnsperf: {m.group(1)} qps, lost {lost.group(1) if lost else '?'}")
    return float(m.group(1))


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
    rrs = records(args.services)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="podnet-bench-dns-") as tmp:
        d = Path(tmp)
        qfile = d / "queries.txt"
        query_file(qfile, rrs)
        rec = d / "records.json"
        table.write_atomic(rec, table.to_json(ZONE, rrs, ["default"]))
        servers: dict[str, list[str]] = {
            "podnet": [sys.executable, "-m", "podnet.dataplane.dns",
                       "--records", str(rec), "--workers", str(args.workers)],
            "dnsmasq": ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                        "--no-resolv", "--no-hosts", "--bind-interfaces",
                        "--listen-address=127.0.0.1", "--pid-file=", "--cache-size=10000",
                        f"--local=/{ZONE}/", "--user=root",
                        *(f"--host-record={r.name},{r.data}" for r in rrs)],
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
                if use_dnsperf:
                    qps = run_dnsperf(port, qfile, args.seconds, args.clients)
                else:
                    qps = run_python_gen(port, qfile, args.seconds)
                results[name] = qps
            finally:
                stop(proc)
    results["ratio"] = results["podnet"] / results["dnsmasq"]
    results["generator_is_dnsperf"] = float(use_dnsperf)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    bench()
