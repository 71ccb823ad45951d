"""Check the upstream NetworkPolicy e2e truth tables against podnet's policy engine.

Each case (:mod:`podnet.analyze.conformance_case`) is built into a cluster with the real
manifest loader and control plane - first without the policies that need pod IPs, to
learn the (deterministic) IPs, then with ``cidr_of(...)`` substituted - and every probe
is judged through the destination's Service, as upstream probes: client ->
ClusterIP:port -> (DNAT) endpoint pod:targetPort, with policy judged on the translated
destination.

``python -m podnet.analyze.conformance PATH...`` checks case files or directories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from podnet.analyze.conformance_case import (
    AGNHOST,
    Case,
    CasePort,
    CaseProbe,
    Expectation,
    case_documents,
    cluster_documents,
    load_case,
    substitute,
)
from podnet.control.cluster import build_cluster
from podnet.control.policy.engine import PolicyEngine
from podnet.errors import ClusterError, ManifestError
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

__all__ = [
    "AGNHOST",
    "Case",
    "CasePort",
    "CaseProbe",
    "Expectation",
    "Outcome",
    "build_case_cluster",
    "case_documents",
    "check_case",
    "cluster_documents",
    "load_case",
    "main",
    "probe_outcomes",
    "substitute",
    "summarize",
]


def build_case_cluster(case: Case, nodes: int = 1) -> ClusterState:
    """Load and build the case's cluster: learn pod IPs, substitute, build again."""
    first = build_cluster(from_documents(case_documents(case)), nodes)
    ips = {p.key: p.ip for p in first.pods if p.ip is not None}
    state = build_cluster(from_documents(case_documents(case, ips)), nodes)
    if {p.key: p.ip for p in state.pods if p.ip is not None} != ips:
        raise ClusterError("pod IPs changed between the two passes")
    return state


@dataclass(frozen=True)
class Outcome:
    src: str
    dst: str
    port: int
    protocol: str
    expected: bool
    actual: bool
    reason: str


def probe_outcomes(case: Case, state: ClusterState) -> list[Outcome]:
    """Judge every expected connection as upstream probes it: through the destination's
    Service (``via: service``) or to its pod IP (``via: pod``)."""
    engine = PolicyEngine.of_state(state)
    out: list[Outcome] = []
    for e in case.expectations():
        src_pod, dst_pod = state.pod(e.src), state.pod(e.dst)
        if src_pod is None or dst_pod is None:
            raise ClusterError(f"pod {e.src} or {e.dst} missing from the built cluster")
        if case.via == "pod":
            v = engine.verdict(src_pod, dst_pod, e.port, e.protocol)
            actual, reason = v.allowed, v.reason
        else:
            ns, name = e.dst.split("/")
            actual, reason = _via_service(
                state, engine, src_pod, f"{ns}/s-{ns}-{name}", e.port, e.protocol
            )
        out.append(Outcome(e.src, e.dst, e.port, e.protocol, e.allowed, actual, reason))
    return out


def _via_service(
    state: ClusterState, engine: PolicyEngine, src: Pod, svc_key: str, port: int, protocol: str
) -> tuple[bool, str]:
    svc = state.service(svc_key)
    if svc is None or not svc.cluster_ip:
        return False, f"no Service {svc_key}"
    sp = next((p for p in svc.ports if p.port == port and p.protocol == protocol), None)
    if sp is None:
        return False, f"Service {svc_key} has no port {port}/{protocol}"
    endpoints = state.endpoints.get(svc_key, {}).get(sp.name, ())
    if not endpoints:
        return False, f"Service {svc_key} port {sp.name or port} has no endpoints"
    results = []
    for ep in endpoints:
        pod = state.pod(ep.pod)
        v = engine.verdict(src, pod if pod is not None else ep.ip, ep.port, ep.protocol)
        results.append((v.allowed, v.reason))
    # One endpoint per Service here; with several, a probe succeeds only if all do.
    return all(ok for ok, _ in results), "; ".join(r for _, r in results)


def check_case(case: Case, nodes: int = 1) -> list[Outcome]:
    """The outcomes that disagree with the case (empty = the case passes)."""
    state = build_case_cluster(case, nodes)
    return [o for o in probe_outcomes(case, state) if o.actual != o.expected]


def summarize(failures: Sequence[Outcome]) -> str:
    return "\n".join(
        f"{o.src} -> {o.dst} {o.port}/{o.protocol}: expected "
        f"{'allow' if o.expected else 'deny'}, got {'allow' if o.actual else 'deny'} ({o.reason})"
        for o in failures
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m podnet.analyze.conformance PATH...``: check case files or directories.

    Prints one line per case (PASS/FAIL with the disagreeing pairs); exit 1 if any fails.
    """
    import sys

    paths = list(argv if argv is not None else sys.argv[1:])
    files = sorted(
        f for p in map(Path, paths) for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    )
    failed = 0
    for f in files:
        try:
            failures = check_case(load_case(f))
        except (ManifestError, ClusterError) as e:
            print(f"ERROR {f}: {e}")
            failed += 1
            continue
        print(f"{'PASS' if not failures else 'FAIL'} {f}")
        if failures:
            failed += 1
            print(summarize(failures))
    print(f"{len(files) - failed}/{len(files)} cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
