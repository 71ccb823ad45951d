"""One live cluster core: the store, the Registry, the controllers and the kubelet
around a :class:`~podnet.live.cluster.LiveCluster`, as ``podnet up`` runs them, without
the HTTP API (:mod:`podnet.live.upcluster` adds that).

``podnet run`` creates its documents through the Registry (:mod:`.objects`); the
controllers expand workloads, schedule pods and keep EndpointSlices; the kubelet gives
each bound pod its IP and sandbox and starts its containers. :class:`RunCluster` is the
LiveCluster the run drives: it tells the run of each pod the kubelet places and starts,
before any of its output, so the run can classify pods whose names the controllers
chose and hold its clients' containers until their opening table is printed, without
blocking the kubelet's start thread (a server of a later batch must not wait behind a
held client).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.manager import ControllerManager
from podnet.dataplane.runtime.state import PodStatus
from podnet.live.cluster import SYNC_WAIT, LiveCluster
from podnet.live.core import objects
from podnet.live.core.bootstrap import bootstrap
from podnet.live.kubelet import GATHER, Kubelet
from podnet.model.cluster import ClusterState
from podnet.model.objects import Namespace, Pod

PodsHook = Callable[[Sequence[Pod]], None]
# (pods about to start, their log dirs) -> those to start now; the run keeps the rest
HoldHook = Callable[[Sequence[Pod], Mapping[str, Path] | None], list[Pod]]


class RunCluster(LiveCluster):
    """A LiveCluster that reports the pods the kubelet places (``on_placed``, with
    their IPs) and lets the run hold back containers about to start (``hold``): the
    run starts those later itself with :meth:`start_pods`, its hook then letting
    everything through."""

    on_placed: PodsHook | None = None
    hold: HoldHook | None = None
    # Pods (key, node, IP) to get these IPs when the kubelet places them on that node
    # (``podnet probe``: the addresses the engine predicted, which ipBlocks may name)
    reserved: Sequence[Pod] = ()

    def start(self) -> ClusterState:
        state = super().start()
        allocator = self._allocator
        assert allocator is not None
        used = allocator.in_use()
        for pod in self.reserved:
            # one already taken (by the static DNS pod) is left to the allocator
            if pod.ip is not None and pod.node is not None and pod.ip not in used:
                allocator.reserve(pod.key, pod.node, pod.ip)
        return state

    def add_pods(self, pods: Sequence[Pod], *, wait: float = SYNC_WAIT) -> list[Pod]:
        placed = super().add_pods(pods, wait=wait)
        if self.on_placed is not None:
            self.on_placed(placed)
        return placed

    def start_pods(self, pods: list[Pod], log_dirs: Mapping[str, Path] | None = None) -> None:
        now = self.held_back(pods, log_dirs)
        if now:
            super().start_pods(now, log_dirs)

    def held_back(self, pods: Sequence[Pod], log_dirs: Mapping[str, Path] | None) -> list[Pod]:
        """The pods of ``pods`` to start now (all of them without a ``hold`` hook)."""
        return list(pods) if self.hold is None else self.hold(pods, log_dirs)


class Core:
    """The store (in memory: nothing outlives the run), Registry, controllers and kubelet
    of one cluster. :meth:`check` needs no kernel; :meth:`start` brings the cluster up."""

    def __init__(self, cluster: LiveCluster, *, gather: float = GATHER) -> None:
        """``gather``: the kubelet's (:class:`Kubelet`): 0 where every document is
        created before it starts (``podnet probe``), so nothing is left to gather."""
        self.cluster, self._gather = cluster, gather
        self.store = MemoryStore()
        self.registry = Registry(self.store)
        # no API server here: no token to mount, no kube-root-ca.crt to wait for
        self.registry.disabled_admission = frozenset({"ServiceAccount"})
        bootstrap(self.registry)
        self.controllers: ControllerManager | None = None
        self.kubelet: Kubelet | None = None
        self._stop_lock = threading.Lock()
        self._stopper_lock = threading.Lock()
        self._stopper: threading.Thread | None = None

    def check(self, items: Iterable[objects.Item], namespaces: Iterable[Namespace]) -> None:
        objects.check(self.registry, items, namespaces)

    def start(self, on_status: Callable[[PodStatus], None] | None = None) -> None:
        """The cluster, then the controllers and the kubelet (its static DNS pod
        starts); ``on_status`` sees every pod status the kubelet sees."""
        self.cluster.start()
        volumes = self.cluster.state_dir / "pv"  # claims' volumes: gone with the run
        self.controllers = ControllerManager(
            self.registry, nodes=self.cluster.node_count, volumes_dir=volumes
        )
        self.controllers.start()
        self.kubelet = Kubelet(self.registry, self.cluster, gather=self._gather)
        self.kubelet.volumes.volumes_dir = volumes
        self.kubelet.start()
        observe = self.cluster.on_status  # the kubelet's status manager
        if on_status is not None and observe is not None:

            def both(status: PodStatus) -> None:
                observe(status)
                on_status(status)

            self.cluster.on_status = both

    def create(self, items: Iterable[objects.Item]) -> None:
        for item in items:
            objects.create(self.registry, item)

    def stop_control(self) -> None:
        """Stop the controllers and the kubelet (once): the pods keep running and the
        data plane keeps following their readiness (both are the cluster's), but
        nothing in the store acts on them any more."""
        with self._stop_lock:
            if self.controllers is not None:
                self.controllers.stop()
                self.controllers = None
            if self.kubelet is not None:
                self.kubelet.stop()
                self.kubelet = None

    def stop_control_soon(self) -> None:
        """:meth:`stop_control` on a thread of its own (the kubelet's stop waits for
        its threads' polls, and may be asked for from one of them); :meth:`close`
        waits for it."""
        with self._stopper_lock:  # not _stop_lock: a kubelet thread may ask during a stop
            if self._stopper is not None:
                return
            self._stopper = threading.Thread(target=self.stop_control, name="core-stop")
            self._stopper.start()

    def close(self) -> None:
        """Controllers and kubelet first (nothing may act on what is torn down), the
        store, then the cluster: every pod, namespace and table, its scratch dir."""
        with self._stopper_lock:
            stopper = self._stopper
        if stopper is not None:
            stopper.join()
        self.stop_control()
        self.store.close()
        self.cluster.close()
