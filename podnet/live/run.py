"""``podnet run``: bring a cluster up, run its pods, stream their output, tear it down.

It runs on ``podnet up``'s core (:mod:`podnet.live.core`): an in-memory store, the
Registry, the controllers and the kubelet; its documents are created through the
Registry as ``kubectl apply`` creates them (after a dry run of each, so bad input
changes nothing), and the controllers name, schedule and expand them as on a real
cluster (workload pods get random suffixes). No HTTP listener: ``podnet exec`` reaches
a run through its abstract socket (:mod:`podnet.live.exec`).

Pods split into servers (they serve a port: containerPorts, Service targetPorts, or a
port their image is known to listen on) and clients, as the pure engine predicts
(:mod:`podnet.live.core.plan`). Every object is created at once, before the
controllers start, so servers and clients are scheduled, get their sandboxes and IPs,
and are synced in one round; the clients' containers are held back (RunCluster's
``hold``, which never blocks the kubelet) until every server listens on its TCP ports
and the endpoints recorded so far are applied (:mod:`podnet.live.sync`; bounded waits),
so the seed's ``wget`` does not race nginx, and the opening tables are printed; the run
then starts them itself.
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

import dataclasses
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from podnet.dataplane.images.registry import default_registry
from podnet.dataplane.runtime.state import TERMINATED
from podnet.errors import ClusterError, NotSupportedError, PodnetError
from podnet.live.cluster import LiveCluster, check_images
from podnet.live.completion import Completion
from podnet.live.core import objects
from podnet.live.core.core import Core, RunCluster
from podnet.live.core.plan import Kind, Owner, Plan
from podnet.live.listening import Listeners
from podnet.live.output import OutputClosed, PodOutput, Progress
from podnet.live.progress import ProgressBar
from podnet.live.registry import Announcer

if TYPE_CHECKING:
    from podnet.live.exec import ExecEndpoint
from podnet.live.runout.counters import Denied, deny_counters
from podnet.live.runout.hint import QUIET, DropExplainer, connecting
from podnet.live.runout.logs import Folding
from podnet.live.runout.summary import CLIENT, PodResult, closing, opening
from podnet.live.shell import run_shell
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests, Pod

if TYPE_CHECKING:
    from podnet.errors import Location

SERVER_START_WAIT = 10.0  # seconds to wait for servers to listen before starting clients
SYNC_WAIT = 5.0  # seconds to wait for their endpoints to be applied after that
CLIENT_PLACE_WAIT = 10.0  # seconds to wait for every client pod's IP before the tables
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
    documents: Sequence[tuple[object, Location]],
    nodes: int = 1,
    timeout: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    shell: str | None = None,
    on_up: Callable[[LiveCluster], None] | None = None,
    cluster_type: type[RunCluster] = RunCluster,
    deny: str = "drop",
    logs: str = "clients",
    follow: Sequence[str] = (),
    colour: bool = False,
    bar: bool | None = False,
    summary: bool = True,
    quiet: bool = False,
) -> int:
    """Run the cluster of ``manifests`` (loaded from ``documents``, which are created
    through the core's API as ``kubectl apply`` would); the exit code per the module
    docstring.

    ``logs``/``follow``: which pods' output shows (:mod:`podnet.live.runout.logs`);
    ``colour``: a colour per pod prefix; ``bar``: a progress bar on ``err`` (None: if
    it is a terminal); ``summary``: the opening and closing tables; ``quiet``: no
    progress lines either (``--quiet``: errors only, which the CLI prints).
    ``cluster_type`` is the seam for tests without a kernel (a behavioural fake).
    """
    from podnet.control.cluster import build_cluster

    err = err or sys.stderr
    progress_bar = ProgressBar(err, enabled=bar)
    output = PodOutput(out or sys.stdout, muted=shell is not None, colour=colour, bar=progress_bar)
    progress = Progress(err, progress_bar, muted=quiet)
    t0 = time.monotonic()
    completion = Completion(on_done=lambda name, code: progress(_exit_msg(name, code, t0)))
    plan = Plan.of(manifests, build_cluster(manifests, nodes))
    found = objects.items(documents)
    # Pods, their names, nodes and IPs are the core's: the cluster starts empty.
    cluster = cluster_type(
        Manifests(), nodes=nodes, on_log=output.line, deny=deny, on_event=progress
    )
    core = Core(cluster)
    session = _Run(core, plan, completion, output, progress, t0, timeout)
    session.bar, session.summary, session.deny = progress_bar, summary, deny
    session.logs, session.follow = logs, frozenset(follow)
    with _stop_signals_raise():
        try:
            try:
                # before anything exists on the host: the documents as the API takes
                # them, and every image (the same registry LiveCluster.start opens)
                core.check(found, manifests.namespaces)
                images = default_registry(cluster.state_dir / "images")
                check_images(images, plan.state.pods)
                return session.run(found, shell, on_up)
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
            session.drop_held()  # nothing held starts any more
            # The result is in: a client restarted (restartPolicy) while the controllers
            # and the kubelet stop before the containers are killed prints no more.
            output.muted = True
            progress_bar.close()
            with _signals_ignored():
                core.stop_control_soon()  # its stop waits on the kubelet's polls: meanwhile
                if session.announcer is not None:
                    session.announcer.close()
                if session.exec_endpoint is not None:
                    session.exec_endpoint.close()
                closing = time.monotonic()
                core.close()
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
        core: Core,
        plan: Plan,
        completion: Completion,
        output: PodOutput,
        progress: Progress,
        t0: float,
        timeout: float | None,
    ) -> None:
        assert isinstance(core.cluster, RunCluster)
        self.core, self.cluster, self.plan = core, core.cluster, plan
        self.completion, self.output = completion, output
        self.progress, self.t0, self.timeout = progress, t0, timeout
        self.deadline = math.inf if timeout is None else t0 + timeout
        self.announcer: Announcer | None = None
        self.exec_endpoint: ExecEndpoint | None = None  # podnet exec's (live/exec.py)
        # Each live pod as the run sees it, filled in as the kubelet places or starts
        # it (RunCluster's hooks, in the kubelet's threads) before any of its output.
        self.roles: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        self.owners: dict[str, Owner] = {}
        self.servers: list[Pod] = []
        self.clients: list[Pod] = []
        self._lock = threading.Lock()
        # Client containers held back (RunCluster.hold) until the opening tables are
        # out; the run starts them then (_release), later ones start at once.
        self.gate = threading.Event()
        self._held: list[Pod] = []
        self._held_logs: dict[str, Path] = {}
        self.clients_at: float | None = None  # when the clients were started
        self._explainer: DropExplainer | None = None
        self._checked = 0.0
        self._reported: set[tuple[str, str, int, str]] = set()
        self.stuck: list[str] = []  # the dropped connections reported
        self._summed_up = False
        self._bar_count: Callable[[], int] | None = None  # the bar's count in this phase

    def run(
        self,
        found: list[objects.Item],
        shell: str | None,
        on_up: Callable[[LiveCluster], None] | None,
    ) -> int:
        cluster, progress, plan = self.cluster, self.progress, self.plan
        if self.bar is not None:
            self.bar.start(f"podnet: creating {plan.servers + plan.clients} pod(s)")
        self.output.folding = Folding(self.logs, self.roles, self.groups, self.follow)
        cluster.on_placed = self._placed
        cluster.hold = self._hold
        # Everything at once, before the controllers start: their first lists hold
        # every object, so the pods are scheduled, get their sandboxes and IPs and are
        # synced in one round (the clients' containers are held).
        self.core.create(i for i in found if i.res is not objects.NAMESPACES)
        self.core.start(on_status=self.completion.observe)
        try:  # podnet exec's endpoint, while the kubelet works
            self.announcer = Announcer(cluster.describe)  # for podnet exec
            from podnet.live.exec import ExecEndpoint  # aiohttp: only once the cluster runs

            self.exec_endpoint = ExecEndpoint(cluster, "run")
        except OSError as e:  # a convenience: never a reason to fail the run
            progress(f"podnet exec will not find this cluster: {e}")
        progress(
            f"cluster up in {time.monotonic() - self.t0:.2f}s: {len(plan.state.nodes)} "
            f"node(s), {plan.servers + plan.clients} pod(s), "
            f"{len(plan.state.services)} service(s)"
        )
        for pod in plan.pending:
            what = pod.key if pod.owner is None else f"a pod of {pod.namespace}/{pod.owner}"
            progress(f"{what} is Pending: no node for it (nodeSelector, or 110 pods per node)")
        slow, failed = self._wait_servers()
        servers = plan.servers
        if servers:
            ok = servers - len(slow) - len(failed) - max(0, servers - len(self.servers))
            progress(f"{ok} of {servers} server pod(s) listening")
        for key in failed:
            progress(f"{key}: a container exited before listening; starting clients anyway")
        for key in slow:
            progress(f"{key} is not listening on its ports yet; starting clients anyway")
        if not self._wait_synced():
            progress("Service endpoints not applied yet; starting clients anyway")
        self._wait_placed()
        if self.summary:
            self.progress.lines([*opening(self._shown_state(), self.deny), ""])
        self.clients_at = time.monotonic()
        self._release()
        if on_up is not None:
            on_up(cluster)
        if shell is not None:
            self._bar_off()
            self._wait_synced()  # the shell's pod in the state the shell resolves it from
            return run_shell(cluster, self._live_key(shell))
        if not plan.clients:
            progress("no pod runs to completion; serving until --timeout or Ctrl-C")
            self._bar_off()
            self._wait(lambda: False, self.deadline)
            return 0
        progress(f"started {plan.clients} client pod(s)")
        if self.bar is not None:
            self.bar.start("podnet: client pods done", plan.clients)
            self._bar_count = lambda: sum(1 for w in self.completion.waiting.values() if not w)
        if not self._wait(self._clients_done, self.deadline):
            left = ", ".join(self.completion.running())
            missing = plan.clients - len(self.clients)
            if missing > 0:
                left += f"{', ' if left else ''}{missing} client pod(s) not started"
            progress(f"timeout after {self.timeout}s; still running: {left}")
            self.closing_summary()
            return 1
        self.closing_summary()
        return 1 if self.completion.failed() else 0

    def _clients_done(self) -> bool:
        return len(self.clients) >= self.plan.clients and self.completion.finished()

    # -- the pods the core makes (RunCluster's hooks: the kubelet's threads) ----------------

    def _placed(self, pods: Sequence[Pod]) -> None:
        for pod in pods:
            self._classify(pod)

    def _hold(self, pods: Sequence[Pod], log_dirs: Mapping[str, Path] | None) -> list[Pod]:
        """The kubelet is about to start ``pods``: clients wait for the opening tables
        (kept, started by :meth:`_release`); servers, and anything after, start now."""
        kinds = [self._classify(p) for p in pods]
        with self._lock:
            if self.gate.is_set():
                return list(pods)
            now = []
            for pod, kind in zip(pods, kinds, strict=True):
                if kind.served:
                    now.append(pod)
                    continue
                self._held.append(pod)
                if log_dirs is not None and pod.key in log_dirs:
                    self._held_logs[pod.key] = log_dirs[pod.key]
            return now

    def _release(self) -> None:
        """Open the gate and start the client containers held so far."""
        with self._lock:
            self.gate.set()
            held, logs = self._held, self._held_logs
            self._held, self._held_logs = [], {}
        if held:
            self.cluster.start_pods(held, logs)

    def drop_held(self) -> None:
        """Teardown: nothing held starts any more."""
        with self._lock:
            self.gate.set()
            self._held, self._held_logs = [], {}

    def _classify(self, pod: Pod) -> Kind:
        """What ``pod`` is to the run: by its key when the plan has it (bare pods,
        StatefulSet pods, the DNS pod), else by the object at the top of its owners."""
        with self._lock:
            if pod.key in self.owners:
                kind = self.plan.kind(pod.key, self.owners[pod.key])
                return kind or Kind(False, CLIENT, "?")
        if pod.key in self.plan.by_key:
            owner = self.plan.owner_of[pod.key]
        else:
            assert objects.PODS is not None
            try:
                obj = self.core.registry.get(objects.PODS, pod.namespace, pod.name)
            except Exception:  # gone meanwhile: as a bare pod of its own
                obj = {"kind": "Pod", "metadata": {"namespace": pod.namespace, "name": pod.name}}
            owner = objects.top_owner(self.core.registry, obj)
        kind = self.plan.kind(pod.key, owner)
        if kind is None:  # made by nothing in the documents
            kind = Kind(False, CLIENT, "?")
        with self._lock:
            if pod.key in self.owners:
                return kind
            self.owners[pod.key] = owner
            self.roles[pod.key] = kind.role
            self.groups[pod.key] = kind.group
            if kind.served:
                self.servers.append(pod)
            else:
                self.clients.append(pod)
                self.completion.expect([pod])
            followed = {self.plan.owner_of.get(k) for k in self.follow}
            folding = self.output.folding
            if folding is not None and (pod.key in self.follow or owner in followed):
                folding.follow = folding.follow | {pod.key}
        return kind

    def _shown_state(self) -> ClusterState:
        """The live cluster as the opening tables show it, each pod with its owner."""
        desired = self.cluster.desired()
        order = {owner: i for i, owner in enumerate(dict.fromkeys(self.plan.owner_of.values()))}
        pods = []
        for p in desired.pods:
            owner = self.owners.get(p.key)
            if owner is not None and owner[0] != "Pod":
                p = dataclasses.replace(p, owner=f"{owner[0]}/{owner[2]}")
            pods.append(p)
        # in the documents' order (the plan's), as the tables were before the core
        pods.sort(key=lambda p: order.get(self.owners.get(p.key, ("", "", "")), len(order)))
        return dataclasses.replace(desired, pods=tuple(pods))

    def _live_key(self, key: str) -> str:
        """``--shell``'s pod: as named, or the first live pod of the workload the
        manifests' pod of that name belongs to (the controllers chose its name)."""
        key = key if "/" in key else f"default/{key}"
        owner = self.plan.owner_of.get(key)
        if key in self.owners or owner is None:
            return key
        return next((k for k, o in self.owners.items() if o == owner), key)

    def _wait_placed(self) -> None:
        """Until every expected client pod has its IP (bounded): the tables show them."""
        until = min(self.deadline, time.monotonic() + CLIENT_PLACE_WAIT)
        self._wait(lambda: len(self.clients) >= self.plan.clients, until)

    def _wait_servers(self) -> tuple[list[str], list[str]]:
        """Until the core placed every expected server pod, then until they listen."""
        until = min(self.deadline, time.monotonic() + SERVER_START_WAIT)
        self._wait(lambda: len(self.servers) >= self.plan.servers, until)
        return self._wait_listening(list(self.servers), until)

    def _bar_off(self) -> None:
        if self.bar is not None:
            self.bar.close()

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
            except (KeyError, PodnetError):  # never started (--shell, an early error)
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

    def _wait_listening(self, servers: list[Pod], until: float) -> tuple[list[str], list[str]]:
        """Wait until each server listens on its TCP ports (until ``until``, and not for
        a pod whose container already exited); the keys of those still not listening,
        and of those given up on."""
        cluster = self.cluster
        assert cluster.sandbox is not None and cluster.runtime
        runtime = cluster.runtime

        def exited(key: str) -> bool:
            try:
                containers = runtime.status(key).containers
            except PodnetError:  # placed, its containers not started yet
                return False
            return any(
                c.state == TERMINATED or c.will_restart or c.restart_count > 0 for c in containers
            )

        services = cluster.desired().services
        listeners = Listeners(cluster.sandbox.pod_pid, services, servers, gave_up=exited)
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
