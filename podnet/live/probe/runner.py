"""``podnet probe``: bring the cluster up, try every connection for real, compare.

Order of work (each step is one module; this one only sequences them):

1. :class:`~podnet.live.cluster.LiveCluster` builds the namespaces, the Service proxy
   and NetworkPolicy tables (nftables, compiled from the policy objects) and starts
   every pod's containers;
2. per destination, wait until its served ports are bound and, with ``--via
   service``, every backend the plan uses is a Ready endpoint whose nft elements are
   applied (:mod:`podnet.live.probe.gate`; the live cluster publishes endpoints only
   after its paced sync applied them, :mod:`podnet.live.sync`);
3. probe from inside the source pods' network namespaces
   (:mod:`podnet.live.probe.transport`, :mod:`podnet.live.probe.prober`), everything in
   parallel with the 1 s timeout upstream uses;
4. judge every result against the engine's prediction (:mod:`podnet.live.probe.result`).

The prediction is taken over the cluster as fully Ready (every endpoint present), the
state step 2 waits for; the probe plan uses the same endpoints.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence

from podnet.analyze.matrix import compute_matrix
from podnet.control.endpoints import compute_endpoints
from podnet.errors import NotSupportedError
from podnet.live.cluster import LiveCluster
from podnet.live.probe.gate import Gate
from podnet.live.probe.plan import Planned, by_source, plan_probes
from podnet.live.probe.ready import READY_WAIT
from podnet.live.probe.result import ProbeReport, judge
from podnet.live.probe.transport import run_probes
from podnet.live.progress import ProgressBar
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests, Pod

Progress = Callable[[str], None]
Chooser = Callable[[ClusterState], Sequence[Pod]]


def probe_cluster(
    manifests: Manifests,
    *,
    nodes: int = 1,
    via: str = "pod",
    deny: str = "drop",
    timeout: float = 1.0,
    choose: Chooser | None = None,
    progress: Progress | None = None,
    ready_wait: float = READY_WAIT,
    transport: str = "thread",
) -> ProbeReport:
    """Run the cluster of ``manifests``, probe every pair of the chosen pods, tear down."""
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    cluster = LiveCluster(manifests, nodes=nodes, deny=deny)
    try:
        try:
            return _probe(cluster, t0, via, timeout, choose, say, ready_wait, transport)
        except OSError as e:  # anything the layers below did not classify
            raise NotSupportedError(f"podnet probe: {e}") from e
    finally:
        cluster.close()


def _probe(
    cluster: LiveCluster,
    t0: float,
    via: str,
    timeout: float,
    choose: Chooser | None,
    say: Progress,
    ready_wait: float,
    transport: str,
) -> ProbeReport:
    live = cluster.start()
    full = dataclasses.replace(live, endpoints=compute_endpoints(live.services, live.pods))
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
    cluster.start_pods(_to_start(cluster, pods, plan))
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


def _to_start(cluster: LiveCluster, pods: Sequence[Pod], plan: Sequence[Planned]) -> list[Pod]:
    """The probed pods and any other Service backend the plan uses, servers first.

    Other pods (the cluster DNS that podnet adds) are not started: no probe reaches
    them, and each container is an interpreter start. Their network exists all the same.
    """
    keys = {p.key for p in pods} | {k for x in plan for k, _ in x.backends}
    servers, clients = cluster.servers_and_clients()
    return [p for p in (*servers, *clients) if p.key in keys]
