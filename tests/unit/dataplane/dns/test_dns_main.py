"""``python -m podnet.dataplane.dns`` as the DNS pod runs it: workers and reload.

Loopback only; the server's process group is killed by pid in the fixture.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import RCODE, DNSRecord
from support.paths import REPO

from podnet.control.cluster import build_cluster
from podnet.control.dns import DnsRecords, build_records
from podnet.dataplane.dns import records as records_file
from podnet.model.objects import Manifests, Service, ServicePort

ROOT = REPO
NAME = "my-service.default.svc.cluster.local"


def free_port() -> int:
    """A port free for both UDP and TCP (the server listens on both): a port only
    checked for UDP was once taken on TCP ("Address already in use")."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def records_with(ip: str) -> DnsRecords:
    """A cluster whose ``my-service`` has ClusterIP ``ip``."""
    svc = Service("default", "my-service", cluster_ip=ip, ports=(ServicePort(80, 80),))
    return build_records(build_cluster(Manifests(services=(svc,))))


def write(path: Path, ip: str) -> None:
    records_file.write(path, records_with(ip))


def query(port: int, name: str = NAME, *, tcp: bool = False) -> DNSRecord:
    return DNSRecord.parse(DNSRecord.question(name).send("127.0.0.1", port, tcp=tcp, timeout=1))


def answer_ips(port: int) -> list[str]:
    return [str(a.rdata) for a in query(port).rr]


def wait_for(pred: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    records = tmp_path / "records.json"
    write(records, "10.96.0.20")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet.dataplane.dns", "--records", str(records),
         "--listen", f"127.0.0.1:{port}", "--workers", "2", "--poll", "0.2"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: answer_ips(port) == ["10.96.0.20"])
        yield port, records, proc
    finally:
        with_group = proc.poll() is None
        if with_group:
            os.killpg(proc.pid, signal.SIGKILL)
        with proc:  # reaps it and closes our ends of its pipes
            proc.wait(timeout=10)


def test_serves_udp_and_tcp(dns: tuple[int, Path, subprocess.Popen[bytes]]) -> None:
    port, _, _ = dns
    assert [str(a.rdata) for a in query(port, tcp=True).rr] == ["10.96.0.20"]
    assert query(port, "nope.default.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    assert query(port, "example.com").header.rcode == RCODE.REFUSED


def test_reloads_on_file_change_in_every_worker(
    dns: tuple[int, Path, subprocess.Popen[bytes]],
) -> None:
    port, records, _ = dns
    write(records, "10.96.0.77")
    # many source ports, so both SO_REUSEPORT workers are asked
    wait_for(lambda: all(answer_ips(port) == ["10.96.0.77"] for _ in range(20)))


def test_bad_file_keeps_previous_records_and_sighup_reloads(
    dns: tuple[int, Path, subprocess.Popen[bytes]],
) -> None:
    port, records, proc = dns
    records.write_text("{not json")
    time.sleep(0.6)
    assert answer_ips(port) == ["10.96.0.20"]
    assert proc.poll() is None
    write(records, "10.96.0.88")
    os.kill(proc.pid, signal.SIGHUP)
    wait_for(lambda: answer_ips(port) == ["10.96.0.88"])


def test_bad_arguments_exit_nonzero(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["--listen", "nonsense"], ["--records", str(tmp_path / "absent.json")]):
        out = subprocess.run(
            [sys.executable, "-m", "podnet.dataplane.dns", *args],
            env=env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert out.returncode == 2
        assert "Traceback" not in out.stderr


def test_metrics_and_health_port(tmp_path: Path) -> None:
    import urllib.request

    records = tmp_path / "records.json"
    write(records, "10.96.0.20")
    port, mport = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet.dataplane.dns", "--records", str(records),
         "--listen", f"127.0.0.1:{port}", "--metrics", f"127.0.0.1:{mport}"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: answer_ips(port) == ["10.96.0.20"])
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/health", timeout=3) as r:
            assert r.read() == b"OK"
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=3) as r:
            text = r.read().decode()
        names = len(records_with("10.96.0.20").rrsets)
        assert "podnet_dns_up 1" in text and f"podnet_dns_names {names}\n" in text
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_without_records_file_serves_an_empty_zone() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet.dataplane.dns", "--zone", "example.internal",
         "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "PODNET_DNS_RECORDS": ""},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        version = "dns-version.example.internal"
        wait_for(lambda: query(port, version).header.rcode == RCODE.NOERROR)
        txt = DNSRecord.parse(DNSRecord.question(version, "TXT").send("127.0.0.1", port, timeout=1))
        assert [str(a.rdata) for a in txt.rr] == ['"1.1.0"']
        assert query(port, "nope.default.svc.example.internal").header.rcode == RCODE.NXDOMAIN
        assert query(port, NAME).header.rcode == RCODE.REFUSED  # not this zone
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_replaced_records_file_is_read_at_once_not_at_the_next_poll(tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    write(records, "10.96.0.20")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet.dataplane.dns", "--records", str(records),
         "--listen", f"127.0.0.1:{port}", "--poll", "60"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: answer_ips(port) == ["10.96.0.20"])
        time.sleep(0.2)  # the watcher thread is waiting on inotify by now
        write(records, "10.96.0.99")  # a rename into place, as the cluster writes it
        t0 = time.monotonic()
        wait_for(lambda: answer_ips(port) == ["10.96.0.99"], timeout=5)
        assert time.monotonic() - t0 < 2  # the poll alone would take up to 60 s
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        with proc:
            proc.wait(timeout=10)
