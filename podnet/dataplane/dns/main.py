"""``python -m podnet.dataplane.dns``: the DNS pod's program.

Workers: the parent binds and serves; with ``--workers N`` it forks N-1 children first,
each binding its own ``SO_REUSEPORT`` UDP socket on the same address. Children die with
the parent (``PR_SET_PDEATHSIG``) and share its process group, so stopping the pod's
process group stops them all. Every process watches the records file (inotify on its
directory, else mtime/size/inode every ``--poll`` seconds) and re-reads it on change or
on SIGHUP; a broken file keeps the previous records and is reported on stderr.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from podnet.control.dns import empty_records
from podnet.dataplane.dns import metrics as dnsserver_metrics
from podnet.dataplane.dns import records as records_file
from podnet.dataplane.dns.server import DnsServer, parse_addr
from podnet.errors import PodnetError

PR_SET_PDEATHSIG = 1
# The orchestrator passes the records file's path to the DNS pod in this variable, so the
# kube-system/coredns pod needs no podnet-specific args in its manifest.
RECORDS_ENV = "PODNET_DNS_RECORDS"


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _Reloader:
    def __init__(self, server: DnsServer, path: Path | None) -> None:
        self.server, self.path = server, path
        self._seen: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self, force: bool = False) -> None:
        with self._lock:
            stamp = self._stamp()
            if self.path is None or (stamp == self._seen and not force):
                return
            try:
                records = records_file.load(self.path)
            except PodnetError as e:
                print(f"dns: keeping previous records: {e}", file=sys.stderr, flush=True)
                self._seen = stamp
                return
            self._seen = stamp
            self.server.set_records(records)

    def watch(self, interval: float) -> None:
        """Re-read the file as soon as it is replaced (inotify on its directory: the
        writer renames a new file into place), else every ``interval`` seconds. A
        Service created a moment ago must resolve at once: a client pod started with
        it would otherwise get NXDOMAIN until the next poll."""
        fd = -1 if self.path is None else _inotify_dir(self.path.parent)
        if fd < 0:
            while True:
                threading.Event().wait(interval)
                self.reload()
        while True:
            try:
                os.read(fd, 65536)  # any event in the directory: compare the stamp
            except OSError:
                threading.Event().wait(interval)
            self.reload()


_IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE, _IN_CLOEXEC = 0x8, 0x80, 0x100, 0o2000000


def _inotify_dir(directory: Path) -> int:
    """An inotify fd watching ``directory`` for files written or renamed into it; -1
    when inotify is unavailable (the caller polls). Python has no inotify binding in the
    standard library and this is the only use: two libc calls through ctypes."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = int(libc.inotify_init1(_IN_CLOEXEC))
        if fd < 0:
            return -1
        mask = _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            os.close(fd)
            return -1
        return fd
    except (OSError, AttributeError):
        return -1


def _gauges(server: DnsServer) -> dict[str, float]:
    return {
        "podnet_dns_up": 1.0,
        "podnet_dns_names": float(len(server.records.rrsets)),
        "podnet_dns_cache_entries": float(server.cache_size),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="podnet-dns", description="podnet's cluster DNS server")
    default = os.environ.get(RECORDS_ENV)
    p.add_argument(
        "--records",
        type=Path,
        default=Path(default) if default else None,
        help=f"records JSON file, re-read on change (default: ${RECORDS_ENV})",
    )
    p.add_argument("--listen", default="0.0.0.0:53", help="HOST:PORT for UDP and TCP")
    p.add_argument("--workers", type=int, default=1, help="UDP worker processes")
    p.add_argument("--upstream", help="forward names outside the zone to HOST:PORT")
    p.add_argument("--zone", default="cluster.local", help="zone without a records file")
    p.add_argument("--metrics", help="HOST:PORT for /metrics and /health (CoreDNS: :9153)")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between file checks")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        host, port = parse_addr(args.listen)
        upstream = parse_addr(args.upstream) if args.upstream else None
        metrics = parse_addr(args.metrics) if args.metrics else None
        records = records_file.load(args.records) if args.records else empty_records(args.zone)
    except (ValueError, PodnetError) as e:
        print(f"dns: {e}", file=sys.stderr)
        return 2
    workers = max(1, args.workers)
    is_child = False
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            is_child = True
            _die_with_parent()
            break
    server = DnsServer(records, upstream=upstream)
    try:
        addr = server.bind(host, port, tcp=not is_child)
    except OSError as e:
        print(f"dns: cannot listen on {host}:{port}: {e}", file=sys.stderr)
        return 1
    reloader = _Reloader(server, args.records)
    reloader.reload(force=True)

    def on_hup(_sig: int, _frame: FrameType | None) -> None:
        threading.Thread(target=reloader.reload, args=(True,), daemon=True).start()

    signal.signal(signal.SIGHUP, on_hup)
    threading.Thread(target=reloader.watch, args=(args.poll,), daemon=True).start()
    if not is_child and metrics is not None:
        try:
            dnsserver_metrics.serve(*metrics, lambda: _gauges(server))
        except OSError as e:
            print(f"dns: cannot serve metrics on {args.metrics}: {e}", file=sys.stderr)
    if not is_child:
        print(f"dns: serving {addr[0]}:{addr[1]} udp+tcp, {workers} worker(s)", flush=True)
    server.serve_forever()
    return 0
