"""``podnet probe``: bring the cluster up, try every connection for real, compare.

Order of work (each step is one module; this one only sequences them):

1. ``podnet up``'s core (:mod:`podnet.live.core`: an in-memory store, the Registry, the
   controllers, the kubelet, around a live cluster) creates the documents through the
   Registry as ``kubectl apply`` would; the controllers name and schedule the pods, the
   kubelet gives each its sandbox and IP and starts the servers' containers (the
   static DNS pod and the pods serving no port are held back: :class:`_Starts`);
   the Service proxy and NetworkPolicy tables follow the store;
2. once every pod the manifests schedule is placed, the probes are planned over the
   live cluster (its pod names, IPs and ClusterIPs) and the pods they need started
   (once they have, the controllers and the kubelet stop, during the probes: the pods
   keep running and the data plane follows their readiness without them);
   per destination, wait until its served ports are bound and, with ``--via
   service``, every backend the plan uses is a Ready endpoint whose nft elements are
   applied (:mod:`podnet.live.probe.gate`; the live cluster publishes endpoints only
   after its paced sync applied them, :mod:`podnet.live.sync`);
3. probe from inside the source pods' network namespaces
   (:mod:`podnet.live.probe.transport`, :mod:`podnet.live.probe.prober`), everything in
   parallel with the 1 s timeout upstream uses;
4. judge every result against the pure engine's prediction over the same live objects
   (:mod:`podnet.analyze.matrix`, :mod:`podnet.live.probe.result`).

The prediction is taken over the cluster as fully Ready (every endpoint present), the
state step 2 waits for; the probe plan uses the same endpoints.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podnet.analyze.matrix import compute_matrix
from podnet.control.endpoints import compute_endpoints
from podnet.control.served import served_ports
from podnet.errors import NotSupportedError
from podnet.live.cluster import check_images
from podnet.live.core import objects
from podnet.live.core.core import Core, RunCluster
from podnet.live.probe.gate import Gate
from podnet.live.probe.plan import by_source, plan_probes
from podnet.live.probe.ready import READY_WAIT
from podnet.live.probe.result import ProbeReport, judge
from podnet.live.probe.transport import run_probes
from podnet.live.progress import ProgressBar
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests, Pod

if TYPE_CHECKING:
    from podnet.errors import Location

Progress = Callable[[str], None]
Chooser = Callable[[ClusterState], Sequence[Pod]]
POLL = 0.01  # seconds between looks at the core while waiting for its pods to be placed
KINDS = {  # the live state's tuple of each kind of document the probe waits for
    ("", "Service"): "services",
    ("networking.k8s.io", "NetworkPolicy"): "policies",
}


def probe_cluster(
    manifests: Manifests,
    *,
    documents: Sequence[tuple[object, Location]],
    nodes: int = 1,
    via: str = "pod",
    deny: str = "drop",
    timeout: float = 1.0,
    choose: Chooser | None = None,
    progress: Progress | None = None,
    ready_wait: float = READY_WAIT,
    transport: str = "thread",
) -> ProbeReport:
    """Run the cluster of ``manifests`` (loaded from ``documents``, which are created
    through the core's API), probe every pair of the chosen pods, tear down.

    ``choose`` picks the pods to probe from the live cluster (each pod with the
    workload at the top of its owners as ``owner``: :func:`user_pods`)."""
    from podnet.control.cluster import build_cluster
    from podnet.dataplane.images.registry import default_registry

    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    predicted = build_cluster(manifests, nodes)  # how many pods get a node, and images
    found, bare = _pinned(objects.items(documents), predicted)
    cluster = RunCluster(Manifests(), nodes=nodes, deny=deny)
    cluster.reserved = bare
    core = Core(cluster, gather=0)  # every document exists before the kubelet starts
    try:
        try:
            # before anything exists on the host: the documents as the API takes them,
            # and every image (the same registry LiveCluster.start opens)
            core.check(found, manifests.namespaces)
            check_images(default_registry(cluster.state_dir / "images"), predicted.pods)
            return _probe(
                core, found, predicted, t0, via, timeout, choose, say, ready_wait, transport
            )
        except OSError as e:  # anything the layers below did not classify
            raise NotSupportedError(f"podnet probe: {e}") from e
    finally:
        core.close()


def _pinned(
    found: list[objects.Item], predicted: ClusterState
) -> tuple[list[objects.Item], list[Pod]]:
    """The documents with each bare pod bound to the node the engine placed it on (a
    pod created with ``spec.nodeName`` skips the scheduler, as on any cluster), and
    those pods as placed, so that each gets the IP the engine gave it
    (:attr:`RunCluster.reserved`): policies of the documents may name pod addresses
    in ipBlocks (the conformance cases' ``cidr_of``), written for those IPs. Workload
    pods are the controllers' (their names cannot be predicted)."""
    placed = {p.key: p for p in predicted.pods if p.owner is None and p.node and p.ip}
    out, bare = [], []
    for item in found:
        pod = placed.get(f"{item.namespace}/{item.name}") if item.res is objects.PODS else None
        spec = item.obj.get("spec")
        if pod is None or not isinstance(spec, dict) or spec.get("nodeName"):
            out.append(item)
            continue
        obj = {**item.obj, "spec": {**spec, "nodeName": pod.node}}
        out.append(dataclasses.replace(item, obj=obj))
        bare.append(pod)
    return out, bare


class _Starts:
    """RunCluster's ``hold`` for the probe: servers start as the kubelet starts them;
    the static pods (the cluster DNS, which no probe reaches: each container is an
    interpreter start) and the pods serving no port wait until the plan is known
    (:meth:`release`), and only those the plan needs start then. Once every pod the
    plan needs has started, ``on_started`` is called (once)."""

    def __init__(
        self, cluster: RunCluster, static: set[str], on_started: Callable[[], None]
    ) -> None:
        self.cluster, self.static, self.on_started = cluster, static, on_started
        self._lock = threading.Lock()
        self._held: dict[str, tuple[Pod, Path | None]] = {}
        self._started: set[str] = set()
        self._wanted: set[str] | None = None  # None: the plan is not known yet
        self._told = False

    def hold(self, pods: Sequence[Pod], log_dirs: Mapping[str, Path] | None) -> list[Pod]:
        services = self.cluster.desired().services
        with self._lock:
            if self._wanted is not None:
                now = [p for p in pods if p.key in self._wanted]
            else:
                now = []
                for pod in pods:
                    if pod.key not in self.static and served_ports(pod, services):
                        now.append(pod)
                    else:
                        log_dir = None if log_dirs is None else log_dirs.get(pod.key)
                        self._held[pod.key] = (pod, log_dir)
            self._started.update(p.key for p in now)
        self._tell()
        return now

    def release(self, wanted: set[str]) -> None:
        """Start the held pods of ``wanted``; from now on only those start."""
        with self._lock:
            self._wanted = wanted
            held = [v for k, v in self._held.items() if k in wanted]
            self._held.clear()
            self._started.update(p.key for p, _ in held)
        if held:
            logs = {p.key: d for p, d in held if d is not None}
            self.cluster.start_pods([p for p, _ in held], logs)
        self._tell()

    def _tell(self) -> None:
        with self._lock:
            if self._told or self._wanted is None or not self._wanted <= self._started:
                return
            self._told = True
        self.on_started()


def _probe(
    core: Core,
    found: list[objects.Item],
    predicted: ClusterState,
    t0: float,
    via: str,
    timeout: float,
    choose: Chooser | None,
    say: Progress,
    ready_wait: float,
    transport: str,
) -> ProbeReport:
    from podnet.control.cluster import build_cluster

    cluster = core.cluster
    assert isinstance(cluster, RunCluster)
    static = {p.key for p in build_cluster(Manifests(), cluster.node_count).pods}
    # Once every pod the plan needs has started, nothing in the store matters to the
    # probe (the pods keep running; the data plane follows their readiness itself):
    # the controllers and the kubelet stop meanwhile, not after the probes.
    starts = _Starts(cluster, static, core.stop_control_soon)
    cluster.hold = starts.hold
    # before the controllers start: their first lists hold every object, so the pods
    # are scheduled and placed in one round
    core.create(i for i in found if i.res is not objects.NAMESPACES)
    core.start()
    expected = sum(1 for p in predicted.pods if p.ip is not None and p.key not in static)
    live = _placed(core, found, static, expected, time.monotonic() + ready_wait, say)
    pods_live = _with_owners(core, live.pods)
    full = dataclasses.replace(
        live, pods=pods_live, endpoints=compute_endpoints(live.services, pods_live)
    )
    pods = sorted(
        (p for p in (choose(full) if choose else full.pods) if p.ip is not None),
        key=lambda p: p.key,
    )
    plan = plan_probes(full, pods, via)
    t_up = time.monotonic()
    say(
        f"cluster up in {t_up - t0:.2f}s: {len(full.nodes)} node(s), "
        f"{sum(1 for p in full.pods if p.ip)} pod(s), {len(full.services)} service(s)"
    )
    # the probed pods and any other Service backend the plan uses
    starts.release({p.key for p in pods} | {k for x in plan for k, _ in x.backends})
    assert cluster.sandbox is not None
    gate = Gate(cluster, plan)
    bar = ProgressBar(sys.stderr)  # a no-op off a terminal (issue 15: long work shows progress)
    bar.start("probes", total=sum(1 for x in plan if x.address is not None))
    try:
        results, not_ready = run_probes(
            cluster.sandbox, plan, timeout, gate.missing, t_up + ready_wait, transport, bar.update
        )
    finally:
        bar.close()
    cluster.check()  # a sync that failed meanwhile makes the results meaningless
    for item in not_ready:
        say(f"not ready, probed anyway: {item}")
    t_probe = time.monotonic()
    ran = sum(1 for r in results if r is not None)
    say(
        f"{ran} probes from {len(by_source(plan))} pod(s) (via {via}) in "
        f"{t_probe - t_up:.2f}s (servers starting included)"
    )
    matrix = compute_matrix(full)
    observations = judge(matrix, plan, results)
    wrong = [i for i, o in enumerate(observations) if o.disagrees]
    if wrong:
        # Upstream's ValidateOrFail probes a second time when the first try has wrong
        # cells (netpol/test_helper.go), since one lost UDP reply or a slow start is
        # not a policy verdict. Only the disagreeing probes are tried again.
        again = [plan[i] for i in wrong]
        second, _ = run_probes(cluster.sandbox, again, timeout, gate.missing, 0.0, transport)
        redone = judge(matrix, again, second)
        for i, o in zip(wrong, redone, strict=True):
            observations[i] = o
        left = sum(1 for o in redone if o.disagrees)
        say(f"{len(wrong)} disagreement(s) probed again: {left} remain")
    timings = {
        "up": t_up - t0,
        "probe": t_probe - t_up,
        "total": time.monotonic() - t0,
    }
    return ProbeReport(full, tuple(pods), via, tuple(observations), tuple(not_ready), timings)


def _placed(
    core: Core,
    found: Sequence[objects.Item],
    static: set[str],
    expected: int,
    until: float,
    say: Progress,
) -> ClusterState:
    """The live cluster once the kubelet placed ``expected`` pods (besides the static
    ones) and handed the data plane every Service and NetworkPolicy of the documents
    (bounded by ``until``: what is there then, with a word about what is not)."""
    cluster = core.cluster
    wanted: dict[str, set[str]] = {}
    for item in found:
        field = KINDS.get((item.res.group, item.res.kind))
        if field is not None and item.obj["metadata"].get("name"):
            wanted.setdefault(field, set()).add(f"{item.namespace}/{item.name}")
    while True:
        cluster.check()
        state = cluster.desired()
        placed = sum(1 for p in state.pods if p.ip is not None and p.key not in static)
        lacking = {
            field: keys - {o.key for o in getattr(state, field)} for field, keys in wanted.items()
        }
        if placed >= expected and not any(lacking.values()):
            return state
        if time.monotonic() >= until:
            if placed < expected:
                say(f"{expected - placed} pod(s) not placed yet; probing the {placed} placed")
            for keys in lacking.values():
                for key in sorted(keys):
                    say(f"{key} not applied yet; probing anyway")
            return state
        time.sleep(POLL)


def _with_owners(core: Core, pods: Sequence[Pod]) -> tuple[Pod, ...]:
    """Each pod with the workload at the top of its owners as ``owner`` (``Kind/name``,
    as the manifests layer names the owner of a workload's pods)."""
    assert objects.PODS is not None
    out = []
    for pod in pods:
        try:
            obj: Any = core.registry.get(objects.PODS, pod.namespace, pod.name)
        except Exception:  # gone meanwhile (or a static pod's mirror not written yet)
            out.append(pod)
            continue
        kind, _, name = objects.top_owner(core.registry, obj)
        out.append(pod if kind == "Pod" else dataclasses.replace(pod, owner=f"{kind}/{name}"))
    return tuple(out)


def user_pods(manifests: Manifests, state: ClusterState) -> list[Pod]:
    """The live pods the user's manifests asked for: their bare and StatefulSet pods by
    name, every other pod by the workload at the top of its owners (the controllers
    chose its name), DaemonSets' included."""
    keys = {p.key for p in manifests.pods}
    owners = {(p.namespace, p.owner) for p in (*manifests.pods, *manifests.daemonsets) if p.owner}
    return [p for p in state.pods if p.key in keys or (p.namespace, p.owner) in owners]
