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
teardown; with ``--shell``, the shell's. Every wait is ``runtime.run_until``, so the main
thread never blocks elsewhere and Ctrl-C and SIGTERM are handled at once. Progress goes
to ``err`` as ``podnet: ...`` lines; ``out`` carries only pod output, prefixed
``[namespace/pod]``.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from podnet.dataplane.runtime.state import TERMINATED
from podnet.errors import NotSupportedError
from podnet.live.cluster import LiveCluster
from podnet.live.completion import Completion
from podnet.live.listening import Listeners
from podnet.live.output import OutputClosed, PodOutput, Progress
from podnet.live.registry import Announcer
from podnet.live.shell import run_shell
from podnet.model.objects import Manifests, Pod

SERVER_START_WAIT = 10.0  # seconds to wait for servers to listen before starting clients
SYNC_WAIT = 5.0  # seconds to wait for their endpoints to be applied after that
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
) -> int:
    """Run the cluster of ``manifests``; the exit code per the module docstring.

    ``cluster_type`` is the seam for tests without a kernel (a behavioural fake).
    """
    output = PodOutput(out or sys.stdout, muted=shell is not None)
    progress = Progress(err or sys.stderr)
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
    with _stop_signals_raise():
        try:
            try:
                return session.run(shell, on_up)
            except OSError as e:  # anything the layers below did not classify
                raise NotSupportedError(f"podnet run: {e}") from e
        except KeyboardInterrupt as e:
            signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
            progress(f"{signal.Signals(signum).name} received; tearing down")
            return 128 + signum
        except OutputClosed:
            return 0
        finally:
            with _signals_ignored():
                if session.announcer is not None:
                    session.announcer.close()
                closing = time.monotonic()
                cluster.close()
                if cluster.sandbox is not None:
                    progress(f"torn down in {time.monotonic() - closing:.2f}s")


class _Run:
    """One ``podnet run``: the steps of the module docstring, every wait bounded."""

    def __init__(
        self,
        cluster: LiveCluster,
        completion: Completion,
        output: PodOutput,
        progress: Callable[[str], None],
        t0: float,
        timeout: float | None,
    ) -> None:
        self.cluster, self.completion, self.output = cluster, completion, output
        self.progress, self.t0, self.timeout = progress, t0, timeout
        self.deadline = math.inf if timeout is None else t0 + timeout
        self.announcer: Announcer | None = None

    def run(self, shell: str | None, on_up: Callable[[LiveCluster], None] | None) -> int:
        cluster, progress = self.cluster, self.progress
        state = cluster.start()
        try:
            self.announcer = Announcer(cluster.describe)  # for podnet exec
        except OSError as e:  # a convenience: never a reason to fail the run
            progress(f"podnet exec will not find this cluster: {e}")
        servers, clients = cluster.servers_and_clients()
        self.completion.expect(clients)
        pending = [p.key for p in state.pods if p.ip is None]
        progress(
            f"cluster up in {time.monotonic() - self.t0:.2f}s: {len(state.nodes)} node(s), "
            f"{len(state.pods) - len(pending)} pod(s), {len(state.services)} service(s)"
        )
        for key in pending:
            progress(f"{key} is Pending: no node for it (nodeSelector, or 110 pods per node)")
        cluster.start_pods(servers)
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
        cluster.start_pods(clients)
        if on_up is not None:
            on_up(cluster)
        if shell is not None:
            return run_shell(cluster, shell)
        if not clients:
            progress("no pod runs to completion; serving until --timeout or Ctrl-C")
            self._wait(lambda: False, self.deadline)
            return 0
        progress(f"started {len(clients)} client pod(s)")
        if not self._wait(self.completion.finished, self.deadline):
            left = ", ".join(self.completion.running())
            progress(f"timeout after {self.timeout}s; still running: {left}")
            return 1
        return 1 if self.completion.failed() else 0

    def _wait(self, done: Callable[[], bool], deadline: float) -> bool:
        """Let the runtime run until ``done()`` or ``deadline``; whether ``done()``.

        Also returns early, by raising, when a background sync failed (its
        PodnetError) or the reader of the pod output went away (:class:`OutputClosed`).
        """
        cluster = self.cluster
        assert cluster.runtime is not None

        def stop() -> bool:
            return done() or cluster.failure is not None or self.output.closed

        cluster.runtime.run_until(stop, max(0.0, deadline - time.monotonic()))
        cluster.check()
        if self.output.closed:
            raise OutputClosed
        return done()

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
        self._wait(listeners.all_listening, until)
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
