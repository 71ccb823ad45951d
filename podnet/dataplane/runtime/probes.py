"""Probes (readiness, liveness, startup): the state machine (pure), its driver on the
runtime's loop, and the checks (run inside the pod).

Semantics from kubelet's prober (pkg/kubelet/prober/prober_manager.go, worker.go,
prober.go) and the Probe API (core/v1 types.go):

* a result counts after ``successThreshold`` consecutive successes or
  ``failureThreshold`` consecutive failures; probes run every ``periodSeconds``, a
  check longer than ``timeoutSeconds`` fails. Initial results as worker.go's
  ``newWorker``: readiness Failure (not ready), liveness Success, startup Unknown;
* liveness and readiness probes do not run until the startup probe succeeded
  (worker.go ``doProbe``: "Disable other probes until container has started"); their
  ``initialDelaySeconds`` still counts from the container's start; the startup probe
  stops once it succeeded; ``started`` is true at once without a startup probe;
* every failed check records a Warning ``Unhealthy`` "<Kind> probe failed: <output>"
  (prober.go ``probe``); liveness or startup at failureThreshold kills the container,
  Normal ``Killing`` "Container <c> failed liveness probe, will be restarted"
  (kuberuntime_manager.go ``computePodActions``), with the probe's
  terminationGracePeriodSeconds, else the pod's (kuberuntime_container.go
  ``killContainer``), and it is restarted unless restartPolicy is Never;
* ``httpGet`` succeeds on a status in [200, 400) (prober/http/http.go, no redirect
  followed here), sends ``User-Agent: kube-probe/...`` and ``Accept: */*`` unless
  httpHeaders set them, ``Host`` from httpHeaders; HTTPS is not verified (as kubelet);
  ``tcpSocket`` on an accepted connection; ``grpc`` on a SERVING answer to
  grpc.health.v1.Health/Check for ``service`` (prober/grpc, through grpcio); ``exec`` on
  exit status 0, its output the failure message (prober/exec/exec.go), ``command "..."
  timed out`` after timeoutSeconds.

kubelet probes ``httpGet``/``tcpSocket`` from the node against the pod IP. podnet runs
the check *inside* the pod's network namespace against the pod IP (same address, same
listening sockets), through the runtime's one spawner seam: ``python -m
podnet.dataplane.runtime.probes tcp HOST PORT TIMEOUT`` / ``http SCHEME HOST PORT PATH
TIMEOUT [NAME:VALUE...]`` / ``grpc HOST PORT SERVICE TIMEOUT``; ``exec`` runs in the
container as ``kubectl exec`` does (crun exec, :meth:`OciLauncher.exec_argv`).
"""

from __future__ import annotations

import itertools
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

from podnet.dataplane.runtime.loop import Loop, Timer
from podnet.dataplane.runtime.proc import ProcWatch
from podnet.model.objects import Container, Probe

READINESS, LIVENESS, STARTUP = "Readiness", "Liveness", "Startup"
CREATED_POLL = 0.1  # seconds between looks for a container crun is still creating
PROBE_SLACK = 2.0  # the tcp/http helper enforces timeoutSeconds itself; allow its start
MAX_OUTPUT = 10 * 1024  # prober/exec/exec.go maxReadLength
MAX_REDIRECTS = 10  # net/http's default, kept by the probe's redirect checker
USER_AGENT = "kube-probe/1.37"
# a process-wide sequence for probe Events, so the kubelet sees each once (also across
# a container's runners when its sandbox is recreated)
_SEQ = itertools.count(1)
ProbeEvent = tuple[int, str, str, str]  # (seq, type, reason, message)


@dataclass(frozen=True)
class ProbeState:
    ready: bool = False  # the current result: ready / healthy / started
    successes: int = 0
    failures: int = 0


def initial(kind: str) -> ProbeState:
    """worker.go newWorker's initial value: readiness Failure, liveness Success,
    startup Unknown (not started)."""
    return ProbeState(ready=kind == LIVENESS)


def observe(probe: Probe, state: ProbeState, success: bool) -> ProbeState:
    """The state after one probe result (pure)."""
    if success:
        s = replace(state, successes=state.successes + 1, failures=0)
        return replace(s, ready=True) if s.successes >= probe.success_threshold else s
    f = replace(state, failures=state.failures + 1, successes=0)
    return replace(f, ready=False) if f.failures >= probe.failure_threshold else f


@dataclass(frozen=True)
class Outcome:
    """What one check means for the container (pure, from :func:`step`)."""

    state: ProbeState
    events: tuple[tuple[str, str, str], ...] = ()  # (type, reason, message)
    ready: bool | None = None  # readiness changed to this
    started: bool = False  # the startup probe just succeeded
    kill: bool = False  # liveness/startup failed: kill (and restart per policy)
    again: bool = True  # probe again after periodSeconds


def step(
    kind: str,
    probe: Probe,
    state: ProbeState,
    ok: bool,
    output: str,
    container: str,
    *,
    restart: bool,
) -> Outcome:
    """One check's result through kubelet's worker and pod actions (pure)."""
    new = observe(probe, state, ok)
    events: tuple[tuple[str, str, str], ...] = ()
    if not ok:  # prober.go: every failed probe is an Unhealthy event, with its output
        events = (("Warning", "Unhealthy", f"{kind} probe failed: {output}".rstrip()),)
    if kind == READINESS:
        return Outcome(new, events, ready=new.ready if new.ready != state.ready else None)
    if kind == STARTUP and new.ready:
        return Outcome(new, events, started=True, again=False)
    if not new.ready and new.failures >= probe.failure_threshold:
        # kuberuntime_manager.go computePodActions: "Container %s failed %s probe",
        # ", will be restarted" unless restartPolicy is Never
        msg = f"Container {container} failed {kind.lower()} probe"
        msg += ", will be restarted" if restart else ""
        return Outcome(new, (*events, ("Normal", "Killing", msg)), kill=True, again=False)
    return Outcome(new, events)


def resolve_port(port: int | str, container: Container) -> int | None:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for p in container.ports:
        if p.name == port:
            return p.container_port
    return None


def check_argv(probe: Probe, container: Container, host: str) -> list[str] | None:
    """The argv that performs one check inside the pod; ``None`` if it cannot be built.

    ``exec`` returns the command itself (the runtime maps it to the image's program).
    """
    if probe.exec_command is not None:
        return list(probe.exec_command)
    timeout = str(probe.timeout_seconds)
    mod = [sys.executable, "-m", "podnet.dataplane.runtime.probes"]
    if probe.http_get_port is not None:
        port = resolve_port(probe.http_get_port, container)
        if port is None:
            return None
        target = probe.http_get_host or host
        path = probe.http_get_path or "/"
        headers = [f"{k}:{v}" for k, v in probe.http_headers]
        scheme = probe.http_get_scheme.lower()
        return [*mod, "http", scheme, target, str(port), path, timeout, *headers]
    if probe.tcp_socket_port is not None:
        port = resolve_port(probe.tcp_socket_port, container)
        if port is None:
            return None
        return [*mod, "tcp", host, str(port), timeout]
    if probe.grpc_port is not None:
        return [*mod, "grpc", host, str(probe.grpc_port), probe.grpc_service, timeout]
    return None


def describe_failure(probe: Probe, container: Container) -> str:
    """Why a check could not run: its port name is not the container's, or no process."""
    port = probe.http_get_port if probe.http_get_port is not None else probe.tcp_socket_port
    if port is not None and resolve_port(port, container) is None:
        return f"port {port} not found in container {container.name}"
    return "the check could not be started"


class Prober:
    """One container run's probes on the runtime's loop (kubelet: one worker per probe).

    ``spawn`` starts a check (stdout piped: its output), ``kill_check`` ends a check
    that outlived its timeout; ``alive`` says whether this run still goes on. The
    runner receives readiness changes (``set_ready``), the startup probe's success
    (``set_started``), Events (``event``) and the order to kill (``kill`` with a grace).
    """

    def __init__(
        self,
        loop: Loop,
        container: Container,
        *,
        restart: bool,
        alive: Callable[[], bool],
        spawn: Callable[[Probe], subprocess.Popen[bytes] | None],
        kill_check: Callable[[subprocess.Popen[bytes]], None],
        set_ready: Callable[[bool], None],
        set_started: Callable[[], None],
        event: Callable[[str, str, str], None],
        kill: Callable[[float | None], None],
        created: Callable[[], bool] = lambda: True,
    ) -> None:
        self.loop, self.container, self.restart = loop, container, restart
        self._alive, self._spawn, self._kill_check = alive, spawn, kill_check
        self._set_ready, self._set_started, self._event, self._kill = (
            set_ready,
            set_started,
            event,
            kill,
        )
        self._created = created  # the runtime has made the container (exec can enter it)
        self._timers: list[Timer] = []
        self._checks: set[subprocess.Popen[bytes]] = set()  # in flight
        self._start = loop.clock()
        self.stopped = False

    def start(self) -> None:
        if self.container.startup_probe is not None:
            self._schedule(STARTUP, self.container.startup_probe.initial_delay_seconds)
        else:
            self._after_startup()

    def stop(self) -> None:
        """No more checks; those in flight are killed and reaped here (the loop may not
        run again to see their exits: the runtime is closing)."""
        self.stopped = True
        for t in self._timers:
            t.cancel()
        self._timers = []
        for proc in list(self._checks):
            self._kill_check(proc)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                # not reaped: its pipe is closed all the same (no file left open)
                self._checks.discard(proc)
                if proc.stdout is not None:
                    proc.stdout.close()
                continue
            self._finish(proc)

    def _finish(self, proc: subprocess.Popen[bytes]) -> str:
        """A check's output (what it wrote before it exited), its pipe closed."""
        self._checks.discard(proc)
        out = proc.stdout
        if out is None or out.closed:
            return ""
        os.set_blocking(out.fileno(), False)
        try:
            data = out.read(MAX_OUTPUT) or b""
        except OSError:
            data = b""
        out.close()
        return data.decode(errors="replace").strip()

    def _after_startup(self) -> None:
        elapsed = self.loop.clock() - self._start
        for kind, probe in (
            (LIVENESS, self.container.liveness_probe),
            (READINESS, self.container.readiness_probe),
        ):
            if probe is not None:
                self._schedule(kind, max(0.0, probe.initial_delay_seconds - elapsed))

    def _probe_of(self, kind: str) -> Probe:
        c = self.container
        probe = {STARTUP: c.startup_probe, LIVENESS: c.liveness_probe}.get(kind, c.readiness_probe)
        assert probe is not None
        return probe

    def _schedule(self, kind: str, delay: float, state: ProbeState | None = None) -> None:
        st = initial(kind) if state is None else state
        now = self.loop.clock()  # keep only timers still to come (one fires each period)
        self._timers = [t for t in self._timers if not t.cancelled and t.due > now]
        self._timers.append(self.loop.call_later(delay, lambda: self._check(kind, st)))

    def _check(self, kind: str, state: ProbeState) -> None:
        if self.stopped or not self._alive():
            return
        probe = self._probe_of(kind)
        if not self._created():
            # worker.go doProbe: no probe until the runtime reports the container
            # running; crun may still be creating it
            self._schedule(kind, CREATED_POLL, state)
            return
        proc = self._spawn(probe)
        if proc is None:
            # prober.go probe: an error (a port name not found, no check could start) is
            # an Unhealthy "<Kind> probe errored" Event, and worker.go throws the result
            # away: the state stays, the probe runs again next period
            why = describe_failure(probe, self.container)
            self._event("Warning", "Unhealthy", f"{kind} probe errored: {why}")
            self._schedule(kind, probe.period_seconds, state)
            return
        self._checks.add(proc)
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            self._kill_check(proc)

        def done(rc: int) -> None:
            timer.cancel()
            # read at the exit: a check's output is short (a pipe holds 64 KiB; one
            # writing more blocks and fails on its timeout)
            out = self._finish(proc)
            if timed_out and probe.exec_command is not None:
                out = f'command "{" ".join(probe.exec_command)}" timed out'  # exec.go
            elif timed_out:
                out = out or "timeout"
            self._result(kind, state, rc == 0 and not timed_out, out)

        slack = 0.0 if probe.exec_command is not None else PROBE_SLACK
        timer = self.loop.call_later(probe.timeout_seconds + slack, expire)
        ProcWatch(self.loop, proc, done)

    def _result(self, kind: str, state: ProbeState, ok: bool, output: str) -> None:
        if self.stopped or not self._alive():
            return
        probe = self._probe_of(kind)
        out = step(kind, probe, state, ok, output, self.container.name, restart=self.restart)
        for e in out.events:
            self._event(*e)
        if out.ready is not None:
            self._set_ready(out.ready)
        if out.started:
            self._set_started()
            self._after_startup()
        if out.kill:
            self.stop()
            grace = probe.termination_grace_period_seconds
            self._kill(None if grace is None else float(grace))
            return
        if out.again:
            self._schedule(kind, probe.period_seconds, out.state)


def next_event(type_: str, reason: str, message: str) -> ProbeEvent:
    """A probe Event with its sequence number (see ``ContainerStatus.probe_events``)."""
    return (next(_SEQ), type_, reason, message)


def _dial_error(host: str, port: int, e: OSError) -> str:
    """Go's net error text, as kubelet's output shows it: ``dial tcp H:P: connect: ...``."""
    if isinstance(e, TimeoutError | socket.timeout):
        return f"dial tcp {host}:{port}: i/o timeout"
    reason = (e.strerror or str(e)).lower()
    return f"dial tcp {host}:{port}: connect: {reason}"


def tcp_check(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as e:
        return False, _dial_error(host, port, e)


def http_check(
    scheme: str,
    host: str,
    port: int,
    path: str,
    timeout: float,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[bool, str]:
    """GET ``path``; success for 200-399, as kubelet's HTTP prober (prober/http/http.go:
    headers of the probe win over the defaults, HTTPS unverified; redirects followed up
    to 10 while they stay on the same host, a redirect elsewhere is the result)."""
    from urllib.parse import urljoin, urlsplit

    url_host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{url_host}:{port}{path}"
    sent = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for k, v in headers or ():
        sent = {n: x for n, x in sent.items() if n.lower() != k.lower()}
        sent[k] = v
    for _ in range(MAX_REDIRECTS + 1):
        ok, status, location, out = _get_once(url, sent, timeout)
        if not ok or location is None or not 300 <= status < 400:
            return ok, out
        target = urlsplit(urljoin(url, location))
        if target.hostname != host or target.scheme not in ("http", "https"):
            return True, out  # net/http's ErrUseLastResponse: the 3xx is the answer
        url = target.geturl()
    return False, f'Get "{url}": stopped after {MAX_REDIRECTS} redirects'


def _get_once(url: str, sent: dict[str, str], timeout: float) -> tuple[bool, int, str | None, str]:
    """One GET: (success, status, Location, output)."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    host, port = u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    conn: http.client.HTTPConnection
    if u.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        host_header = next((v for k, v in sent.items() if k.lower() == "host"), None)
        conn.putrequest("GET", path, skip_host=host_header is not None, skip_accept_encoding=True)
        for k, v in sent.items():
            conn.putheader(k, v)
        conn.endheaders()
        res = conn.getresponse()
        body = res.read(MAX_OUTPUT).decode(errors="replace")
        if 200 <= res.status < 400:
            return True, res.status, res.getheader("Location"), body
        return False, res.status, None, f"HTTP probe failed with statuscode: {res.status}"
    except OSError as e:
        if isinstance(e, TimeoutError | socket.timeout):
            why = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            return False, 0, None, f'Get "{url}": {why}'
        return False, 0, None, f'Get "{url}": {_dial_error(host, port, e)}'
    except http.client.HTTPException as e:
        return False, 0, None, f'Get "{url}": {type(e).__name__}: {e}'
    finally:
        conn.close()


def _go_code(code: object) -> str:
    """A gRPC status code as Go's ``codes.Code.String()`` names it (``NotFound``)."""
    name = str(getattr(code, "name", code))
    return "OK" if name == "OK" else "".join(w.capitalize() for w in name.split("_"))


def grpc_check(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """grpc.health.v1.Health/Check of ``service`` ("" is the server's overall health),
    plaintext, one deadline for the connection and the call; success on SERVING. The
    outputs are kubelet's (pkg/probe/grpc/grpc.go ``Probe``): a server that does not
    answer within the timeout, one without the health service, a failed call, any other
    status. grpcio's own log lines are silenced by the caller (GRPC_VERBOSITY)."""
    import time

    import grpc  # type: ignore[import-untyped]
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    limit = f"{timeout:g}s"
    deadline = time.monotonic() + timeout
    channel = grpc.insecure_channel(addr, options=[("grpc.primary_user_agent", USER_AGENT)])
    try:
        try:  # grpc.WithBlock(): wait until connected, within the probe's timeout
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            why = "context deadline exceeded"
            return False, f'timeout: failed to connect service "{addr}" within {limit}: {why}'
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            left = max(deadline - time.monotonic(), 0.001)
            resp = stub.Check(request, timeout=left)
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return False, (
                    "error: this server does not implement the grpc health protocol "
                    f"(grpc.health.v1.Health): {details}"
                )
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {limit}"
            desc = f"rpc error: code = {_go_code(code)} desc = {details}"
            return False, f"error: health rpc probe failed: {desc}"
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            return False, f'service unhealthy (responded with "{name}")'
        return True, "service healthy"
    finally:
        channel.close()


def main(argv: list[str]) -> int:
    """``tcp HOST PORT TIMEOUT``, ``http SCHEME HOST PORT PATH TIMEOUT [NAME:VALUE...]`` or
    ``grpc HOST PORT SERVICE TIMEOUT``; exit 0 on success; the failure's text on stdout
    (the probe's output)."""
    try:
        if argv[0] == "grpc" and len(argv) == 5:
            ok, out = grpc_check(argv[1], int(argv[2]), argv[3], float(argv[4]))
        elif argv[0] == "tcp" and len(argv) == 4:
            ok, out = tcp_check(argv[1], int(argv[2]), float(argv[3]))
        elif argv[0] == "http" and len(argv) >= 6:
            headers = [tuple(h.split(":", 1)) for h in argv[6:]]
            pairs = [(k.strip(), v.strip()) for k, v in headers]
            ok, out = http_check(argv[1], argv[2], int(argv[3]), argv[4], float(argv[5]), pairs)
        else:
            raise IndexError
    except (ValueError, IndexError):
        print(
            "usage: probes tcp HOST PORT TIMEOUT | http SCHEME HOST PORT PATH TIMEOUT [H:V...]"
            " | grpc HOST PORT SERVICE TIMEOUT",
            file=sys.stderr,
        )
        return 2
    if not ok:
        print(out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
