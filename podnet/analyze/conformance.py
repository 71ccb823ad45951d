"""Run the upstream NetworkPolicy e2e truth tables (/work/shared/conformance/netpol-e2e).

A case fixes a cluster (namespaces x, y, z; pods a, b, c in each; one agnhost container
per port; one Service per pod) and a set of policies, and gives the expected result
of probing every ordered pair of distinct pods on some port. The model built here is
the one upstream's ``test/e2e/network/netpol`` builds (kubernetes/kubernetes,
``model.go`` / ``kubemanager.go``); the file format is described in that directory's
README.md.

:func:`case_documents` turns a case into manifest documents (used by the static check
here and by the live ``probe``); :func:`check_case` judges every probe through the
Service, as upstream does: client -> ClusterIP:port -> (DNAT) endpoint pod:targetPort,
with policy judged on the translated destination.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podnet.control.cluster import build_cluster
from podnet.control.policy import PolicyEngine
from podnet.errors import ClusterError, Location, ManifestError
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"
_CIDR_OF = re.compile(r"cidr_of\(([a-z0-9-]+)/([a-z0-9-]+)\)/(\d+)")


@dataclass(frozen=True)
class CasePort:
    port: int
    protocol: str
    name: str


@dataclass(frozen=True)
class CaseProbe:
    port: int
    protocol: str
    default: bool  # True = allow
    exceptions: frozenset[tuple[str, str]]  # (from, to) pairs with the opposite result

    def expected(self, src: str, dst: str) -> bool:
        return self.default != ((src, dst) in self.exceptions)


@dataclass(frozen=True)
class Case:
    path: str
    name: str
    namespaces: Mapping[str, Mapping[str, str]]  # name -> labels
    pods: Mapping[str, Mapping[str, str]]  # pod name -> labels (same in every namespace)
    overrides: Mapping[str, Mapping[str, str]]  # "ns/pod" -> full labels
    ports: tuple[CasePort, ...]
    policies: tuple[tuple[dict[str, Any], int], ...]  # (document, line)
    probes: tuple[CaseProbe, ...]

    def pod_keys(self) -> list[str]:
        return [f"{ns}/{p}" for ns in self.namespaces for p in self.pods]

    def pod_labels(self, ns: str, pod: str) -> dict[str, str]:
        return dict(self.overrides.get(f"{ns}/{pod}", self.pods[pod]))


def _fail(path: str, what: str) -> ManifestError:
    return ManifestError(f"malformed conformance case: {what}", location=Location(path, 1))


def load_case(path: str | Path) -> Case:
    """Parse a case file; a malformed one is a :class:`ManifestError`."""
    p = str(path)
    try:
        text = Path(path).read_text()
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise _fail(p, str(e)) from e
    if not isinstance(raw, dict) or not isinstance(raw.get("cluster"), dict):
        raise _fail(p, "expected a mapping with a 'cluster' mapping")
    lines: list[int] = []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == "policies" and isinstance(v, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in v.value]
    try:
        cl = raw["cluster"]
        ports = tuple(
            CasePort(
                int(x["port"]),
                str(x.get("protocol", "TCP")),
                str(x.get("name", f"serve-{x['port']}-{str(x.get('protocol', 'TCP')).lower()}")),
            )
            for x in cl["ports"]
        )
        probes = tuple(
            CaseProbe(
                int(pr["port"]),
                str(pr.get("protocol", "TCP")),
                {"allow": True, "deny": False}[pr["default"]],
                frozenset((str(a), str(b)) for a, b in (pr.get("except") or [])),
            )
            for pr in raw.get("probes") or []
        )
        policies = tuple(
            (dict(doc), lines[i] if i < len(lines) else 1)
            for i, doc in enumerate(raw.get("policies") or [])
        )
        return Case(
            path=p,
            name=str(raw.get("name", Path(p).stem)),
            namespaces={str(k): dict(v or {}) for k, v in cl["namespaces"].items()},
            pods={str(k): dict(v or {}) for k, v in cl["pods"].items()},
            overrides={str(k): dict(v) for k, v in (cl.get("pod_labels_override") or {}).items()},
            ports=ports,
            policies=policies,
            probes=probes,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise _fail(p, f"{type(e).__name__}: {e}") from e


def _container(port: CasePort) -> dict[str, Any]:
    """One agnhost container per port, as upstream's model.go builds them."""
    proto = port.protocol.lower()
    c: dict[str, Any] = {
        "name": f"cont-{port.port}-{proto}",
        "image": AGNHOST,
        "ports": [{"containerPort": port.port, "protocol": port.protocol, "name": port.name}],
    }
    if port.protocol == "SCTP":
        c["command"] = ["/agnhost", "porter"]
        c["env"] = [{"name": f"SERVE_SCTP_PORT_{port.port}", "value": "foo"}]
    else:
        c["command"] = [
            "/agnhost",
            "serve-hostname",
            f"--{proto}",
            "--http=false",
            "--port",
            str(port.port),
        ]
    return c


def cluster_documents(case: Case) -> list[dict[str, Any]]:
    """Namespaces, pods and Services of the case (no policies)."""
    docs: list[dict[str, Any]] = []
    for ns, labels in case.namespaces.items():
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": dict(labels)},
            }
        )
    for ns in case.namespaces:
        for pod in case.pods:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": case.pod_labels(ns, pod)},
                    "spec": {"containers": [_container(p) for p in case.ports]},
                }
            )
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"s-{ns}-{pod}", "namespace": ns},
                    "spec": {
                        "selector": {"pod": pod},
                        "ports": [
                            {
                                "name": f"service-port-{p.protocol.lower()}-{p.port}",
                                "port": p.port,
                                "targetPort": p.port,
                                "protocol": p.protocol,
                            }
                            for p in case.ports
                        ],
                    },
                }
            )
    return docs


def substitute(value: Any, pod_ips: Mapping[str, str]) -> Any:
    """Replace every ``cidr_of(ns/pod)/len`` with the network of that length around the IP."""
    if isinstance(value, dict):
        return {k: substitute(v, pod_ips) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, pod_ips) for v in value]
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            key = f"{m.group(1)}/{m.group(2)}"
            if key not in pod_ips:
                raise ClusterError(f"cidr_of({key}): no such pod or it has no IP")
            return str(ipaddress.ip_network(f"{pod_ips[key]}/{m.group(3)}", strict=False))

        return _CIDR_OF.sub(repl, value)
    return value


def case_documents(
    case: Case, pod_ips: Mapping[str, str] | None = None
) -> list[tuple[dict[str, Any], Location]]:
    """Every manifest document of ``case``, ready for ``podnet.manifests.from_documents``.

    With ``pod_ips`` (pod key -> IP) the ``cidr_of`` placeholders are substituted; without
    it policies that contain placeholders are left out (use it for the first pass that
    learns the IPs: policies never influence IP allocation).
    """
    loc = Location(case.path, 1)
    docs = [(d, loc) for d in cluster_documents(case)]
    for doc, line in case.policies:
        if pod_ips is not None:
            docs.append((substitute(doc, pod_ips), Location(case.path, line)))
        elif not _CIDR_OF.search(repr(doc)):
            docs.append((doc, Location(case.path, line)))
    return docs


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
    """Judge every probe pair through the destination's Service, as upstream probes."""
    engine = PolicyEngine(state.namespaces, state.pods, state.policies)
    out: list[Outcome] = []
    keys = case.pod_keys()
    for probe in case.probes:
        for src in keys:
            src_pod = state.pod(src)
            if src_pod is None:
                raise ClusterError(f"pod {src} missing from the built cluster")
            for dst in keys:
                if src == dst:
                    continue
                ns, name = dst.split("/")
                actual, reason = _via_service(
                    state, engine, src_pod, f"{ns}/s-{ns}-{name}", probe.port, probe.protocol
                )
                out.append(
                    Outcome(
                        src,
                        dst,
                        probe.port,
                        probe.protocol,
                        probe.expected(src, dst),
                        actual,
                        reason,
                    )
                )
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
