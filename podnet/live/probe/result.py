"""Observed against predicted: one :class:`Observation` per planned probe (pure).

The prediction is the connectivity matrix (:func:`~podnet.analyze.matrix.compute_matrix`),
i.e. the policy engine, judged on the pod the connection reaches and the port it
arrives on (through a Service that is the endpoint after DNAT, as kube-proxy and
NetworkPolicy implementations see it). The observation comes from the kernel, the
nftables tables compiled from the policy objects by an independent implementation
(:mod:`podnet.dataplane.policy.compile`), and real sockets.

Results: ``allowed`` / ``denied`` (the probe ran), ``unsupported`` (the kernel cannot
speak the protocol, e.g. SCTP without the module) and ``no service`` (``--via
service`` and no Service leads to that pod and port). Only the first two can disagree.

Through a Service with several endpoints the kernel picks one, so a probe agrees when
its result is the verdict of *any* backend (:attr:`Observation.possible`); a backend
that is the source itself is reached by hairpin, masqueraded to the node's address,
which a pod always admits (NetworkPolicy docs, "traffic to and from the node where a
Pod is running is always allowed").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podnet.analyze.matrix import Matrix
from podnet.errors import ClusterError
from podnet.live.probe.plan import Planned
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

ALLOWED, DENIED, UNSUPPORTED, NO_SERVICE = "allowed", "denied", "unsupported", "no service"
ERROR = "error"  # the probe itself failed (``--cluster``: the exec was refused or cut)
RESULTS = (ALLOWED, DENIED, UNSUPPORTED, NO_SERVICE, ERROR)


@dataclass(frozen=True)
class Observation:
    planned: Planned
    result: str  # one of RESULTS
    detail: str  # the prober's why: connected, reply, timeout, econnrefused, ...
    predicted: bool  # the engine's verdict for src -> dst:port
    possible: frozenset[bool]  # verdicts of every backend the connection may reach
    reason: str  # the engine's reason for ``predicted``

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED

    @property
    def disagrees(self) -> bool:
        if self.result == ERROR:  # nothing confirms the prediction
            return True
        if self.result not in (ALLOWED, DENIED):
            return False
        return self.allowed not in self.possible


@dataclass(frozen=True)
class ProbeReport:
    state: ClusterState  # as fully Ready (every endpoint present)
    pods: tuple[Pod, ...]  # the pods probed, sorted by key
    via: str
    observations: tuple[Observation, ...]
    not_ready: tuple[str, ...]  # "pod port/proto" still not bound when probing began
    timings: dict[str, float]  # seconds: up, probe (servers starting included), total
    notes: tuple[str, ...] = ()  # ``--cluster``: what changed in the cluster meanwhile


def judge(
    matrix: Matrix, planned: Sequence[Planned], observed: Sequence[tuple[str, str] | None]
) -> list[Observation]:
    """Pair each planned probe with its prober result (``None``: not run: no service)."""
    if len(planned) != len(observed):
        raise ClusterError("probe results do not match the plan")
    pods = {p.key: p for p in matrix.pods}
    out: list[Observation] = []
    for plan, obs in zip(planned, observed, strict=True):
        src, dst = pods.get(plan.src), pods.get(plan.dst)
        if src is None or dst is None:
            raise ClusterError(f"{plan.src} -> {plan.dst}: pod not in the matrix")
        verdict = matrix.verdict(src, dst, plan.port, plan.protocol)
        possible = {verdict.allowed}
        for key, port in plan.backends[1:]:
            backend = pods.get(key)
            if key == plan.src or backend is None:
                # hairpin (node-masqueraded); or a pod outside the matrix, which
                # cannot be an endpoint (endpoints have IPs, the matrix all such pods)
                possible.add(True)
            else:
                possible.add(matrix.is_allowed(src, backend, port, plan.protocol))
        if obs is None:
            result, detail = NO_SERVICE, "no Service selects this pod on this port"
        else:
            result, detail = obs
        out.append(
            Observation(plan, result, detail, verdict.allowed, frozenset(possible), verdict.reason)
        )
    return out


def disagreements(observations: Sequence[Observation]) -> list[Observation]:
    return [o for o in observations if o.disagrees]


def counts(observations: Sequence[Observation]) -> dict[str, int]:
    out = dict.fromkeys(RESULTS, 0)
    for o in observations:
        out[o.result] = out.get(o.result, 0) + 1
    return out
