"""The live cluster's namespaces: nodes and pods as network namespaces podnet owns.

:meth:`Sandbox.enter` creates a PID namespace whose init dies with this process and
starts every cluster process in it (:mod:`.spawner`, :mod:`.holders`), so when podnet
exits, crashes or is SIGKILLed the kernel drops every namespace, link, route and nft rule
of the cluster. Nothing is bind-mounted where the host sees it; the host's netns, routes,
nftables and /etc are never written. Unprivileged, podnet first enters a user namespace
mapping uid/gid 0 to itself (rootless, as rootless docker and k3s run).

What the caller must know: rootless, :meth:`enter` must come before podnet starts any
thread (CLONE_NEWUSER needs a single-threaded caller); only processes started through
the sandbox (:meth:`spawn`, :meth:`popen`) die with the cluster, so use :meth:`popen`
for anything long-lived inside a node; one sandbox per process at a time. More:
README.md here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from podnet.dataplane import netns
from podnet.dataplane.sandbox import holders, links, threadns, wiring
from podnet.dataplane.sandbox.podfiles import pod_files
from podnet.dataplane.sandbox.spawner import Spawner
from podnet.dataplane.sandbox.wiring import PlacedPod, Tools
from podnet.errors import ClusterError, NotSupportedError, PodnetError
from podnet.model.cluster import Node
from podnet.model.objects import Pod

T = TypeVar("T")

Proc = subprocess.Popen[bytes]
Holder = Proc | holders.Holder


def _kill(proc: Holder) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class Sandbox:
    """Owner of the cluster's namespaces; lives inside the podnet process.

    Thread-safe: the runtime may remove and re-add pods from its own threads.
    """

    _busy = False  # one open sandbox per process
    # Remount the cgroup hierarchies read-only in each pod's mount namespace, so that an
    # OCI runtime run there can make no cgroup (one would outlive a SIGKILLed podnet).
    # runc needs it (it has no "no cgroups" mode); crun runs with
    # --cgroup-manager=disabled and makes none, and its owner turns it off: nine
    # remounts and a mountinfo read less per pod (dataplane/oci).
    cgroups_read_only = True
    # Files bound read-only into every pod's mount namespace, (source, target): crun's
    # binary, which each container's ``crun run`` is started from (dataplane/oci). Set
    # before the first pod.
    pod_binds: tuple[tuple[str, str], ...] = ()

    def __init__(self, tools: Tools, spawner: Spawner, init: Proc, liveness_w: int) -> None:
        self._tools = tools
        self._spawner = spawner
        self._init = init
        self._liveness_w = liveness_w
        self._nodes: dict[str, tuple[Node, Proc]] = {}
        self._pods: dict[str, tuple[Pod, holders.Holder]] = {}
        self._pause_server: holders.PauseServer | None = None  # started at the first pod
        self._closed = False
        self._lock = threading.RLock()
        # a batch thread may enter a pod's namespaces and come back (threadns) only
        # from the host's user namespace: rootless, it could not enter the host's again
        self._thread_entry = netns.in_initial_user_namespace()

    # -- lifetime ---------------------------------------------------------------

    @classmethod
    def enter(cls, scratch: str | None = None) -> Sandbox:
        """Create the cluster: user namespace if unprivileged, PID namespace, init,
        and the cluster's root netns with the node-network bridge.

        ``scratch``: a directory the init removes if podnet dies without closing the
        sandbox (SIGKILL), as the kernel removes the namespaces (:mod:`.cluster_init`).
        """
        if cls._busy:
            raise ClusterError("a sandbox is already open in this process")
        tools = Tools.find()
        if os.geteuid() != 0:  # after a first rootless enter we are uid 0 in our userns
            if threading.active_count() != 1:
                raise NotSupportedError("rootless: enter the sandbox before starting threads")
            try:
                # 0 is the user; /etc/subuid's range from 1 on, when it grants one
                netns.enter_user_namespace(os.geteuid(), os.getegid())
            except OSError as e:
                raise NotSupportedError(f"cannot create a user namespace: {e}") from e
        try:
            spawner = Spawner(lambda: netns.unshare(netns.CLONE_NEWPID))
        except OSError as e:
            raise NotSupportedError(f"cannot create the cluster PID namespace: {e}") from e
        r, w = os.pipe()
        try:
            init = spawner.call(partial(holders.spawn_init, r, scratch))
        except PodnetError:
            os.close(w)
            spawner.stop()
            raise
        finally:
            os.close(r)
        cls._busy = True
        sandbox = cls(tools, spawner, init, w)
        try:
            wiring.make_root(tools, init.pid)
        except PodnetError:
            sandbox.close()
            raise
        return sandbox

    def close(self) -> None:
        """Tear everything down now (a normal exit). Idempotent.

        Killing the init is what removes everything; pods and nodes are killed first
        only so their Popen objects are reaped here instead of left as zombies.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _, pause in self._pods.values():
                with contextlib.suppress(PodnetError):  # the pause server died: the init reaps
                    _kill(pause)
            for _, proc in self._nodes.values():
                _kill(proc)
            if self._pause_server is not None:
                self._pause_server.close()
            # The init's exit kills every other process in the namespace at once, but
            # the kernel then waits (zap_pid_ns_processes) until every one is *reaped*;
            # podnet's own children (the runtime's containers) are reaped by their
            # owners' Popen objects, maybe later. Their namespaces are gone already
            # (exit_task_namespaces comes first), so do not block on that here.
            self._init.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._init.wait(timeout=2)
            os.close(self._liveness_w)
            if self._init.stdout is not None:
                self._init.stdout.close()
            self._pods.clear()
            self._nodes.clear()
            self._spawner.stop()
            Sandbox._busy = False

    @property
    def init_pid(self) -> int:
        """The cluster init's pid as the host sees it."""
        return self._init.pid

    @property
    def init_death_fd(self) -> int:
        """A descriptor that turns readable (EOF) the moment the cluster init dies, and
        with it every node and pod: the init's stdout, which it never writes. Its exit
        status cannot tell that sooner: the kernel makes the init a zombie only after
        every process of the namespace is reaped, some by podnet itself."""
        assert self._init.stdout is not None
        return self._init.stdout.fileno()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building the cluster ------------------------------------------------------

    def add_nodes(self, nodes: Sequence[Node]) -> None:
        """Create node netns, attach them to the bridge, route pod CIDRs between them."""
        with self._lock:
            self._check_open()
            new = list(nodes)
            names = [n.name for n in new]
            if len(set(names)) != len(names) or any(n in self._nodes for n in names):
                raise ClusterError(f"duplicate node name in {names}")
            links.check_unique_ifaces([*self._nodes, *names], "nd")
            try:
                for node in new:
                    holder = self._spawner.call(partial(holders.spawn_node, node.name))
                    self._nodes[node.name] = (node, holder)
                placed = [(n, self._node_pid(n.name)) for n, _ in self._nodes.values()]
                fresh = [(n, pid) for n, pid in placed if n.name in names]
                wiring.attach_nodes(self._tools, _holder_pid(self._init, "cluster init"), fresh)
                wiring.route_nodes(self._tools, placed, new)
            except PodnetError:
                for name in names:
                    if name in self._nodes:
                        _kill(self._nodes.pop(name)[1])
                raise

    def add_pods(self, pods: Sequence[Pod]) -> None:
        """Create the pods' sandboxes (pause processes, in parallel) and wire them.

        Each pod needs ``ip`` and ``node`` (set by scheduling and IPAM). All pods are
        checked before anything is created; on a failure the pods of this call are
        removed again.
        """
        with self._lock:
            self._check_open()
            new = list(pods)
            keys = [p.key for p in new]
            if len(set(keys)) != len(keys) or any(k in self._pods for k in keys):
                raise ClusterError("duplicate pod in add_pods")
            for pod in new:
                if pod.ip is None or pod.node is None:
                    raise ClusterError(f"pod {pod.key} has no IP or node yet")
                if pod.node not in self._nodes:
                    raise ClusterError(f"pod {pod.key}: unknown node {pod.node}")
                links.check_pod_ip(pod.key, pod.ip, self._nodes[pod.node][0])
            links.check_unique_ifaces([*self._pods, *keys], "pn")
            try:
                self._start_pauses(new)
                placed = []
                for pod in new:
                    assert pod.ip is not None and pod.node is not None
                    node = self._nodes[pod.node][0]
                    node_pid, pod_pid = self._node_pid(pod.node), self._pod_pid(pod.key)
                    placed.append(PlacedPod(pod.key, pod.ip, node, node_pid, pod_pid))
                wiring.wire_pods(self._tools, placed)
            except PodnetError:
                for key in keys:
                    if key in self._pods:
                        self.remove_pod(key)
                raise

    def _start_pauses(self, pods: Sequence[Pod]) -> None:
        if self._pause_server is None:
            self._pause_server = self._spawner.call(holders.PauseServer.start)
        starts = []
        for pod in pods:
            assert pod.ip is not None
            files = pod_files(pod, pod.ip)
            starts.append((files.hostname, files.by_path()))
        started = self._pause_server.spawn(
            starts,
            [p.share_process_namespace for p in pods],
            cgroups_ro=self.cgroups_read_only,
            ro_binds=self.pod_binds,
        )
        for pod, pause in zip(pods, started, strict=True):
            if not isinstance(pause, BaseException):
                self._pods[pod.key] = (pod, pause)
        for pause in started:
            if isinstance(pause, PodnetError):
                raise pause
            if isinstance(pause, BaseException):
                raise NotSupportedError(f"cannot create a pod sandbox: {pause}") from pause

    def remove_pod(self, pod_key: str) -> None:
        """Delete the pod's veth pair, kill every process in its netns and its pause."""
        with self._lock:
            self._check_open()
            if pod_key not in self._pods:
                raise ClusterError(f"no pod {pod_key} in the sandbox")
            pod, pause = self._pods.pop(pod_key)
            assert pod.node is not None
            with contextlib.suppress(ClusterError):  # the node is gone: so is the veth
                wiring.unwire_pod(self._tools, pod_key, self._node_pid(pod.node))
            if pause.poll() is None:
                for pid in wiring.pids_in_netns(netns.netns_inode(pause.pid)):
                    if pid != pause.pid:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
            _kill(pause)

    # -- entering namespaces (for the runtime, the nft and DNS helpers) -------------

    def pod_exec_argv(self, pod_key: str, argv: Sequence[str], cwd: str | None = None) -> list[str]:
        """``argv`` run inside the pod: its netns, hostname, IPC and mount namespace (/etc
        files). An OCI runtime started here makes its mounts in the pod's mount namespace.

        ``nsenter`` without ``--pid`` does not fork, so the command's pid *is* the
        container process: signals and exit status reach it directly. Start it with
        :meth:`spawn`/:meth:`popen`, which put it in the cluster's PID namespace; run
        any other way it would see the pod's /proc (mounted for that namespace) from
        outside it, and ``ps`` and friends fail. ``cwd`` is applied after entering the
        mount namespace (entering it resets the working directory).
        """
        kinds = ["net", "uts", "ipc", "mount"]
        return self._tools.enter(self._pod_pid(pod_key), kinds, argv, cwd or "/", pod=True)

    def node_exec_argv(self, node: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run in the node's netns and UTS namespace (e.g. ``nft -f -``)."""
        return self._tools.enter(self._node_pid(node), ["net", "uts"], argv)

    def spawn(
        self, pod_key: str, argv: Sequence[str], *, cwd: str | None = None, **popen: Any
    ) -> Proc:
        """Start ``argv`` in the pod (see :meth:`pod_exec_argv`); ``popen`` goes to Popen
        (not ``preexec_fn`` or ``cwd``: the namespaces are entered by ``nsenter``).

        On a thread of :meth:`batch` (a scale-up's containers) a program named by its
        absolute path is started without ``nsenter``: the thread enters the pod's
        namespaces itself for the fork (:mod:`.threadns`), one exec less per container.
        The process is the same: same namespaces, working directory, pid and argv."""
        if "preexec_fn" in popen or "cwd" in popen:
            raise ValueError("spawn() takes cwd itself and allows no preexec_fn")
        if (
            self._thread_entry
            and argv
            and argv[0].startswith("/")
            and self._spawner.on_batch_thread()
        ):
            self._check_open()
            pid = self._pod_pid(pod_key)
            try:
                with threadns.entered(pid):
                    proc: Proc = subprocess.Popen(list(argv), cwd=cwd or "/", **popen)
            except OSError as e:
                raise NotSupportedError(f"cannot start {argv[0]} in {pod_key}: {e}") from e
            return proc
        return self.popen(self.pod_exec_argv(pod_key, argv, cwd), **popen)

    def popen(self, argv: Sequence[str], **popen: Any) -> Proc:
        """Start ``argv`` in the cluster's PID namespace: it dies with the cluster.

        Combine with :meth:`node_exec_argv` for long-lived
        processes in a node (the DNS server, an ``nft`` session).
        """
        self._check_open()
        args = list(argv)

        def start() -> Proc:
            proc: Proc = subprocess.Popen(args, **popen)
            return proc

        try:
            return self._spawner.call(start)
        except OSError as e:
            raise NotSupportedError(f"cannot start {args[0] if args else '?'}: {e}") from e

    def batch(self, fns: Sequence[Callable[[], T]]) -> list[T]:
        """Run ``fns`` at once, each on a thread where every :meth:`spawn`/:meth:`popen`
        starts its process itself, in the cluster's PID namespace, without a hand-over
        to the spawner thread per process (:meth:`Spawner.batch`: many containers at
        once). They must start no thread."""
        self._check_open()
        return self._spawner.batch(f"/proc/{self._init.pid}/ns/pid", fns)

    # -- introspection ------------------------------------------------------------

    def pids(self) -> dict[str, int]:
        """Host pids of the processes podnet started: ``init``, ``node/<n>``, ``pod/<key>``."""
        with self._lock:
            out = {"init": self._init.pid}
            out.update({f"node/{n}": p.pid for n, (_, p) in self._nodes.items()})
            out.update({f"pod/{k}": p.pid for k, (_, p) in self._pods.items()})
            return out

    def node_netns_path(self, node: str) -> str:
        """Where the node's network namespace can be opened (its holder's /proc entry)."""
        return f"/proc/{self._node_pid(node)}/ns/net"

    def pod_pid_namespace(self, pod_key: str) -> str | None:
        """The pod's shared PID namespace (shareProcessNamespace) as a path that holds
        in the pod's mount namespace, where the OCI runtime runs; None otherwise.

        Without the lock, as :meth:`pod_exec_argv` (one dict lookup): add_pods holds it
        while it makes a batch of sandboxes, seconds in a scale-up, and the containers
        of the batch before waited that long to start."""
        found = self._pods.get(pod_key)
        if found is None:
            raise ClusterError(f"no pod {pod_key} in the sandbox")
        pidns = found[1].pidns
        return None if pidns is None else f"/proc/{pidns}/ns/pid"

    def pod_pid(self, pod_key: str) -> int:
        """The pause's host pid: /proc/<pid>/net/* shows the pod's network state."""
        return self._pod_pid(pod_key)

    # -- internals ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClusterError("the sandbox is closed")

    def _node_pid(self, name: str) -> int:
        found = self._nodes.get(name)
        if found is None:
            raise ClusterError(f"no node {name} in the sandbox")
        return _holder_pid(found[1], f"node {name}")

    def _pod_pid(self, key: str) -> int:
        found = self._pods.get(key)
        if found is None:
            raise ClusterError(f"no pod {key} in the sandbox")
        return _holder_pid(found[1], f"pod {key}")


def _holder_pid(proc: Holder, what: str) -> int:
    """The pid of a live holder, never of a dead one.

    Only podnet reaps its holders, so until :meth:`Popen.poll` sees one dead its pid
    stays allocated (alive or a zombie) and cannot name anyone else's namespace: a
    reused pid could otherwise point ``nsenter`` at the host's own netns.
    """
    if proc.poll() is not None:
        raise ClusterError(f"the {what} holder process died (exit {proc.returncode})")
    return proc.pid
