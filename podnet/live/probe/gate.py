"""Per destination: may it be probed yet? (servers bound, Service backends Ready).

A probe fired at a destination before its server binds, or through a Service before
its backend is an endpoint with nft elements applied, fails for no policy reason. The
gate answers, per destination pod, what is still missing; the transports start a
destination's probes as soon as nothing is (so early servers are probed while later
ones still start), or when the overall deadline passes.

Readiness comes from the kernel and the live cluster: bound ports in the pod's
``/proc/<pid>/net/*`` (:mod:`podnet.live.probe.ready`) and the live endpoints
(:attr:`LiveCluster.state`, Ready pods only, as the EndpointSlice controller lists).
That state is published only once its sync has applied it (:mod:`podnet.live.sync`),
so a backend seen among its endpoints has its nft elements in place on every node.
"""

from __future__ import annotations

from collections.abc import Sequence

from podnet.live.cluster import LiveCluster
from podnet.live.probe.plan import Planned
from podnet.live.probe.ready import missing_ports


class Gate:
    def __init__(self, cluster: LiveCluster, plan: Sequence[Planned]) -> None:
        assert cluster.sandbox is not None
        self._cluster = cluster
        self._ports: dict[str, set[tuple[int, str]]] = {}
        self._backends: dict[str, set[tuple[str, str]]] = {}  # dst -> (service, pod)
        for x in plan:
            if x.address is None:
                continue
            self._ports.setdefault(x.dst, set()).add((x.port, x.protocol))
            for pod, port in x.backends:
                self._ports.setdefault(pod, set()).add((port, x.protocol))
                if x.service is not None:
                    self._backends.setdefault(x.dst, set()).add((x.service, pod))
        self._pid = {k: cluster.sandbox.pod_pid(k) for k in self._ports}
        self._done: set[str] = set()
        self._bound: set[str] = set()  # pods whose ports were all seen bound

    def destinations(self) -> list[str]:
        return sorted({*self._ports} & {*self._pid})

    def missing(self, dst: str) -> list[str]:
        """What ``dst``'s probes still wait for ([] = go): "pod port/proto", "Service ..."."""
        if dst in self._done:
            return []
        pods = {dst} | {pod for _, pod in self._backends.get(dst, ())}
        want = {p: self._ports.get(p, set()) for p in pods if p not in self._bound}
        gone = missing_ports(want, self._pid)
        # a server, once bound, is taken as staying so (it is probed right away)
        self._bound.update(p for p in want if p not in gone)
        out = [
            f"{k} {port}/{proto}" for k, ps in sorted(gone.items()) for port, proto in sorted(ps)
        ]
        lacking = self._lacking(self._backends.get(dst, set()))
        out += [f"Service {svc} endpoint {pod}" for svc, pod in sorted(lacking)]
        if not out:
            self._done.add(dst)
        return out

    def _lacking(self, needed: set[tuple[str, str]]) -> set[tuple[str, str]]:
        if not needed:
            return set()
        state = self._cluster.state
        assert state is not None
        have = {
            (svc, ep.pod)
            for svc, by_port in state.endpoints.items()
            for eps in by_port.values()
            for ep in eps
        }
        return needed - have
