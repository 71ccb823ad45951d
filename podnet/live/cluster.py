"""One live cluster: the computed :class:`ClusterState` realised on this machine.

The one place that ties the layers together (STYLE.md, "the shape of the system"):
controllers decide (:func:`build_cluster`, endpoints, DNS records, the nft rulesets as
plain data), and this class hands each decision to the one component that applies it:
the :class:`Sandbox` (namespaces, veths, routes), a :class:`ServiceProxy` per node
(nftables), the DNS pod's records file, and the container :class:`Runtime`.

Readiness flows back the way kubelet's does: the runtime reports a pod's Ready
condition, and the callback only records it (as kube-proxy's handlers do); one paced
sync in its own thread recomputes endpoints (the EndpointSlice controller) and
re-applies only the changed nftables elements and the DNS records (kube-proxy's partial
sync), :mod:`podnet.live.sync`. :attr:`LiveCluster.state` is the state last applied;
callers that need the data plane to have caught up wait with :meth:`wait_synced`.

Lifetime: everything lives in the sandbox's namespaces, which die with this process
(see :mod:`podnet.dataplane.sandbox.namespaces`). :meth:`close` tears down in order for a clean
exit; a SIGKILL leaves nothing either, because the kernel does the rest (and the
cluster init removes the state directory). If the cluster init dies instead, every
node and pod died with it: :attr:`failure` says so at once, for the caller to tear down.
A node holder or pod sandbox killed by someone is reported at once too (a pidfd each);
``podnet run`` recreates the pod as kubelet recreates a dead sandbox; a node is not rebuilt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import select
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from podnet.control.cluster import BUILTIN_NAMESPACES, build_cluster
from podnet.control.ipam import PodIPAllocator
from podnet.control.served import served_ports
from podnet.control.services import RESERVED_IPS
from podnet.dataplane import netns
from podnet.dataplane.images.registry import ImageRegistry, default_registry
from podnet.dataplane.nft.generation import Generation
from podnet.dataplane.nft.session import NftSession
from podnet.dataplane.oci.launcher import OciLauncher
from podnet.dataplane.oci.spec import bind
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.dataplane.runtime.command import service_env
from podnet.dataplane.runtime.loop import pidfd
from podnet.dataplane.runtime.pods import Runtime
from podnet.dataplane.runtime.spawn import sandbox_spawner
from podnet.dataplane.runtime.state import PodStatus
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import ClusterError, ImageError
from podnet.live.statedir import make_state_dir
from podnet.live.sync import MAX_INTERVAL, MIN_INTERVAL, ChangeTracker, ClusterSync, NodeTables
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.clusterpolicy import ClusterNetworkPolicy
from podnet.model.objects import Manifests, Namespace, NetworkPolicy, Pod, Service

LogSink = Callable[[str, str], None]  # (prefix, line)

# The DNS pod's records-file variable, podnet.dataplane.dns.main.RECORDS_ENV
# (a test checks they agree). Not imported from there: that module pulls in the DNS
# server and its HTTP metrics endpoint, ~0.1 s of podnet run's start-up for a string.
RECORDS_ENV = "PODNET_DNS_RECORDS"
# "process" runs containers as plain processes in their pod's namespaces, as before
# crun: only to measure the difference (bench/bench_containers.py); never isolated.
RUNTIME_ENV = "PODNET_RUNTIME"
TEARDOWN_GRACE = 0.3  # seconds containers get to exit on SIGTERM when the cluster stops
SYNC_WAIT = 10.0  # seconds recreate_pod waits for the new IP to reach every node
STARTERS = 4  # threads that start the containers of many pods at once (start_pods)


class LiveCluster:
    """A running cluster. Create, :meth:`start`, use, :meth:`close` (or ``with``)."""

    # (min, max) seconds between syncs, :class:`~podnet.live.sync.ClusterSync`
    sync_intervals: tuple[float, float] = (MIN_INTERVAL, MAX_INTERVAL)
    # Recreate a pod whose sandbox died (``podnet run`` sets it). Off by default: under
    # ``podnet up`` the kubelet owns its pods (their API status, their log files), so
    # the death is only reported there.
    recreate_sandboxes: bool = False

    def __init__(
        self,
        manifests: Manifests,
        *,
        nodes: int = 1,
        on_log: LogSink | None = None,
        on_status: Callable[[PodStatus], None] | None = None,
        backoff_scale: float = 1.0,
        deny: str = "drop",
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.manifests = manifests
        self.deny = deny  # "drop" as most CNIs do, or "reject" for fast feedback
        self.node_count = nodes
        self.on_log = on_log
        self.on_status = on_status
        self.on_event = on_event  # what broke and was repaired: a line for stderr
        self.backoff_scale = backoff_scale
        self.state: ClusterState | None = None  # as last applied (endpoints, nft, DNS)
        self.sandbox: Sandbox | None = None
        self.runtime: Runtime | None = None
        self.sync: ClusterSync | None = None
        self._tracker: ChangeTracker | None = None
        self._sessions: list[NftSession] = []
        self._lock = threading.RLock()  # pod changes (recreate_pod) and describe()
        self._tmp = make_state_dir()  # on a tmpfs; stale ones of dead podnets removed
        self.state_dir = Path(self._tmp.name)
        # in a directory of its own: bound read-only into the DNS pod's containers only
        # (a directory, not the file: the file is replaced by rename on every write)
        self.records_path = self.state_dir / "dns" / "records.json"
        self.records_path.parent.mkdir()
        self._allocator: PodIPAllocator | None = None
        self._closing = False
        self._holders: dict[int, tuple[str, int]] = {}  # pid -> (what, pidfd), watched
        # The first error raised where no caller can catch it (the sync thread
        # applying a change); whoever waits on the cluster re-raises it with :meth:`check`.
        self.failure: Exception | None = None

    # -- bring-up -------------------------------------------------------------------

    def start(self) -> ClusterState:
        """Compute the cluster, build its network, programme Services and DNS.

        Containers are not started here: see :meth:`start_pods`.
        """
        state = build_cluster(self.manifests, self.node_count)
        # Live, nothing is ready until its containers say so (kubelet's Ready condition).
        tracker = ChangeTracker(state, {p.key: False for p in state.pods})
        self._allocator = PodIPAllocator.from_state(state)
        images = default_registry(self.state_dir / "images")
        check_images(images, state.pods)  # before anything exists that must be undone
        self.sandbox = Sandbox.enter(self._tmp.name)  # the init removes it if we are killed
        oci = make_launcher(self.state_dir, images)  # after enter: rootless is known then
        # only runc (or another runtime) needs the pods' cgroups read-only (Sandbox)
        self.sandbox.cgroups_read_only = oci is None or not oci.binary.is_crun
        self.sandbox.pod_binds = () if oci is None else oci.pod_binds  # crun run from there
        self.sandbox.add_nodes(state.nodes)
        self.sandbox.add_pods([p for p in state.pods if p.ip is not None])
        tables: dict[str, NodeTables] = {}
        for node in state.nodes:
            session = NftSession(
                tuple(self.sandbox.node_exec_argv(node.name, [])),
                generation=Generation(self.sandbox.node_netns_path(node.name)),
            )
            self._sessions.append(session)
            tables[node.name] = NodeTables(ServiceProxy(session), PolicyProxy(session), session)
        # After Sandbox.enter: a rootless sandbox must be entered single-threaded.
        self._start_sync(tracker, tables)
        self.runtime = Runtime(
            images,
            sandbox_spawner(self.sandbox),
            self.state_dir / "pods",
            on_log=self._log,
            on_ready=self._on_ready,
            on_status=self._status,
            on_event=self._runtime_event,
            backoff_scale=self.backoff_scale,
            oci=oci,
        )
        # Whoever waits on the runtime learns at once that the cluster died under us.
        self.runtime.loop.add_reader(self.sandbox.init_death_fd, self._init_died)
        self._watch_holders()
        # The runtime is driven by one loop; run it in the background so the caller
        # can wait on its own conditions (see podnet.dataplane.runtime.pods).
        self.runtime.start_background()
        assert self.state is not None
        return self.state

    def start_pods(self, pods: list[Pod], log_dirs: Mapping[str, Path] | None = None) -> None:
        """Start the containers of ``pods`` (already in the sandbox), with the Service
        variables of the Services desired now; ``log_dirs`` (pod key -> directory)
        keeps their output in files as well (:class:`~podnet.dataplane.runtime.logs.LogBuffer`)."""
        assert self.runtime is not None and self._tracker is not None
        assert self.sandbox is not None
        runtime, sandbox = self.runtime, self.sandbox
        services = self._tracker.desired().services
        envs: dict[str, dict[str, str]] = {}  # per namespace: the same Services for all

        def start(pods: Sequence[Pod], concurrent: bool) -> None:
            for pod in pods:
                if pod.namespace not in envs:
                    envs[pod.namespace] = service_env(services, pod.namespace)
                env = dict(envs[pod.namespace])
                mounts = []
                if pod.namespace == "kube-system" and pod.labels.get("k8s-app") == "kube-dns":
                    env[RECORDS_ENV] = str(self.records_path)
                    mounts.append(bind(str(self.records_path.parent)))
                log_dir = None if log_dirs is None else log_dirs.get(pod.key)
                pidns = sandbox.pod_pid_namespace(pod.key)
                runtime.start_pod(
                    pod, env, log_dir, mounts=mounts, pid_namespace=pidns, concurrent=concurrent
                )

        if len(pods) > 1:
            # STARTERS threads, each forking its pods' crun itself (Sandbox.batch), the
            # runtime's lock let go during each fork: under load every fork waits a
            # scheduler round for its child to exec, and one at a time a thousand did.
            n = min(STARTERS, len(pods))
            sandbox.batch([functools.partial(start, pods[i::n], True) for i in range(n)])
        else:
            start(pods, False)

    def servers_and_clients(self) -> tuple[list[Pod], list[Pod]]:
        """Scheduled pods split into those that serve a port and those that do not.

        ``podnet run`` starts servers first so that a client's first request does not
        race the server's start-up (a convenience, not Kubernetes behaviour: a real
        cluster starts pods in any order and relies on retries and readiness).
        """
        assert self.state is not None
        servers: list[Pod] = []
        clients: list[Pod] = []
        for pod in self.state.pods:
            if pod.ip is None:
                continue
            (servers if served_ports(pod, self.state.services) else clients).append(pod)
        return servers, clients

    def describe(self) -> dict[str, Any]:
        """What another process needs to enter this cluster's pods (``podnet exec``,
        :mod:`podnet.live.registry`): each pod's sandbox pid and hostname, the
        busybox image's PATH (its applet links live in this cluster's state dir), and
        under crun each running container's id and bundle (for ``crun exec``)."""
        with self._lock:
            assert self.sandbox is not None and self._tracker is not None and self.runtime
            desired = self._tracker.desired()
            sandbox, pods = self.sandbox, [p for p in desired.pods if p.ip is not None]
            return {
                "pid": os.getpid(),
                "pods": {p.key: sandbox.pod_pid(p.key) for p in pods},
                "hostnames": {p.key: p.hostname or p.name for p in pods},
                "owners": {p.key: p.owner for p in pods if p.owner},  # exec deploy/NAME
                "path": dict(self.runtime.images.resolve("busybox").env).get("PATH", ""),
                "oci": None
                if self.runtime.oci is None
                else {
                    "runtime": self.runtime.oci.binary.global_argv(),
                    "containers": self.runtime.oci_containers(),
                },
            }

    # -- changes --------------------------------------------------------------------

    def recreate_pod(self, key: str) -> Pod:
        """Delete the pod and create it again, as a controller replaces a pod: same
        name, a new sandbox and a NEW IP (the seed's first pitfall)."""
        assert self.sandbox and self.runtime and self._tracker and self._allocator
        old = self._tracker.desired().pod(key)
        if old is None or old.node is None or old.ip is None:
            raise ClusterError(f"no running pod {key}")
        self.runtime.stop_pod(key)  # the pod turns NotReady: recorded by _on_ready
        with self._lock:
            self.sandbox.remove_pod(key)
            self._allocator.release(key)
            new = dataclasses.replace(old, ip=self._allocator.allocate(key, old.node))
            desired = self._tracker.desired()
            pods = tuple(new if p.key == key else p for p in desired.pods)
            self.sandbox.add_pods([new])
            self._tracker.record_pods(dataclasses.replace(desired, pods=pods), not_ready=[key])
        self._watch_holders()
        # The pod's IP changed, so policy peer sets change: every node must know the new
        # IP before the pod sends its first packet (as the inline sync guaranteed).
        if not self.wait_synced(SYNC_WAIT):
            raise ClusterError(f"{key}: its new IP was not applied within {SYNC_WAIT:g}s")
        self.start_pods([new])
        return new

    def add_pods(self, pods: Sequence[Pod], *, wait: float = SYNC_WAIT) -> list[Pod]:
        """Bring new pods into the running cluster, as the CNI plugin does for a new
        sandbox: an IP from the pod CIDR of its node (``pod.node``, else ``node_name``;
        host-local IPAM, so a recreated pod gets a new one), the pod's namespaces and
        veth, then one recorded change for the paced sync. Waits until every node knows
        the new IPs (policy peer sets), so no first packet is dropped; the containers
        are started separately (:meth:`start_pods`). Returns the pods as placed."""
        assert self.sandbox and self._tracker and self._allocator
        with self._lock:
            placed: list[Pod] = []
            try:
                for pod in pods:
                    node = pod.node or pod.node_name
                    if node is None:
                        raise ClusterError(f"pod {pod.key} is not bound to a node")
                    ip = self._allocator.allocate(pod.key, node)
                    placed.append(dataclasses.replace(pod, node=node, ip=ip))
                self.sandbox.add_pods(placed)
            except Exception:
                for pod in placed:
                    self._allocator.release(pod.key)
                raise
            desired = self._tracker.desired()
            keys = {p.key for p in placed}
            kept = tuple(p for p in desired.pods if p.key not in keys)
            state = dataclasses.replace(desired, pods=(*kept, *placed))
            self._tracker.record_pods(state, not_ready=keys)
        self._watch_holders()
        if self.sync is not None:
            self.sync.request()
        if wait > 0 and not self.wait_synced(wait):
            raise ClusterError(f"{len(placed)} new pods were not applied within {wait:g}s")
        return placed

    def add_pod(self, pod: Pod, *, wait: float = SYNC_WAIT) -> Pod:
        """:meth:`add_pods` for one pod."""
        return self.add_pods([pod], wait=wait)[0]

    def remove_pod(self, key: str, *, grace: float | None = None) -> None:
        """Stop the pod's containers (SIGTERM, SIGKILL after ``grace`` seconds), then
        remove its namespaces and veth, release its IP and record the change. Blocks
        for up to the grace period: call it from a thread of its own."""
        assert self.sandbox and self.runtime and self._tracker and self._allocator
        self.runtime.stop_pod(key, grace)  # its Ready condition goes: recorded by _on_ready
        with self._lock:
            desired = self._tracker.desired()
            if desired.pod(key) is None:
                return
            with contextlib.suppress(ClusterError):  # never got a sandbox
                self.sandbox.remove_pod(key)
            self._allocator.release(key)
            pods = tuple(p for p in desired.pods if p.key != key)
            self._tracker.record_pods(dataclasses.replace(desired, pods=pods), not_ready=[key])
        if self.sync is not None:
            self.sync.request()

    def relabel_pod(self, key: str, labels: Mapping[str, str]) -> None:
        """A running pod's labels changed (``kubectl label``): Services and policies
        select by them, so the desired state changes; no restart."""
        assert self._tracker is not None
        with self._lock:
            desired = self._tracker.desired()
            old = desired.pod(key)
            if old is None or old.labels == labels:
                return
            new = dataclasses.replace(old, labels=dict(labels))
            pods = tuple(new if p.key == key else p for p in desired.pods)
            self._tracker.record_pods(dataclasses.replace(desired, pods=pods))
        if self.sync is not None:
            self.sync.request()

    def set_objects(
        self,
        *,
        services: Sequence[Service] | None = None,
        namespaces: Sequence[Namespace] | None = None,
        policies: Sequence[NetworkPolicy] | None = None,
        cluster_policies: Sequence[ClusterNetworkPolicy] | None = None,
    ) -> None:
        """Replace the desired Services (with the ClusterIPs and NodePorts they carry:
        allocated by whoever created them, never recomputed here), Namespaces and
        policies; what is not given stays. ``default/kubernetes`` and
        ``kube-system/kube-dns`` and the built-in namespaces stay when not given, so
        cluster DNS keeps working. One recorded change; the paced sync applies it."""
        assert self._tracker is not None
        with self._lock:
            desired = self._tracker.desired()
            changes: dict[str, Any] = {}
            if services is not None:
                given = {s.key for s in services}
                builtin = [
                    s for s in desired.services if s.key in RESERVED_IPS and s.key not in given
                ]
                changes["services"] = (*services, *builtin)
            if namespaces is not None:
                given = {n.name for n in namespaces}
                builtin_ns = [
                    n
                    for n in desired.namespaces
                    if n.name in BUILTIN_NAMESPACES and n.name not in given
                ]
                changes["namespaces"] = (*namespaces, *builtin_ns)
            if policies is not None:
                changes["policies"] = tuple(policies)
            if cluster_policies is not None:
                changes["cluster_policies"] = tuple(cluster_policies)
            self._tracker.record_pods(dataclasses.replace(desired, **changes))
        if self.sync is not None:
            self.sync.request()

    def set_static_endpoints(
        self, endpoints: Mapping[str, Mapping[str, tuple[Endpoint, ...]]]
    ) -> None:
        """Endpoints of Services without a selector, which no pod readiness decides (the
        API server's own ``default/kubernetes``, kept by kube-apiserver's endpoint
        reconciler, not the EndpointSlice controller): service key -> port name ->
        endpoints. One recorded change; the paced sync programmes them with the rest."""
        assert self._tracker is not None
        with self._lock:
            desired = self._tracker.desired()
            merged = {**desired.endpoints, **{k: dict(v) for k, v in endpoints.items()}}
            self._tracker.record_pods(dataclasses.replace(desired, endpoints=merged))
        if self.sync is not None:
            self.sync.request()

    def listen_in_node(self, node: str, port: int) -> socket.socket:
        """A TCP socket listening on ``node``'s address inside its network namespace: how
        a server of ours (the API) becomes reachable from pods without anything on the
        host. Root only: a rootless cluster's namespaces belong to its user namespace."""
        assert self.sandbox is not None and self.state is not None
        address = next(n.address for n in self.state.nodes if n.name == node)
        sock = netns.socket_in(self.sandbox.node_netns_path(node))
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def desired(self) -> ClusterState:
        """The desired cluster as last recorded (not necessarily applied yet)."""
        assert self._tracker is not None
        return self._tracker.desired()

    def applied(self) -> ClusterState | None:
        """The cluster as the last successful sync applied it (None before one)."""
        return None if self.sync is None else self.sync.state

    def _start_sync(self, tracker: ChangeTracker, tables: dict[str, NodeTables]) -> None:
        """The first, full sync in this thread (its errors are start()'s), then the
        paced sync thread; from here on the readiness callback records into ``tracker``."""
        self.sync = ClusterSync(
            tracker,
            tables,
            self.records_path,
            deny=self.deny,
            min_interval=self.sync_intervals[0],
            max_interval=self.sync_intervals[1],
            on_synced=self._published,
            on_failure=self._failed,
            on_repair=self.on_event,
        )
        self.sync.sync()
        self._tracker = tracker
        self.sync.start()

    # -- waiting for the data plane -----------------------------------------------------

    def sync_mark(self) -> int:
        """A mark for :meth:`synced`: the changes recorded so far."""
        return 0 if self._tracker is None else self._tracker.seq

    def synced(self, mark: int) -> bool:
        """Whether every change recorded before ``mark`` is applied (nft, DNS). Never
        blocks: for polling from ``runtime.run_until``."""
        return self.sync is None or self.sync.synced(mark)

    def admit(self, pods: Sequence[Pod], mark: int) -> bool:
        """Let ``pods`` (as placed by :meth:`add_pods`, recorded up to ``mark``) send
        now: their sources into their nodes' anti-spoofing tables, ahead of the paced
        sync. False if a node's table could not take them (wait for the sync)."""
        return self.sync is None or self.sync.admit(pods, mark)

    def wait_synced(self, timeout: float, mark: int | None = None) -> bool:
        """Block until the changes recorded so far (or before ``mark``, from
        :meth:`sync_mark`) are applied; False on timeout. Raises the error of a sync
        that fails meanwhile."""
        return self.sync is None or self.sync.wait_synced(timeout, mark)

    # -- internals ------------------------------------------------------------------

    def _on_ready(self, key: str, ready: bool) -> None:
        """The runtime's readiness callback, in its driver thread: record, ask, return."""
        if self._closing or self._tracker is None or self.sync is None:
            return
        if self._tracker.record_ready(key, ready):
            self.sync.request()

    def _status(self, status: PodStatus) -> None:
        """The runtime's status callback (its driver thread); ``on_status`` may be set
        after :meth:`start` (the kubelet does)."""
        if self.on_status is not None:
            self.on_status(status)

    def _published(self, state: ClusterState) -> None:
        self.state = state

    def _failed(self, error: Exception) -> None:
        self.failure = self.failure or error

    def _init_died(self) -> None:
        """The cluster init exited (killed by someone: our own teardown closes the loop
        first), and the kernel SIGKILLed every node, pod and container with it. Nothing
        is left to serve or repair in place: fail the run, whose teardown cleans up."""
        assert self.sandbox is not None and self.runtime is not None
        self.runtime.loop.remove_reader(self.sandbox.init_death_fd)
        if not self._closing:
            pid = self.sandbox.init_pid
            # The root cause wins over what its death broke first (a holder's or the
            # pause server's death seen a moment earlier under load).
            self.failure = ClusterError(
                f"the cluster init (pid {pid}) died, and every node and pod with it"
            )

    def _init_gone(self) -> bool:
        """Whether the cluster init has died (its death fd is readable), even if the
        loop has not run :meth:`_init_died` yet."""
        assert self.sandbox is not None
        return bool(select.select([self.sandbox.init_death_fd], [], [], 0)[0])

    def _watch_holders(self) -> None:
        """Watch each node holder and pod sandbox not watched yet (a pidfd in the
        runtime's loop), so one killed under us is reported at once (issue 14)."""
        assert self.sandbox is not None and self.runtime is not None
        loop = self.runtime.loop
        with loop.lock:
            for what, pid in self.sandbox.pids().items():
                if what == "init" or pid in self._holders:
                    continue
                fd = pidfd(pid)
                if fd is None:  # a kernel before 5.3: not watched
                    continue
                self._holders[pid] = (what, fd)
                loop.add_reader(fd, functools.partial(self._holder_died, pid))

    def _holder_died(self, pid: int) -> None:
        """A holder exited (in the loop's thread). One podnet removed itself is gone
        from :meth:`Sandbox.pids` already; any other was killed by someone.

        A pod sandbox is recreated as kubelet does when it finds a pod's sandbox not
        ready (kuberuntime_manager.go ``computePodActions``: kill the pod, create a new
        sandbox, start the containers; with a new IP). A node is not rebuilt: its pods
        run on while their processes hold its network namespace, as a Kubernetes node
        that lost its kubelet keeps its running containers."""
        assert self.runtime is not None and self.sandbox is not None
        what, fd = self._holders.pop(pid)
        self.runtime.loop.remove_reader(fd)
        os.close(fd)
        if self._closing or self.sandbox.pids().get(what) != pid or self._init_gone():
            return  # the init's own death is the one to report (_init_died)
        kind, _, name = what.partition("/")
        if kind == "node":
            self._report(
                f"node {name}: its holder (pid {pid}) died; the node is not rebuilt, "
                "its pods run on while their processes hold its network"
            )
            return
        if not self.recreate_sandboxes:
            self._report(f"{name}: its pod sandbox (pid {pid}) died")
            return
        self._report(f"{name}: its pod sandbox (pid {pid}) died; recreating the pod")
        threading.Thread(target=self._recreate, args=(name,), daemon=True).start()

    def _recreate(self, key: str) -> None:
        """:meth:`recreate_pod` off the loop's thread (it waits on that loop)."""
        try:
            pod = self.recreate_pod(key)
        except Exception as e:  # reported; the run goes on with the pod gone
            if not self._closing:
                self._report(f"{key}: the pod sandbox could not be recreated: {e}")
            return
        self._report(f"{key}: pod sandbox recreated, new IP {pod.ip}")

    def _runtime_event(self, line: str) -> None:
        """A container's restart, reported unless the cluster init is gone: then every
        container died with it and nothing restarts for real. The init's stdout turns
        EOF as it exits, before the kernel kills the rest (do_exit: exit_files before
        exit_notify), so this holds even when the loop sees a container's exit first."""
        if self.sandbox is not None:
            try:
                if select.select([self.sandbox.init_death_fd], [], [], 0)[0]:
                    return
            except (OSError, ValueError):  # closed: the sandbox is torn down
                return
        self._report(line)

    def _report(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)

    def check(self) -> None:
        """Raise the error a background sync ran into, if any."""
        if self.failure is not None:
            raise self.failure

    def _log(self, prefix: str, line: str) -> None:
        if self.on_log is not None:
            self.on_log(prefix, line)

    def close(self) -> None:
        """Stop the sync thread, containers, nft sessions, then the sandbox (which
        removes the rest)."""
        self._closing = True  # pods going un-ready now need no endpoint/nft/DNS syncs
        if self.runtime is not None:
            with self.runtime.loop.lock:  # not while a holder's callback runs
                for _, fd in self._holders.values():
                    self.runtime.loop.remove_reader(fd)
                    os.close(fd)
                self._holders.clear()
        if self.sync is not None:
            self.sync.stop()  # first: nothing may apply to what is being torn down
        if self.runtime is not None:
            # The whole cluster goes: the cluster init's death kills whatever is left.
            # A container's init (pid 1 of its PID namespace) ignores a SIGTERM it has
            # no handler for, so a short grace keeps `podnet run` teardown quick.
            self.runtime.close(TEARDOWN_GRACE)
        for session in self._sessions:
            session.close()
        self._sessions.clear()
        if self.sandbox is not None:
            self.sandbox.close()
        self._tmp.cleanup()

    def __enter__(self) -> LiveCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_launcher(state_dir: Path, images: ImageRegistry) -> OciLauncher | None:
    """The cluster's OCI launcher (crun), or None with ``PODNET_RUNTIME=process``."""
    mode = os.environ.get(RUNTIME_ENV, "oci")
    if mode == "process":
        return None
    if mode != "oci":
        raise ClusterError(f"{RUNTIME_ENV}={mode!r}: expected oci (the default) or process")
    busybox = dict(images.resolve("busybox").env).get("PATH", "").split(":")[0]
    python = frozenset(
        name
        for name, image in images.images.items()
        if any(k == "PYTHONPATH" for k, _ in image.env)
    ) | {"python"}
    return OciLauncher(
        state_dir / "oci",
        python_images=python,
        mount_points=(busybox,) if busybox.startswith(str(state_dir)) else (),
        read_only_run=True,
    )


def check_images(images: ImageRegistry, pods: Iterable[Pod]) -> None:
    """Every container's image must be known before the cluster starts (a kubelet
    would report ErrImagePull per pod; podnet cannot pull, so it refuses up front)."""
    for pod in pods:
        for c in (*pod.init_containers, *pod.containers):
            try:
                images.resolve(c.image)
            except ImageError as e:
                raise ImageError(f"pod {pod.key}, container {c.name!r}: {e}") from None
