"""The kubelet of ``podnet up``: pods in the API store become pods on the live cluster.

One :class:`Kubelet` serves every node of the :class:`LiveCluster` (a real cluster runs
one per node; here one process holds all nodes, so one watch of all bound pods does).
As pkg/kubelet: pods bound to one of our nodes (``spec.nodeName``) are admitted,
converted to podnet's model (the API server checked them as the manifests layer
checks files: :func:`~podnet.live.kubelet_status.pod_model`), given an IP from their
node's podCIDR and a sandbox, and their containers started with the Service variables
of their namespace (``syncPod``). Status goes back through the ``status`` subresource
only when it changed, coalesced per pod (the status manager,
pkg/kubelet/status/status_manager.go). A pod with a ``deletionTimestamp`` is killed
(SIGTERM, SIGKILL after its ``deletionGracePeriodSeconds``), its sandbox and IP
released, and then deleted for good with grace 0 (the kubelet's final delete,
``status_manager.go`` ``canBeDeleted``/``syncPod``). A pod whose sandbox died is killed
and given a new sandbox and IP (kubelet's SandboxChanged path, :mod:`podnet.live.node.sandbox`).

The data plane follows the store too: Services (with the ClusterIPs the API server
allocated), Namespaces, NetworkPolicies and the cluster policies are converted and
handed to :meth:`LiveCluster.set_objects`, one recorded change per batch of events;
the paced sync applies nftables and DNS (kube-proxy's shape, :mod:`podnet.live.sync`).

LiveCluster's own DNS pod (kube-system/coredns-0) is a static pod: the kubelet runs it
from the cluster, not from the store, and keeps a mirror pod of it in the store (as
kubelet's mirror pods, pkg/kubelet/pod/mirror_client.go), recreated when deleted.

An image that must come from a registry is pulled on the puller thread (kubelet's
image puller, pkg/kubelet/images/puller.go, serialised as ``serializeImagePulls``
defaults), so a slow registry delays no other pod; the pod is admitted once its pull is
done. A pod whose image cannot be had waits (ErrImagePull, ImagePullBackOff,
ErrImageNeverPull) and is admitted again by the sync loop's retry timer, as kubelet's
pod worker retries a failed sync: an image loaded or a registry back meanwhile lets it
start.

Threads: one per watch (blocking ``get``), the kubelet's sync loop (batches events,
admits pods, fires retries), the status writer, the puller, and a pool for pod
deletions (each waits a grace period). The runtime's callbacks only record and return.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from podnet.apiserver.errors import not_found
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.control.served import served_ports
from podnet.dataplane.images.image import ImageNotPresentError
from podnet.dataplane.images.reference import default_pull_policy, parse
from podnet.dataplane.runtime.state import RUNNING, ContainerStatus, PodStatus
from podnet.errors import ImageError, PodnetError
from podnet.live import kubelet_logs
from podnet.live.cluster import SYNC_WAIT, LiveCluster
from podnet.live.desired import Converter
from podnet.live.kubelet_status import Obj, PodRecord, image_events, pod_model
from podnet.live.kubelet_write import (
    StatusManager,
    final_delete,
    mirror_pod,
    newer,
    sync_mirror,
)
from podnet.live.listening import Listeners
from podnet.live.node import ephemeral
from podnet.live.node.sandbox import (
    SANDBOX_CHANGED,
    SandboxWatch,
    next_restarts,
    shifted,
    should_recreate,
)
from podnet.live.node.volumes import VolumeManager
from podnet.live.node.volumes import admit as admit_volumes
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import ClusterNetworkPolicy
from podnet.model.objects import Namespace, NetworkPolicy, Pod, Service

PODS = by_kind("", "Pod")
WATCHED = [
    r
    for r in (
        by_kind("", "Service"),
        by_kind("", "Namespace"),
        by_kind("networking.k8s.io", "NetworkPolicy"),
        by_kind("policy.networking.k8s.io", "AdminNetworkPolicy"),
        by_kind("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
        by_kind("policy.networking.k8s.io", "ClusterNetworkPolicy"),
    )
    if r is not None
]
# Pods per sandbox batch (Kubelet._start): the sync of one chunk's IPs overlaps the
# creation of the next chunk's sandboxes; each batch costs one ``ip -batch`` per node.
CHUNK = 100
GATHER = 0.05  # seconds the sync loop lets a burst of events gather
STOP = "STOP"  # the event type Kubelet.stop queues to wake the sync loop (never handled)
SYNC_RETRY = 1.0  # seconds a chunk waits before waiting again after a failed sync
SERVER_WAIT = 1.0  # seconds clients of a batch wait at most for its servers to listen
TERMINAL_PHASES = ("Succeeded", "Failed")  # never started again (_admit)
DEFAULT_GRACE = 30  # spec.terminationGracePeriodSeconds default (core/v1 defaults.go)
# A pod whose image could not be had is admitted again: RESYNC_AFTER_PULL seconds after
# a failed pull (kubelet's PLEG relists every second and re-syncs the pod once its
# sandbox started; the image manager's back-off then answers ImagePullBackOff), else
# every RETRY_PERIOD (pkg/kubelet/kubelet.go backOffPeriod: pod_workers.go requeues a
# failed sync after it; its 0.5 jitter left out). The image registry keeps the pull
# back-off itself (10 s doubling to 300 s).
RESYNC_AFTER_PULL = 1.0
RETRY_PERIOD = 10.0
# BENCHMARK ONLY (bench/bench_up.py --no-containers): pods get their sandbox and IP but
# no container process; the kubelet reports each container Running and ready at once.
# With the value "nosandbox" (--no-sandboxes) not even a sandbox: an IP is made up from
# the node's podCIDR and the data plane never hears of the pod. Measures the control
# path (store, controllers, scheduler, status writes, slices) without the runtime's
# cost. Nothing runs in such pods.
BENCH_NO_CONTAINERS_ENV = "PODNET_BENCH_NO_CONTAINERS"


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Kubelet:
    def __init__(self, registry: Registry, cluster: LiveCluster, *, gather: float = GATHER) -> None:
        """``gather``: seconds the sync loop lets a burst of events gather (0 where
        every object is written before the kubelet starts: ``podnet probe``)."""
        assert PODS is not None
        self.registry, self.cluster, self._gather = registry, cluster, gather
        state = cluster.desired()
        self.nodes = {n.name: n for n in state.nodes}
        self.log_root = cluster.state_dir / "logs"
        self._lock = threading.RLock()  # _pods, _store, dirty sets
        self._pods: dict[str, PodRecord] = {}
        self._store: dict[str, dict[str, Obj]] = {r.plural: {} for r in (PODS, *WATCHED)}
        self._converters = {r.plural: Converter(self._warn) for r in WATCHED}
        self._queue: queue.Queue[tuple[Resource, str, Obj]] = queue.Queue()
        # chunks whose sandboxes exist, waiting for their IPs to be applied (see _start)
        self._starts: queue.Queue[tuple[list[PodRecord], list[Pod], int]] = queue.Queue()
        self._start_lock = threading.Lock()  # a chunk's containers start; or a kill
        self._running = False
        self._warned: set[str] = set()
        self.status = StatusManager(registry, self._lock, self._pods.get, self._warn)
        # volumes and env from ConfigMaps/Secrets (node/volumes.py): pods waiting for
        # an object are started through _containers once it comes
        self.volumes = VolumeManager(
            registry, cluster.state_dir, self.status, self._containers, self._warn
        )
        self._threads: list[threading.Thread] = []
        self._watches: list[tuple[Resource, Any]] = []  # pods first (see _watch)
        self._wake = threading.Event()  # a watch has events (set by the store)
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="kubelet-kill")
        # pods whose images the puller thread pulls, in turn (see _pull_loop)
        self._pulls: queue.Queue[tuple[PodRecord, list[tuple[str, str, str | None]]]] = (
            queue.Queue()
        )
        # (monotonic due, pod key, uid): pods whose images failed, to be admitted again
        self._retries: list[tuple[float, str, str]] = []
        self._static = {p.key: p for p in state.pods if p.ip is not None}
        bench = os.environ.get(BENCH_NO_CONTAINERS_ENV, "")
        self._no_containers = bench in ("1", "nosandbox")
        self._no_sandboxes = bench == "nosandbox"
        self._fake_ips: dict[str, int] = {}
        # (image, pull policy) found present by _admit during one _reconcile: the
        # thousand pods of a scale-up asked the image store (a file read) each
        self._present: set[tuple[str, str | None]] = set()
        # A pod whose sandbox died (node/sandbox.py): the restart counts its containers
        # carry over into the new sandbox, and the (pod, IP) of sandboxes torn down
        # before their chunk's containers started (the start thread skips those).
        self._restarts: dict[str, dict[str, int]] = {}
        self._retired: set[tuple[str, str | None]] = set()
        self._sandbox_watch = SandboxWatch(cluster, self._sandbox_died)
        if self._no_containers:
            self._warn(
                f"{BENCH_NO_CONTAINERS_ENV}={bench}: benchmark mode, no container is started"
            )

    # -- lifetime ------------------------------------------------------------------------
    def start(self) -> None:
        """List and watch, start the static pods, then serve in background threads."""
        assert PODS is not None
        self._running = True
        self.cluster.on_status = self._observe
        self.volumes.start(self.cluster.runtime)
        for res in (PODS, *WATCHED):
            listed = self.registry.list(res, None)
            for obj in listed.items:
                self._queue.put((res, "ADDED", obj))
            w = self.registry.watch(res, None, resource_version=listed.resource_version)
            self._watches.append((res, w))
        self._spawn("kubelet-watch", self._watch)
        self._start_static()
        self._spawn("kubelet-sync", self._sync_loop)
        self._spawn("kubelet-start", self._start_loop)
        self._spawn("kubelet-pull", self._pull_loop)
        self.status.start()

    def stop(self) -> None:
        """Stop watching and writing; the pods keep running (the cluster owns them)."""
        assert PODS is not None
        self._running = False
        self.cluster.on_status = None
        for _, w in self._watches:
            w.close()
        self._wake.set()
        # wake the sync and start threads now rather than at their next poll
        self._queue.put((PODS, STOP, {}))
        self._starts.put(([], [], -1))
        self.status.stop()
        self.volumes.stop()
        self._sandbox_watch.close()
        for t in self._threads:
            t.join(timeout=5)
        # Pods still in their grace period are killed now: `podnet up` is going away with
        # its whole cluster, and a 30 s grace would hold its teardown (a pod deleted just
        # before Ctrl-C); the kill threads then finish at once.
        with self._lock:
            terminating = [r for r in self._pods.values() if r.terminating]
        for rec in terminating:
            rec.grace = 0
            self._shorten(rec, 0)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        if name != "kubelet-pull":  # see _pull_loop
            self._threads.append(t)
        t.start()

    def _watch(self) -> None:
        """Move the watches' events to the sync loop's queue, in causal order.

        One thread polls every watch, pods first: the store queues a write's event to
        all its watchers before the next write (store/changelog.py), so once a pod's
        event is polled, every earlier Service, Namespace or policy event is already in
        its own watch and is polled in the same round. They are queued before the pods:
        a pod created after ``kubectl delete networkpolicy`` is admitted with the policy
        gone from the desired cluster, and its start waits for the sync that removes it.
        (With a thread per watch the pod's event could overtake the deletion, and the
        pod then start without that wait and meet the deleted policy.)"""
        wake = self._wake
        for _, w in self._watches:
            w.on_ready = wake.set
        while self._running and not all(w.closed for _, w in self._watches):
            wake.wait(0.2)
            wake.clear()  # before polling: a write from now on sets it again
            pods = [(res, ev.type, ev.object) for res, w in self._watches[:1] for ev in w.poll()]
            others = [(res, ev.type, ev.object) for res, w in self._watches[1:] for ev in w.poll()]
            for item in others + pods:
                self._queue.put(item)

    # -- the sync loop --------------------------------------------------------------------
    def _sync_loop(self) -> None:
        while self._running:
            self._due_retries()
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            if not self._running:  # woken by stop()
                return
            # Objects written together (one `kubectl apply`: a few ms apart) make one
            # batch, so its servers can start before its clients (_containers).
            if self._gather:
                time.sleep(self._gather)
            while True:  # everything queued meanwhile: one data-plane change per batch
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._handle(batch)
            except Exception as e:  # keep serving: one bad object must not stop the node
                self._warn(f"sync: {type(e).__name__}: {e}")

    def _handle(self, batch: list[tuple[Resource, str, Obj]]) -> None:
        dirty: set[str] = set()
        objects_changed = False
        with self._lock:
            for res, type_, obj in batch:
                key, store = _key(obj), self._store[res.plural]
                if type_ == "DELETED":
                    store.pop(key, None)
                elif type_ in ("ADDED", "MODIFIED"):
                    store[key] = obj
                elif type_ != "RESYNC":  # RESYNC: look at the pod again (no change)
                    continue
                if res is PODS:
                    dirty.add(key)
                else:
                    objects_changed = True
        if objects_changed:
            self._set_objects()
        self._reconcile(dirty)

    def _set_objects(self) -> None:
        with self._lock:
            lists = {p: list(objs.values()) for p, objs in self._store.items() if p != "pods"}
        models = {p: self._converters[p].all(objs) for p, objs in lists.items()}
        every = [m for ms in models.values() for m in ms]
        self.cluster.set_objects(
            services=[m for m in every if isinstance(m, Service)],
            namespaces=[m for m in every if isinstance(m, Namespace)],
            policies=[m for m in every if isinstance(m, NetworkPolicy)],
            cluster_policies=[m for m in every if isinstance(m, ClusterNetworkPolicy)],
        )

    def _reconcile(self, keys: set[str]) -> None:
        """For each pod that changed: admit, relabel, kill, or re-mirror (syncPod)."""
        admit: list[PodRecord] = []
        self._present.clear()  # images found present, for this batch only (_admit)
        for key in sorted(keys):
            with self._lock:
                obj = self._store["pods"].get(key)
                rec = self._pods.get(key)
            if key in self._static:
                self._mirror(key, obj)
                continue
            ours = obj is not None and (obj.get("spec") or {}).get("nodeName") in self.nodes
            uid = (obj or {}).get("metadata", {}).get("uid")
            if rec is not None and (obj is None or rec.uid != uid):
                # Gone from the API (force-deleted, or its name already taken by a new
                # pod, which only a force delete allows): killed at once. Upstream's pod
                # workers are per UID, so a new pod of the name starts while the old one
                # ends; here the sandbox, runtime and IPs hold one pod per ns/name, so
                # the new pod waits for the old one, killed without grace
                # (_terminate queues the name again once it is gone).
                self._kill(rec, None)
                continue
            if obj is None or not ours:
                continue
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                if rec is None:
                    self._final_delete(obj)
                else:  # a first kill, or a shorter grace period for one in progress
                    self._kill(rec, obj)
                continue
            if rec is not None and rec.readmit and not rec.terminating:
                rec.readmit = False
                new = self._admit(newer(rec.obj, obj), prior=rec)
                if new is not None:
                    admit.append(new)
                continue
            if rec is not None:
                rec.obj = newer(rec.obj, obj)
                self._ephemeral(rec)
                labels = (obj.get("metadata") or {}).get("labels") or {}
                if (rec.placed or rec.sandboxed) and labels != rec.pod.labels:
                    self.cluster.relabel_pod(key, labels)
                self.volumes.pod_changed(rec)  # downwardAPI files: labels, annotations
                continue
            new = self._admit(obj)
            if new is not None:
                admit.append(new)
        if admit:
            self._start(admit)

    def _admit(self, obj: Obj, prior: PodRecord | None = None) -> PodRecord | None:
        """A new pod for one of our nodes: converted and checked (kubelet's admission).

        ``prior``: the record of an earlier admission of this pod that waited for its
        images (a pull done, or a retry due); its start time and conditions are kept.

        A pod already Succeeded or Failed (listed again after a restart of ``podnet
        up`` on the same data dir) is not run again: its stored status stays, as
        kubelet's pod workers record a first-seen terminal pod as terminated instead of
        starting it (pkg/kubelet/pod_workers.go ``UpdatePod``, issues.k8s.io/105523)."""
        if (obj.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return None
        node = self.nodes[obj["spec"]["nodeName"]]
        meta = obj.get("metadata") or {}
        log_dir = self.log_root / f"{meta.get('namespace')}_{meta.get('name')}_{meta.get('uid')}"
        try:
            pod = pod_model(obj)
            admit_volumes(obj)  # hostPath: Forbidden
        except PodnetError as e:
            pod = Pod(str(meta.get("namespace")), str(meta.get("name")), {}, ())
            error = ("Warning", getattr(e, "reason", "Invalid"), str(e))
            rec = PodRecord(obj, pod, log_dir, node.address, error=error)
            rec.status = PodStatus(pod.key, "Failed", (), ())
            return self._record(rec, start=False)
        rec = PodRecord(obj, pod, log_dir, node.address)
        if prior is not None:
            rec.admitted, rec.conditions, rec.written = prior.admitted, prior.conditions, None
            rec.pulled = prior.pulled
        images = self._images(obj, pod)
        pulls = []
        for name, ref, policy in images:
            if (ref, policy) in self._present:
                continue  # another pod of this batch found it present (_reconcile)
            try:
                if self._needs_pull(rec, ref, policy):
                    pulls.append(ref)
                else:
                    self._present.add((ref, policy))
            except ImageError as e:  # final without a pull: Never, or an invalid name
                self._image_failed(rec, name, e)
                return None
        if pulls:
            # kubelet's image puller runs pulls off the pod worker; the pod is admitted
            # when they are done (_pull), other pods meanwhile
            self._record(rec, start=False)
            self._pulls.put((rec, images))
            return None
        # every image present (resolved by _needs_pull, as the runtime will at start)
        return self._record(rec, start=True)

    @staticmethod
    def _images(obj: Obj, pod: Pod) -> list[tuple[str, str, str | None]]:
        """(container, image, imagePullPolicy) of every container, init ones first."""
        spec = obj.get("spec") or {}
        policies = {
            c.get("name"): c.get("imagePullPolicy")
            for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
        }
        return [
            (c.name, c.image, policies.get(c.name)) for c in (*pod.init_containers, *pod.containers)
        ]

    def _resolve(self, ref: str, policy: str | None) -> None:
        assert self.cluster.runtime is not None
        self.cluster.runtime.images.resolve(ref, policy)

    def _needs_pull(self, rec: PodRecord, ref: str, policy: str | None) -> bool:
        """Whether resolving ``ref`` may pull from a registry (the image registry's own
        order: the cache, the built-ins, then a pull unless ``Never``; ``Always``
        pulls again an image that came from a registry). Raises the final
        :class:`ImageError` when no pull can help (``Never``, an invalid name)."""
        if ref in rec.pulled:
            return False  # pulled for this admission just now
        assert self.cluster.runtime is not None
        images = self.cluster.runtime.images
        policy = policy or default_pull_policy(ref)
        if policy == "Always" and images.store is not None:
            with contextlib.suppress(ImageError):
                entry = images.store.entry(parse(ref)) or {}
                if str(entry.get("origin", "")).startswith("docker://"):
                    return True
        try:
            images.resolve(ref, "Never")
        except ImageNotPresentError:
            if policy == "Never":
                raise
            return True
        return False

    def _pull_loop(self) -> None:
        """The puller thread. Not joined by :meth:`stop` (a pull from a registry that
        does not answer lasts until skopeo's timeout); a daemon, so it holds no exit."""
        while self._running:
            try:
                item = self._pulls.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._pull(*item)
            except Exception as e:  # keep pulling: one pod must not stop the others
                self._warn(f"pull: {type(e).__name__}: {e}")

    def _pull(self, rec: PodRecord, images: list[tuple[str, str, str | None]]) -> None:
        """The puller thread: each image in turn (kubelet's default serialised pulls,
        ``serializeImagePulls``), then the pod is admitted again, or waits for a retry."""
        pulled = set(rec.pulled)
        for name, ref, policy in images:
            if not self._running or rec.terminating:
                return
            began = time.monotonic()
            try:
                if not self._needs_pull(rec, ref, policy):
                    continue
                self._resolve(ref, policy)
            except ImageError as e:
                self._image_failed(rec, name, e)
                return
            took = f"{time.monotonic() - began:.3f}s"
            path = rec.field_path(name)
            self.status.event(rec.obj, "Normal", "Pulling", f'Pulling image "{ref}"', path)
            done = f'Successfully pulled image "{ref}" in {took} ({took} including waiting)'
            self.status.event(rec.obj, "Normal", "Pulled", done, path)
            pulled.add(ref)
        rec.pulled = frozenset(pulled)
        self._readmit(rec)

    def _image_failed(self, rec: PodRecord, container: str, e: ImageError) -> None:
        """The container waits in the image's failure reason (kubelet images/types.go:
        ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName), the
        message naming the image; the pod is tried again later as kubelet's pod worker
        retries a failed sync, unless the name is invalid."""
        reason = getattr(e, "reason", "ErrImagePull")
        spec = rec.container(container)
        image = spec.image if spec is not None else container
        with self._lock:
            rec.error, rec.image_container = ("Warning", reason, str(e)), container
        for event in image_events(image, reason, str(e)):
            self.status.event(rec.obj, *event, rec.field_path(container))
        if reason != "InvalidImageName":
            # right after a failed pull, soon (as kubelet's PLEG re-syncs the pod when
            # its sandbox starts: the image manager then answers ImagePullBackOff);
            # then every RETRY_PERIOD (pod_workers.go, a failed sync's back-off)
            delay = RESYNC_AFTER_PULL if reason == "ErrImagePull" else RETRY_PERIOD
            with self._lock:
                heapq.heappush(self._retries, (time.monotonic() + delay, rec.pod.key, rec.uid))
        self._record(rec, start=False)

    def _readmit(self, rec: PodRecord) -> None:
        """Have the sync loop admit ``rec``'s pod again (if it is still that pod)."""
        assert PODS is not None
        with self._lock:
            if self._pods.get(rec.pod.key) is not rec or rec.terminating:
                return
            rec.readmit = True
            obj = self._store["pods"].get(rec.pod.key, rec.obj)
        self._queue.put((PODS, "RESYNC", obj))

    def _due_retries(self) -> None:
        """The retry timer, run by the sync loop: pods whose retry is due."""
        now, due = time.monotonic(), []
        with self._lock:
            while self._retries and self._retries[0][0] <= now:
                _, key, uid = heapq.heappop(self._retries)
                rec = self._pods.get(key)
                if rec is not None and rec.uid == uid and rec.error is not None:
                    due.append(rec)
        for rec in due:
            self._readmit(rec)

    def _record(self, rec: PodRecord, *, start: bool) -> PodRecord | None:
        with self._lock:
            self._pods[rec.pod.key] = rec
        self.status.dirty(rec.pod.key)
        return rec if start else None

    def _start(self, recs: list[PodRecord]) -> None:
        """Sandboxes in chunks of :data:`CHUNK`, each handed to the start thread, which
        starts a chunk's containers once the paced sync has told every node its pod
        IPs. One sandbox batch of hundreds of pods would start no container until all
        of them existed and were synced: pods turned Running in long steps. Waiting
        for each chunk's sync here (one chunk ahead) made one paced sync, and its rest,
        per chunk: a thousand pods waited out ten of them in turn, with the sync thread
        mostly resting (bench/README.md, the up section). Now sandboxes are made as fast
        as pods are bound, and one sync covers every chunk made meanwhile."""
        if self._no_sandboxes:
            self._containers(recs, [self._fake_placed(r.pod) for r in recs])
            return
        for i in range(0, len(recs), CHUNK):
            chunk = recs[i : i + CHUNK]
            placed = self._sandboxes(chunk)
            if placed is not None:
                for rec in chunk:
                    rec.sandboxed = True
                self._starts.put((chunk, placed, self.cluster.sync_mark()))

    def _start_loop(self) -> None:
        """The start thread: chunks in the order their sandboxes were made."""
        while self._running:
            try:
                item = self._starts.get(timeout=0.2)
            except queue.Empty:
                continue
            if not self._running:  # woken by stop()
                return
            try:
                self._after_sync(*item)
            except Exception as e:  # keep serving: one chunk must not stop the node
                self._warn(f"start: {type(e).__name__}: {e}")

    def _after_sync(self, recs: list[PodRecord], placed: list[Pod], mark: int) -> None:
        """Start the containers once their IPs are applied (as add_pods' own wait).

        A wait that times out or a sync that fails is reported (FailedCreatePodSandBox)
        and the chunk waits again, its sandboxes kept: kubelet's pod workers retry a
        failed sync (pod_workers.go, after backOffPeriod) and the paced sync retries
        its own failures. Giving up left a hundred pods of a scale-up Pending for good
        when one sync took longer than SYNC_WAIT on a loaded machine.

        The wait is for the policy tables (a peer set must hold a new IP before that
        pod's first packet) and for the node's anti-spoofing table (the pod's source
        let through). With no policy of any tier in the desired cluster, nor in the
        one applied, no verdict depends on the new IPs: the pods' sources are admitted
        into their nodes' guards at once (:meth:`LiveCluster.admit`) and the containers
        start. Routes are the sandbox's own, and a pod is a Service endpoint only once
        Ready, which the sync applies in its turn. (Upstream the kubelet never waits
        for the network plugin's policies: the NetworkPolicy docs warn a pod may start
        "unprotected"; podnet waits where it matters.)"""
        failed, why = False, ""
        # No policy wanted, and none left in the kernel: a policy just deleted is still
        # enforced until the sync removes it, and a new pod would meet it. And the
        # sources admitted: a client started before the guard knew it had its DNS
        # query dropped as forged (the seed test's client-3: "wget: bad address").
        if (
            _no_policy(self.cluster.desired())
            and _no_policy(self.cluster.applied())
            and self.cluster.admit(placed, mark)
        ):
            ok = True
        else:
            try:
                ok = self.cluster.wait_synced(SYNC_WAIT, mark)
            except PodnetError as e:
                ok, failed, why = False, True, str(e)
            else:
                why = f"{len(placed)} new pods were not applied within {SYNC_WAIT:g}s"
        if ok:
            for r in recs:
                if r.error is not None and r.error[1] == "FailedCreatePodSandBox":
                    r.error = None
            self._containers(recs, placed)
            return
        for r in recs:  # the sandbox is kept, as when add_pods' own wait fails
            r.error = ("Warning", "FailedCreatePodSandBox", why)
            self.status.event(r.obj, *r.error)
            self.status.dirty(r.pod.key)
        if failed:
            time.sleep(SYNC_RETRY)  # a failed sync answers at once: not a busy loop
        if self._running:
            self._starts.put((recs, placed, mark))

    def _sandboxes(self, recs: list[PodRecord]) -> list[Pod] | None:
        try:
            # wait=0: the caller waits for the sync (pipelined, see _start)
            placed = self.cluster.add_pods([r.pod for r in recs], wait=0)
            self._sandbox_watch.add(p.key for p in placed)
            return placed
        except PodnetError as e:
            for r in recs:
                r.error = ("Warning", "FailedCreatePodSandBox", str(e))
                self.status.event(r.obj, *r.error)
                self.status.dirty(r.pod.key)
            return None

    def _containers(self, recs: list[PodRecord], placed: list[Pod]) -> None:
        """Start the chunk's containers, but not those of pods being killed meanwhile
        (a kill waits for a chunk's starts in progress: :meth:`_terminate`)."""
        with self._start_lock:
            pairs = [(r, p) for r, p in zip(recs, placed, strict=True) if not r.terminating]
            if self._retired:  # sandboxes that died before their containers started
                stale = {(p.key, p.ip) for _, p in pairs} & self._retired
                self._retired -= stale
                pairs = [(r, p) for r, p in pairs if (p.key, p.ip) not in stale]
            for rec, pod in pairs:
                rec.pod, rec.placed = pod, True
            if pairs:
                self._start_containers([r for r, _ in pairs], [p for _, p in pairs])

    def _start_containers(self, recs: list[PodRecord], placed: list[Pod]) -> None:
        if self._no_containers:
            self._fake_running(recs)
            return
        recs, placed = self.volumes.prepare(recs, placed, self.cluster.runtime)
        if not recs:  # all waiting for a ConfigMap or Secret
            return
        log_dirs = {r.pod.key: r.log_dir for r in recs}
        services = self.cluster.desired().services
        servers = [p for p in placed if served_ports(p, services)]
        clients = [p for p in placed if not served_ports(p, services)]
        if servers and clients:
            # Pods that arrive together (one `kubectl apply`) start servers first, and
            # their clients once the servers listen and their endpoints are applied, or
            # after SERVER_WAIT at most, as `podnet run` does: a client's first request
            # then does not race a server's start-up and fall into CrashLoopBackOff.
            # An order within one kubelet sync, which Kubernetes leaves open.
            self.cluster.start_pods(servers, log_dirs)
            self._wait_listening(servers)
            self.cluster.start_pods(clients, log_dirs)
        else:
            self.cluster.start_pods(placed, log_dirs)
        for rec in recs:
            self.status.dirty(rec.pod.key)
            self._ephemeral(rec)  # added while the pod was starting

    # -- ephemeral containers (node/ephemeral.py) ------------------------------------------
    def _ephemeral(self, rec: PodRecord) -> None:
        """Start the ephemeral containers new in a running pod's spec, each once
        (computePodActions), on the pool: an image may have to be pulled."""
        if not rec.placed or rec.terminating or rec.static or self._no_containers:
            return
        with self._lock:
            new = ephemeral.pending(rec)
            if not new:
                return
            rec.ephemeral = (*rec.ephemeral, *(c for c, _ in new))
        self.status.dirty(rec.pod.key)
        self._pool.submit(self._start_ephemeral, rec, new)

    def _start_ephemeral(self, rec: PodRecord, new: list[tuple[Any, str | None]]) -> None:
        runtime = self.cluster.runtime
        if runtime is None:
            return
        for container, policy in new:
            if rec.terminating:
                return
            events = ephemeral.start(runtime, rec, container, policy, self._start_lock)
            for e in events:
                self.status.event(rec.obj, *e, rec.field_path(container.name))
            self.status.dirty(rec.pod.key)

    def _fake_placed(self, pod: Pod) -> Pod:
        """Benchmark mode "nosandbox": the pod as if placed, with an IP of its node's
        podCIDR from .128 up (no sandbox, nothing applied)."""
        node = self.nodes[str(pod.node_name)]
        n = self._fake_ips.get(node.name, 128)
        self._fake_ips[node.name] = n + 1
        base = node.pod_cidr.split("/")[0].rsplit(".", 1)[0]
        return dataclasses.replace(pod, node=node.name, ip=f"{base}.{n}")

    def _fake_running(self, recs: list[PodRecord]) -> None:
        """Benchmark mode (:data:`BENCH_NO_CONTAINERS_ENV`): every container reported
        Running and ready now, as the runtime would once it started them."""
        now = time.monotonic()
        for rec in recs:
            cs = tuple(
                ContainerStatus(c.name, RUNNING, reason="", ready=True, started=now)
                for c in rec.pod.containers
            )
            self.status.observe(PodStatus(rec.pod.key, "Running", (), cs))

    def _wait_listening(self, servers: list[Pod]) -> None:
        assert self.cluster.sandbox is not None
        listeners = Listeners(
            self.cluster.sandbox.pod_pid, self.cluster.desired().services, servers
        )
        end = time.monotonic() + SERVER_WAIT
        while not listeners.all_listening() and time.monotonic() < end and self._running:
            time.sleep(0.01)
        with contextlib.suppress(PodnetError):
            self.cluster.wait_synced(max(0.0, end - time.monotonic()))

    # -- deletion ------------------------------------------------------------------------
    @staticmethod
    def _grace(obj: Obj | None) -> float:
        """The pod's grace period: ``deletionGracePeriodSeconds`` (the API server's, the
        "bedrock truth"), else ``terminationGracePeriodSeconds``; 0 for a pod gone from
        the API (``kubectl delete --force --grace-period=0``: killed at once; upstream
        floors it at 1 s, pod_workers.go ``calculateEffectiveGracePeriod``)."""
        if obj is None:
            return 0.0
        grace = (obj.get("metadata") or {}).get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE)
        return max(0.0, float(grace))

    def _kill(self, rec: PodRecord, obj: Obj | None) -> None:
        """Kill the pod with ``obj``'s grace period (None: gone from the API, at once).

        A pod already terminating is killed again only with a shorter grace period: as
        pkg/kubelet/pod_workers.go ``UpdatePod`` and ``calculateEffectiveGracePeriod``,
        "a grace period can only decrease" (``kubectl delete --grace-period=1`` on a pod
        terminating with 30 s cancels the kill in progress and stops it within 1 s)."""
        grace = self._grace(obj)
        with self._lock:
            if rec.terminating:
                if rec.grace is None or grace >= rec.grace:
                    return
                rec.grace = grace
                shorten = True
            else:
                rec.terminating, rec.grace, shorten = True, grace, False
        if shorten:
            self._pool.submit(self._shorten, rec, grace)
            return
        for c in rec.pod.containers:
            message = f"Stopping container {c.name}"
            self.status.event(rec.obj, "Normal", "Killing", message, rec.field_path(c.name))
        self.status.dirty(rec.pod.key)
        self._pool.submit(self._terminate, rec)

    def _shorten(self, rec: PodRecord, grace: float) -> None:
        """Stop the containers of a terminating pod again with a shorter grace period:
        its SIGKILL comes sooner (the first stop's later one finds nothing left);
        :meth:`_terminate`, waiting for them, then removes the sandbox."""
        runtime = self.cluster.runtime
        with self._start_lock:  # its containers may be starting: let them
            placed = rec.placed
        if placed and runtime is not None:
            try:
                runtime.stop_pod(rec.pod.key, grace)
            except PodnetError as e:
                self._warn(f"{rec.pod.key}: {e}")

    def _terminate(self, rec: PodRecord) -> None:
        key = rec.pod.key
        with self._start_lock:  # its chunk's containers may be starting: let them
            sandboxed = rec.placed or rec.sandboxed
            grace = rec.grace  # shortened meanwhile perhaps (_kill)
        try:
            if sandboxed:
                self.cluster.remove_pod(key, grace=grace)
        except PodnetError as e:
            self._warn(f"{key}: {e}")
        self.volumes.release(key)
        with self._lock:
            if self._pods.get(key) is rec:
                del self._pods[key]
                self._restarts.pop(key, None)
            current = self._store["pods"].get(key)
        shutil.rmtree(rec.log_dir, ignore_errors=True)
        if current is not None and current.get("metadata", {}).get("uid") == rec.uid:
            self._final_delete(current)
        assert PODS is not None
        if current is not None:  # a new pod of the same name may wait for this one
            self._queue.put((PODS, "RESYNC", current))

    def _final_delete(self, obj: Obj) -> None:
        final_delete(self.registry, obj)

    # -- a dead sandbox (node/sandbox.py) -------------------------------------------------
    def _observe(self, status: PodStatus) -> None:
        """The runtime's status callback: restart counts carried over from the pod's
        earlier sandboxes (the runtime counts each sandbox's runs from 0)."""
        base = self._restarts.get(status.key)
        self.status.observe(shifted(status, base) if base else status)

    def _sandbox_died(self, key: str, pid: int) -> None:
        """A pod's sandbox holder died (the runtime loop's thread): handled on the pool,
        as a pod worker's sync (the kill waits out a grace period)."""
        if self._running:
            self._pool.submit(self._sandbox_changed, key, pid)

    def _sandbox_changed(self, key: str, pid: int) -> None:
        """computePodActions with the sandbox not ready: kill the pod's containers (the
        pod's grace period), release its sandbox and IP, then, unless the pod must not
        run again (:func:`should_recreate`), a new sandbox with a new IP whose
        containers the start thread starts once every node knows that IP, each
        counting one restart more. A pod deleted meanwhile is left to its kill."""
        with self._lock:
            rec = self._pods.get(key)
        if rec is None or rec.static or rec.terminating or not rec.sandboxed:
            return
        recreate = should_recreate(rec.pod.restart_policy, rec.status)
        if recreate:
            self.status.event(rec.obj, "Normal", "SandboxChanged", SANDBOX_CHANGED)
        if rec.placed:  # killPodWithSyncResult: each container, "Stopping container"
            for c in rec.pod.containers:
                message = f"Stopping container {c.name}"
                self.status.event(rec.obj, "Normal", "Killing", message, rec.field_path(c.name))
        with self._start_lock:
            if not rec.placed:  # its chunk waits for a sync: it must not start there
                self._retired.add((key, rec.pod.ip))
        try:
            self.cluster.remove_pod(key, grace=self._grace(rec.obj))
        except PodnetError as e:
            self._warn(f"{key}: {e}")
        with self._start_lock:
            rec.sandboxed = False
            if not recreate or rec.terminating or self._pods.get(key) is not rec:
                return  # a Never pod keeps its last status (and IP); a kill ends it
            self._restarts[key] = next_restarts(rec.status, self._restarts.get(key, {}))
            rec.placed = False  # no podIP until the new sandbox's containers start
            # the old runs' files (the runtime numbers the new runs' from 0 again)
            for old in rec.log_dir.glob("*/*.log"):
                old.unlink(missing_ok=True)
            self.status.dirty(key)
            placed = self._sandboxes([rec])  # FailedCreatePodSandBox when it fails
            if placed is None:
                return
            rec.sandboxed = True
            self._starts.put(([rec], placed, self.cluster.sync_mark()))
        if self.cluster.on_event is not None:
            self.cluster.on_event(f"{key}: pod sandbox recreated, new IP {placed[0].ip}")

    # -- static pods ----------------------------------------------------------------------
    def _start_static(self) -> None:
        assert self.cluster.runtime is not None
        running = set(self.cluster.runtime.pods())
        state = self.cluster.desired()
        for key, pod in self._static.items():
            assert pod.node is not None
            node = self.nodes[pod.node]
            obj = mirror_pod(pod)
            rec = PodRecord(obj, pod, self.log_root / f"{pod.namespace}_{pod.name}", node.address)
            rec.static = rec.placed = True
            with self._lock:
                self._pods[key] = rec
            if key not in running:
                self.cluster.start_pods([p for p in state.pods if p.key == key], {key: rec.log_dir})
            else:
                with contextlib.suppress(PodnetError):
                    self.status.observe(self.cluster.runtime.status(key))
            self._mirror(key, None)

    def _mirror(self, key: str, obj: Obj | None) -> None:
        """Keep the static pod's mirror in the store (recreated when deleted)."""
        if sync_mirror(self.registry, self._pods[key], obj, self._warn):
            self.status.dirty(key)

    def pod_record(self, namespace: str, name: str) -> tuple[Obj | None, PodRecord | None]:
        """The pod as stored and as this kubelet runs it (exec, attach, port-forward)."""
        key = f"{namespace}/{name}"
        with self._lock:
            return self._store["pods"].get(key), self._pods.get(key)

    # -- logs (kubelet_logs.py) -----------------------------------------------------------
    def _log_dir(self, namespace: str, name: str, container: str | None) -> tuple[Any, Any]:
        with self._lock:
            rec = self._pods.get(f"{namespace}/{name}")
        if rec is None:
            raise not_found("", "pods", name)
        names = tuple(c.name for c in rec.ephemeral)
        return rec, kubelet_logs.container_dir(rec.log_dir, rec.pod, container, names)

    def logs(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        *,
        tail: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
        since_time: float | None = None,
        limit_bytes: int | None = None,
    ) -> bytes:
        """A container's log as ``kubectl logs`` shows it (raises :class:`ApiError`)."""
        _, d = self._log_dir(namespace, name, container)
        path = kubelet_logs.pick(d, name, previous)
        return kubelet_logs.read(
            path,
            tail=tail,
            since_seconds=since_seconds,
            timestamps=timestamps,
            since_time=since_time,
            limit_bytes=limit_bytes,
        )

    def follow_logs(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        *,
        tail: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        cancelled: Callable[[], bool] | None = None,
        started: Callable[[], None] | None = None,
        since_time: float | None = None,
        limit_bytes: int | None = None,
    ) -> Iterator[bytes]:
        """``kubectl logs -f``: chunks of lines until the run ends, the pod goes or
        ``cancelled()`` (the reader went away). Blocking (polls the file): iterate it
        in a thread of its own."""
        rec, d = self._log_dir(namespace, name, container)
        path = kubelet_logs.pick(d, name, False)

        def stopped() -> bool:
            if cancelled is not None and cancelled():
                return True
            if not self._running or rec.terminating or kubelet_logs.newest(d) != path:
                return True
            # the container exited (kuberuntime/logs/logs.go: a follow ends once
            # isContainerRunning is false), its output already in the file
            return not self._container_running(rec.pod.key, d.name)

        return kubelet_logs.follow(
            path,
            stopped,
            tail=tail,
            since_seconds=since_seconds,
            timestamps=timestamps,
            started=started,
            since_time=since_time,
            limit_bytes=limit_bytes,
        )

    def _container_running(self, key: str, container: str) -> bool:
        runtime = self.cluster.runtime
        if runtime is None:
            return False
        try:
            status = runtime.status(key).container(container)
        except PodnetError:
            return False
        return status is not None and status.state == RUNNING

    def _warn(self, message: str) -> None:
        if message in self._warned:
            return
        self._warned.add(message)
        print(f"podnet kubelet: {message}", file=sys.stderr, flush=True)


def _no_policy(state: ClusterState | None) -> bool:
    """Whether ``state`` is known and holds no policy of any tier."""
    return state is not None and not state.policies and not state.cluster_policies
