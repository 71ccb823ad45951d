"""The chaos run (issue 14): a running ``podnet run`` with traffic flowing through a
Service, one of podnet's helper processes SIGKILLed, and the times podnet takes to say
so and to repair it. Shared by tests/e2e/test_chaos.py and bench/bench_chaos.py.

The cluster: 2 nodes, an nginx Deployment of 2 behind a Service, and a client pod that
fetches the Service by DNS name every ~100 ms and prints ``ok <uptime>`` or ``fail
<uptime>`` (``/proc/uptime``: CLOCK_BOOTTIME, the clock this module reads too, so pod
stamps and the kill share one time line). Victims are found among the descendants of
the podnet process this module started, by ``/proc/PID/cmdline`` and namespaces, never
by a name match across the system; they are killed by pid.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support.live import argv_of, descendants, podnet_argv, podnet_env

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
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
    image: busybox
    # busybox 1.35's wget -T segfaults (Debian's build): timeout bounds it instead
    command:
    - sh
    - -c
    - |
      while true; do
        if timeout 2 wget -q -O /dev/null http://web/ 2>/dev/null
        then r=ok; else r=fail; fi
        read up idle < /proc/uptime
        echo "$r $up"
        sleep 0.1
      done
"""

# The failure classes: the helper processes of a running cluster.
CLASSES = ("cluster-init", "node-holder", "pod-sandbox", "nft-session", "dns-server", "container")

# What podnet's stderr says when each one dies (a substring of its line).
DETECT = {
    "cluster-init": "the cluster init (pid {pid}) died",
    "node-holder": "holder (pid {pid}) died",
    "pod-sandbox": "sandbox (pid {pid}) died",
    "nft-session": "nft -i (pid {pid}) killed by signal 9",
    "dns-server": "exited 137; restarting now",
    "container": "exited 137; restarting now",
}
# How the repair shows: a line on stderr, or "new" (a new process of the same class in
# the run's tree), or None (not repaired: the cluster init takes the whole cluster
# with it; a node is not rebuilt).
REPAIRED = {
    "cluster-init": None,
    "node-holder": None,
    "pod-sandbox": "pod sandbox recreated",
    "nft-session": "resyncing every table",
    "dns-server": "new",
    "container": "new",
}
HEALTHY_RUN = 3  # consecutive ok fetches that count as "traffic recovered"


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass
class Line:
    at: float  # CLOCK_BOOTTIME when read
    text: str


@dataclass
class Outcome:
    """One kill, in seconds from it: podnet's report, the repair, and the client's
    traffic healthy again (None when it did not come within the bound); the client's
    failed fetches after the kill and the outage they made (:meth:`ChaosRun._outage`)."""

    victim: str
    pid: int
    detect: float | None
    repair: float | None
    recovered: float | None
    failed: int
    outage: float  # seconds


class ChaosRun:
    """One ``podnet run`` of :data:`MANIFEST` (real CLI, own session), read by two
    threads into timestamped lines; :meth:`close` kills what is left, by group."""

    def __init__(self, tmp: Path, timeout: float = 120.0) -> None:
        manifest = tmp / "chaos.yaml"
        manifest.write_text(MANIFEST)
        self._cond = threading.Condition()
        self.out: list[Line] = []
        self.victim_net: int | None = None  # the netns of the last process killed
        self.before_kill: dict[int, int] = {}  # the run's tree then (pid: start time)
        self.err: list[Line] = []
        self.proc = subprocess.Popen(
            [*podnet_argv(), "run", "-f", str(manifest), "--nodes", "2", "--timeout", str(timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=podnet_env(),
            cwd="/",
            start_new_session=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read(self, stream: object, into: list[Line]) -> None:
        for raw in stream:  # type: ignore[attr-defined]
            line = Line(boottime(), raw.decode(errors="replace").rstrip("\n"))
            with self._cond:
                into.append(line)
                self._cond.notify_all()

    # -- waiting ----------------------------------------------------------------------------

    def wait(self, cond: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._cond:
            while not cond():
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reading()):
                    return cond()
                self._cond.wait(min(left, 0.05))
        return True

    def _reading(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def err_line(self, needle: str, since: float) -> Line | None:
        with self._cond:
            return next((ln for ln in self.err if ln.at >= since and needle in ln.text), None)

    def fetches(self, since: float = 0.0) -> list[tuple[bool, float]]:
        """The client's fetches (ok?, pod stamp) completed at or after ``since``."""
        found = []
        with self._cond:
            lines = list(self.out)
        for ln in lines:
            if not ln.text.startswith("[default/client] "):
                continue
            parts = ln.text.split()
            if len(parts) != 3 or parts[1] not in ("ok", "fail"):
                continue  # a line of busybox's own (an error message)
            with contextlib.suppress(ValueError):
                t = float(parts[2])
                if t >= since:
                    found.append((parts[1] == "ok", t))
        return found

    def wait_healthy(self, since: float, timeout: float) -> float | None:
        """Wait for :data:`HEALTHY_RUN` consecutive ok fetches after ``since`` that follow
        every failure seen so far; the pod stamp of the first of them."""
        result: list[float] = []

        def healthy() -> bool:
            got = self.fetches(since)
            run = 0
            for i, (ok, _) in enumerate(got):
                run = run + 1 if ok else 0
                if run == HEALTHY_RUN:
                    result[:] = [got[i - HEALTHY_RUN + 1][1]]
                    return True
            return False

        return result[0] if self.wait(healthy, timeout) else None

    def stderr_text(self) -> str:
        with self._cond:
            return "\n".join(ln.text for ln in self.err)

    # -- the victims ----------------------------------------------------------------------

    def find(self, victim: str) -> int:
        """The host pid of a ``victim`` (one of :data:`CLASSES`) in this run's tree."""
        pids = self.find_all(victim)
        if not pids:
            raise AssertionError(f"no {victim} among the run's processes")
        return pids[0]

    def find_all(self, victim: str) -> list[int]:
        """The host pids of every ``victim`` process in this run's tree, sorted."""
        tree = descendants(self.proc.pid)
        argvs = {pid: argv_of(pid) for pid in tree}
        nginx = sorted(p for p, a in argvs.items() if a and a[0].startswith(b"nginx: master"))
        if victim == "cluster-init":
            pids = [p for p, a in argvs.items() if any(x.endswith(b"/cluster_init.py") for x in a)]
        elif victim == "nft-session":
            pids = [p for p, a in argvs.items() if a == [b"nft", b"-i"]]
        elif victim == "dns-server":
            dns = {p for p, a in argvs.items() if b"podnet.dataplane.dns" in a}
            pids = [p for p in dns if _ppid(p) not in dns]  # the server, not its workers
        elif victim == "container":
            pids = nginx
        elif victim == "pod-sandbox":
            net = _ns(nginx[0], "net") if nginx else None
            pids = [p for p in _holders(argvs) if _ns(p, "mnt") != _ns(self.proc.pid, "mnt")]
            pids = [p for p in pids if _ns(p, "net") == net]
        elif victim == "node-holder":
            pids = self._server_only_node(argvs)
        else:
            raise ValueError(victim)
        return sorted(pids)

    def _server_only_node(self, argvs: dict[int, list[bytes]]) -> list[int]:
        """The node holders (own netns, the host's mount namespace) whose node does not
        run the client: killing it must not end the client's loop."""
        nodes = [p for p in _holders(argvs) if _ns(p, "mnt") == _ns(self.proc.pid, "mnt")]
        client = [p for p, a in argvs.items() if a[:2] == [b"/bin/busybox", b"sh"]]
        client_ip = _pod_ip(client[0]) if client else None
        return [p for p in nodes if client_ip is None or client_ip not in _host_routes(p)]

    def kill(self, victim: str, *, settle: float = 20.0) -> tuple[int, float]:
        """Wait for healthy traffic, then SIGKILL ``victim``; (pid, CLOCK_BOOTTIME)."""
        if self.wait_healthy(0.0, settle) is None:
            raise AssertionError("no traffic through the Service before the kill:\n" + self.tail())
        pid = self.find(victim)
        self.before_kill = descendants(self.proc.pid)
        self.victim_net = _ns(pid, "net")
        at = boottime()
        os.kill(pid, signal.SIGKILL)
        return pid, at

    def observe(self, victim: str, pid: int, at: float, timeout: float) -> Outcome:
        """Wait (each part bounded by ``timeout``) for the report, the repair and healthy
        traffic after the kill of ``victim`` (``pid`` at ``at``)."""
        needle = DETECT[victim].format(pid=pid)
        self.wait(lambda: self.err_line(needle, at) is not None, timeout)
        report = self.err_line(needle, at)
        repair: float | None = None
        how = REPAIRED[victim]
        if how == "new":
            net = self.victim_net
            seen: list[float] = []

            def replaced() -> bool:  # a new one in the same pod (netns)
                if any(p != pid and _ns(p, "net") == net for p in self.find_all(victim)):
                    seen.append(boottime())
                    return True
                return False

            self.wait(replaced, timeout)
            repair = seen[0] - at if seen else None
        elif how is not None:
            self.wait(lambda: self.err_line(how, at) is not None, timeout)
            line = self.err_line(how, at)
            repair = None if line is None else line.at - at
        recovered: float | None = None
        if victim != "cluster-init":
            # let an outage show first (a failed fetch takes up to 2 s), then wait for
            # healthy traffic after the last failure
            self.wait(lambda: any(not ok for ok, _ in self.fetches(at)), 2.5)
            healthy = self.wait_healthy(self._last_failure(at), timeout)
            recovered = None if healthy is None else max(0.0, healthy - at)
        failed = [t for ok, t in self.fetches(at) if not ok]
        return Outcome(
            victim,
            pid,
            None if report is None else report.at - at,
            repair,
            recovered,
            len(failed),
            self._outage(at),
        )

    def _outage(self, at: float) -> float:
        """The client's outage after ``at``: from the last ok fetch before the first
        failure to the first ok after the last one (pod stamps; a fetch stamps its end,
        so this spans the failed fetches whole); 0 when none failed."""
        got = self.fetches()
        fails = [i for i, (ok, t) in enumerate(got) if not ok and t >= at]
        if not fails:
            return 0.0
        before = [t for ok, t in got[: fails[0]] if ok]
        after = [t for ok, t in got[fails[-1] :] if ok]
        start = before[-1] if before else at
        return (after[0] if after else got[-1][1]) - start

    def _last_failure(self, at: float) -> float:
        failed = [t for ok, t in self.fetches(at) if not ok]
        return failed[-1] if failed else at

    # -- the end --------------------------------------------------------------------------

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the run (a normal stop) and wait for its teardown; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for t in self._threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def tail(self, n: int = 30) -> str:
        with self._cond:
            err = [ln.text for ln in self.err[-n:]]
            out = [ln.text for ln in self.out if ln.text.startswith("[default/client]")][-n:]
        return "stderr:\n" + "\n".join(err) + "\nclient:\n" + "\n".join(out)


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _ns(pid: int, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def _holders(argvs: dict[int, list[bytes]]) -> list[int]:
    """Node holders and pod sandboxes: ``sleep infinity`` (holders.py), a pause also
    as static busybox's ``busybox sleep infinity`` (holders.py)."""
    return [
        p
        for p, a in argvs.items()
        if (len(a) == 2 and a[0].endswith(b"/sleep") and a[1] == b"infinity")
        or (len(a) == 3 and a[0].endswith(b"busybox") and a[1:] == [b"sleep", b"infinity"])
    ]


def _pod_ip(pid: int) -> str | None:
    """The pod's IPv4 address: the LOCAL /32 of its netns that is not loopback."""
    try:
        with open(f"/proc/{pid}/net/fib_trie") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for prev, line in itertools.pairwise(lines):
        if line.strip() == "/32 host LOCAL":
            ip = prev.strip().removeprefix("|-- ").strip()
            if not ip.startswith("127."):
                return ip
    return None


def _host_routes(pid: int) -> set[str]:
    """The /32 routes of ``pid``'s netns (a node routes each of its pods so)."""
    found: set[str] = set()
    try:
        with open(f"/proc/{pid}/net/route") as f:
            rows = [ln.split() for ln in f.readlines()[1:]]
    except OSError:
        return found
    for row in rows:
        if len(row) > 7 and row[7] == "FFFFFFFF":
            raw = bytes.fromhex(row[1])[::-1]
            found.add(".".join(str(b) for b in raw))
    return found
