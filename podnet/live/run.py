"""``podnet run``: bring a cluster up, run its pods, stream their output, tear it down.

Pods split into servers (they serve a port: containerPorts, Service targetPorts, or a
port their image is known to listen on) and clients. Servers start first; clients once
every server listens on its TCP ports and the endpoints recorded so far are applied
(:mod:`podnet.live.sync`; bounded waits), so the seed's ``wget`` does not race nginx.
The run ends when every client container has exited once (the first run is the
result, whatever the restartPolicy) or at ``--timeout``.

Exit codes (kubectl's and the shell's conventions): 0 when every client container exited
0 (or there were no clients and ``--timeout`` stopped the run), or the output's reader
went away (``| head``); 1 when a client exited non-zero, failed before its containers
ran, or the timeout struck while clients ran, and for a
:class:`~podnet.errors.PodnetError`; 128+N when stopped by signal N, after a full
teardown; with ``--shell``, the shell's. Every wait is ``runtime.run_until`` in short
slices, so the main thread never blocks elsewhere and Ctrl-C and SIGTERM are handled at
once; between slices the progress bar moves and silent clients are checked for dropped
connections (:mod:`podnet.live.runout.hint`). Progress goes to ``err`` as ``podnet: ...``
lines, with the opening and closing tables (:mod:`podnet.live.runout.summary`); ``out``
carries only pod output, prefixed ``[namespace/pod]``, folded per ``--logs``
(:mod:`podnet.live.runout.logs`).
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from podnet.dataplane.runtime.state import TERMINATED
from podnet.errors import ClusterError, NotSupportedError
from podnet.live.cluster import LiveCluster
from podnet.live.completion import Completion
from podnet.live.listening import Listeners
from podnet.live.output import OutputClosed, PodOutput, Progress
from podnet.live.progress import ProgressBar
from podnet.live.registry import Announcer

if TYPE_CHECKING:
    from podnet.live.exec import ExecEndpoint
from podnet.live.runout.counters import Denied, deny_counters
from podnet.live.runout.hint import QUIET, DropExplainer, connecting
from podnet.live.runout.logs import Folding
from podnet.live.runout.summary import PodResult, closing, image_group, opening, roles
from podnet.live.shell import run_shell
from podnet.model.objects import Manifests, Pod

SERVER_START_WAIT = 10.0  # seconds to wait for servers to listen before starting clients
SYNC_WAIT = 5.0  # seconds to wait for their endpoints to be applied after that
SLICE = 0.25  # seconds per wait slice: the bar and the drop hint are looked at between
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, remembering which signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def run(
    manifests: Manifests,
    *,
    nodes: int = 1,
    timeout: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    shell: str | None = None,
    on_up: Callable[[LiveCluster], None] | None = None,
    cluster_type: type[LiveCluster] = LiveCluster,
    deny: str = "drop",
    logs: str = "clients",
    follow: Sequence[str] = (),
    colour: bool = False,
    bar: bool | None = False,
    summary: bool = True,
    quiet: bool = False,
) -> int:
    """Run the cluster of ``manifests``; the exit code per the module docstring.

    ``logs``/``follow``: which pods' output shows (:mod:`podnet.live.runout.logs`);
    ``colour``: a colour per pod prefix; ``bar``: a progress bar on ``err`` (None: if
    it is a terminal); ``summary``: the opening and closing tables; ``quiet``: no
    progress lines either (``--quiet``: errors only, which the CLI prints).
    ``cluster_type`` is the seam for tests without a kernel (a behavioural fake).
    """
    err = err or sys.stderr
    progress_bar = ProgressBar(err, enabled=bar)
    output = PodOutput(out or sys.stdout, muted=shell is not None, colour=colour, bar=progress_bar)
    progress = Progress(err, progress_bar, muted=quiet)
    t0 = time.monotonic()
    completion = Completion(on_done=lambda name, code: progress(_exit_msg(name, code, t0)))
    cluster = cluster_type(
        manifests,
        nodes=nodes,
        on_log=output.line,
        on_status=completion.observe,
        deny=deny,
        on_event=progress,
    )
    cluster.recreate_sandboxes = True  # run is its pods' only owner (no kubelet)
    session = _Run(cluster, completion, output, progress, t0, timeout)
    session.bar, session.summary, session.deny = progress_bar, summary, deny
    session.logs, session.follow = logs, frozenset(follow)
    with _stop_signals_raise():
        try:
            try:
                return session.run(shell, on_up)
            except OSError as e:  # anything the layers below did not classify
                raise NotSupportedError(f"podnet run: {e}") from e
        except KeyboardInterrupt as e:
            signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
            progress(f"{signal.Signals(signum).name} received; tearing down")
            session.closing_summary()
            return 128 + signum
        except OutputClosed:
            return 0
        finally:
            progress_bar.close()
            with _signals_ignored():
                if session.announcer is not None:
                    session.announcer.close()
                if session.exec_endpoint is not None:
                    session.exec_endpoint.close()
                closing = time.monotonic()
                cluster.close()
                if cluster.sandbox is not None:
                    progress(f"torn down in {time.monotonic() - closing:.2f}s")


class _Run:
    """One ``podnet run``: the steps of the module docstring, every wait bounded."""

    bar: ProgressBar | None = None
    summary = True
    deny = "drop"
    logs = "clients"
    follow: frozenset[str] = frozenset()

    def __init__(
        self,
        cluster: LiveCluster,
        completion: Completion,
        output: PodOutput,
        progress: Progress,
        t0: float,
        timeout: float | None,
    ) -> None:
        self.cluster, self.completion, self.output = cluster, completion, output
        self.progress, self.t0, self.timeout = progress, t0, timeout
        self.deadline = math.inf if timeout is None else t0 + timeout
        self.announcer: Announcer | None = None
        self.exec_endpoint: ExecEndpoint | None = None  # podnet exec's (live/exec.py)
        self.roles: dict[str, str] = {}
        self.clients_at: float | None = None  # when the clients were started
        self._explainer: DropExplainer | None = None
        self._checked = 0.0
        self._reported: set[tuple[str, str, int, str]] = set()
        self.stuck: list[str] = []  # the dropped connections reported
        self._summed_up = False
        self._bar_count: Callable[[], int] | None = None  # the bar's count in this phase

    def run(self, shell: str | None, on_up: Callable[[LiveCluster], None] | None) -> int:
        cluster, progress = self.cluster, self.progress
        if self.bar is not None:
            self.bar.start(f"podnet: creating {len(cluster.manifests.pods)} pod(s)")
        state = cluster.start()
        try:
            self.announcer = Announcer(cluster.describe)  # for podnet exec
            from podnet.live.exec import ExecEndpoint  # aiohttp: only once the cluster runs

            self.exec_endpoint = ExecEndpoint(cluster, "run")
        except OSError as e:  # a convenience: never a reason to fail the run
            progress(f"podnet exec will not find this cluster: {e}")
        self.roles = roles(state)
        self.output.folding = Folding(
            self.logs, self.roles, {p.key: image_group(p) for p in state.pods}, self.follow
        )
        servers, clients = cluster.servers_and_clients()
        self.completion.expect(clients)
        pending = [p.key for p in state.pods if p.ip is None]
        progress(
            f"cluster up in {time.monotonic() - self.t0:.2f}s: {len(state.nodes)} node(s), "
            f"{len(state.pods) - len(pending)} pod(s), {len(state.services)} service(s)"
        )
        if self.summary:
            self.progress.lines([*opening(state, self.deny), ""])
        for key in pending:
            progress(f"{key} is Pending: no node for it (nodeSelector, or 110 pods per node)")
        self._start(servers, "starting server pods")
        slow, failed = self._wait_listening(servers)
        if servers:
            ok = len(servers) - len(slow) - len(failed)
            progress(f"{ok} of {len(servers)} server pod(s) listening")
        for key in failed:
            progress(f"{key}: a container exited before listening; starting clients anyway")
        for key in slow:
            progress(f"{key} is not listening on its ports yet; starting clients anyway")
        if not self._wait_synced():
            progress("Service endpoints not applied yet; starting clients anyway")
        self._start(clients, "starting client pods")
        self.clients_at = time.monotonic()
        if on_up is not None:
            on_up(cluster)
        if shell is not None:
            self._bar_off()
            return run_shell(cluster, shell)
        if not clients:
            progress("no pod runs to completion; serving until --timeout or Ctrl-C")
            self._bar_off()
            self._wait(lambda: False, self.deadline)
            return 0
        progress(f"started {len(clients)} client pod(s)")
        if self.bar is not None:
            self.bar.start("podnet: client pods done", len(clients))
            self._bar_count = lambda: sum(1 for w in self.completion.waiting.values() if not w)
        if not self._wait(self.completion.finished, self.deadline):
            left = ", ".join(self.completion.running())
            progress(f"timeout after {self.timeout}s; still running: {left}")
            self.closing_summary()
            return 1
        self.closing_summary()
        return 1 if self.completion.failed() else 0

    def _bar_off(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _start(self, pods: list[Pod], label: str) -> None:
        """Start ``pods``' containers, in chunks so the bar moves over hundreds."""
        if self.bar is not None and pods:
            self.bar.start(f"podnet: {label}", len(pods))
        for i in range(0, len(pods), 20):
            self.cluster.start_pods(pods[i : i + 20])
            if self.bar is not None:
                self.bar.update(min(i + 20, len(pods)))

    def closing_summary(self) -> None:
        """The closing tables (once; never fails the run: it only reads)."""
        if not self.summary or self._summed_up or self.cluster.state is None:
            return
        self._summed_up = True
        self.completion.on_done = None  # the teardown's kills are no client's result
        self._bar_off()
        try:
            results = self._results()
            denied = self._denied()
        except (ClusterError, OSError, KeyError) as e:
            self.progress(f"no closing summary: {e}")
            return
        folding = self.output.folding
        hidden = folding.hidden() if folding is not None else {}
        ips = {p.ip: p.key for p in self.cluster.state.pods if p.ip}
        self.progress.lines(["", *closing(results, hidden, denied, self.stuck, pods=ips)])

    def _results(self) -> list[PodResult]:
        cluster = self.cluster
        assert cluster.runtime is not None and cluster.state is not None
        out = []
        for pod in cluster.state.pods:
            if pod.ip is None or pod.key not in self.roles:
                continue
            try:
                status = cluster.runtime.status(pod.key)
            except (KeyError, ClusterError):  # never started (--shell, an early error)
                continue
            waited = pod.key in self.completion.waiting  # its first exit is the result
            codes = {
                c.name: self.completion.exit_codes.get(f"{pod.key}/{c.name}")
                if waited
                else c.exit_code
                for c in status.containers
            }
            restarts = sum(c.restart_count for c in status.containers)
            out.append(PodResult(pod.key, self.roles[pod.key], status.phase, codes, restarts))
        return out

    def _denied(self) -> Denied | None:
        """The deny chains' counters of every node, where there is a policy to count."""
        cluster = self.cluster
        state, sandbox = cluster.state, cluster.sandbox
        if state is None or sandbox is None or not (state.policies or state.cluster_policies):
            return None
        return deny_counters(sandbox.node_exec_argv, [n.name for n in state.nodes])

    def _wait(self, done: Callable[[], bool], deadline: float) -> bool:
        """Let the runtime run until ``done()`` or ``deadline``; whether ``done()``.

        Waits in slices of :data:`SLICE`, moving the bar and looking for clients stuck
        on a dropped connection between them. Also returns early, by raising, when a
        background sync failed (its PodnetError) or the reader of the pod output went
        away (:class:`OutputClosed`).
        """
        cluster = self.cluster
        assert cluster.runtime is not None

        def stop() -> bool:
            return done() or cluster.failure is not None or self.output.closed

        while True:
            until = min(deadline, time.monotonic() + SLICE)
            cluster.runtime.run_until(stop, max(0.0, until - time.monotonic()))
            cluster.check()
            if self.output.closed:
                raise OutputClosed
            if done() or time.monotonic() >= deadline:
                return done()
            self._tick()

    def _tick(self) -> None:
        if self.bar is not None:
            if self._bar_count is not None:
                self.bar.update(self._bar_count())
            self.bar.refresh()
        if self.clients_at is None:
            return
        now = time.monotonic()
        if self.deny == "drop" and now - self._checked >= 1.0:
            self._checked = now
            self._explain_silent(now)

    def _explain_silent(self, now: float) -> None:
        """Say which policy drops the connection of a client silent for :data:`QUIET` s."""
        cluster, folding = self.cluster, self.output.folding
        assert self.clients_at is not None
        if cluster.sandbox is None or cluster.state is None or folding is None:
            return
        for key in self.completion.running():
            quiet = now - max(self.clients_at, folding.last_output.get(key, 0.0))
            if quiet < QUIET:
                continue
            try:
                peers = connecting(cluster.sandbox.pod_pid(key))
            except ClusterError:  # the pod is being recreated
                continue
            for ip, port, protocol in peers:
                if (key, ip, port, protocol) in self._reported:
                    continue
                self._reported.add((key, ip, port, protocol))
                if self._explainer is None:
                    self._explainer = DropExplainer(cluster.state)
                dropped = self._explainer.dropped(key, ip, port, protocol)
                if dropped is not None:
                    self.progress(dropped.message(quiet))
                    self.stuck.append(f"{key} -> {dropped.target} ({ip}:{port}/{protocol})")

    def _wait_synced(self) -> bool:
        """Wait until the readiness recorded so far (the servers') is applied to the
        Service proxy and DNS, which a paced sync does off the runtime's thread
        (:mod:`podnet.live.sync`), so a client's first request finds its backends."""
        mark = self.cluster.sync_mark()
        until = min(self.deadline, time.monotonic() + SYNC_WAIT)
        return self._wait(lambda: self.cluster.synced(mark), until)

    def _wait_listening(self, servers: list[Pod]) -> tuple[list[str], list[str]]:
        """Wait until each server listens on its TCP ports (at most SERVER_START_WAIT,
        and not for a pod whose container already exited); the keys of those still
        not listening, and of those given up on."""
        cluster = self.cluster
        assert cluster.sandbox is not None and cluster.state is not None and cluster.runtime
        runtime = cluster.runtime

        def exited(key: str) -> bool:
            return any(
                c.state == TERMINATED or c.will_restart or c.restart_count > 0
                for c in runtime.status(key).containers
            )

        listeners = Listeners(
            cluster.sandbox.pod_pid, cluster.state.services, servers, gave_up=exited
        )
        until = min(self.deadline, time.monotonic() + SERVER_START_WAIT)
        if self.bar is not None and servers:
            self.bar.start("podnet: server pods listening", len(servers))
            self._bar_count = lambda: len(servers) - len(listeners.missing())
        self._wait(listeners.all_listening, until)
        self._bar_count = None
        return listeners.missing(), listeners.given_up()


def _exit_msg(name: str, code: int, t0: float) -> str:
    return f"{name} exited {code} at {time.monotonic() - t0:.2f}s"


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C (so teardown runs), then are restored."""
    previous = {s: signal.signal(s, _raise_stopped) for s in _STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM must not cut the teardown short."""
    sigs = (signal.SIGINT, *_STOP_SIGNALS)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
