"""Policy truth-table cases: parsing, and the manifests they describe.

The case format is documented in ../shared/conformance/netpol-e2e/README.md. The
cluster is the one upstream's ``test/e2e/network/netpol`` builds (kubernetes/kubernetes
``model.go`` / ``kubemanager.go``): namespaces x, y, z; pods a, b, c in each, labelled
``pod: <name>``; one agnhost container per port; one Service ``s-<ns>-<pod>`` per pod.
:func:`case_documents` turns a case into manifest documents for
``podnet.manifests.from_documents``; the static check (:mod:`podnet.analyze.conformance`)
and the live ``probe`` both start from it.

Extensions for the network-policy-api conformance (tests/conformance/network-policy-api/
README.md): ``cluster_from`` (a base cluster file), ``cluster.pods_in`` (pods per
namespace), unnamed ports (``name: ""``), ``via: pod`` (probe pod IPs, no Services), and
``checks`` (explicit pairs instead of 72-pair ``probes``). ``policies`` may hold any kind
the loader reads, AdminNetworkPolicy and friends included.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podnet.errors import ClusterError, Location, ManifestError

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
class Expectation:
    """One probed connection and whether it must succeed."""

    src: str  # pod key
    dst: str
    port: int
    protocol: str
    allowed: bool


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
    # pods per namespace (ns -> pod -> labels); when set, ``pods`` is unused
    pods_in: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None
    via: str = "service"  # how upstream connects: "service" (ClusterIP) or "pod" (pod IP)
    checks: tuple[Expectation, ...] = ()  # explicit pairs, besides ``probes``

    def pod_keys(self) -> list[str]:
        if self.pods_in is not None:
            return [f"{ns}/{p}" for ns, pods in self.pods_in.items() for p in pods]
        return [f"{ns}/{p}" for ns in self.namespaces for p in self.pods]

    def pod_labels(self, ns: str, pod: str) -> dict[str, str]:
        if self.pods_in is not None:
            return dict(self.overrides.get(f"{ns}/{pod}", self.pods_in[ns][pod]))
        return dict(self.overrides.get(f"{ns}/{pod}", self.pods[pod]))

    def expectations(self) -> list[Expectation]:
        """Every connection the case judges: each probe over all ordered pairs of
        distinct pods, then the explicit ``checks``."""
        keys = self.pod_keys()
        out = [
            Expectation(src, dst, pr.port, pr.protocol, pr.expected(src, dst))
            for pr in self.probes
            for src in keys
            for dst in keys
            if src != dst
        ]
        return out + list(self.checks)


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
    if isinstance(raw, dict) and "cluster_from" in raw:
        raw = {**raw, "cluster": _base_cluster(p, raw)}
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
        checks = tuple(
            Expectation(
                str(c["from"]),
                str(c["to"]),
                int(c["port"]),
                str(c.get("protocol", "TCP")),
                {"allow": True, "deny": False}[c["expect"]],
            )
            for c in raw.get("checks") or []
        )
        pods_in = cl.get("pods_in")
        via = str(raw.get("via", "service"))
        if via not in ("service", "pod"):
            raise ValueError(f"via must be service or pod, not {via!r}")
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
            pods={str(k): dict(v or {}) for k, v in (cl.get("pods") or {}).items()}
            if pods_in is not None
            else {str(k): dict(v or {}) for k, v in cl["pods"].items()},
            overrides={str(k): dict(v) for k, v in (cl.get("pod_labels_override") or {}).items()},
            ports=ports,
            policies=policies,
            probes=probes,
            pods_in=None
            if pods_in is None
            else {
                str(ns): {str(k): dict(v or {}) for k, v in (pods or {}).items()}
                for ns, pods in pods_in.items()
            },
            via=via,
            checks=checks,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise _fail(p, f"{type(e).__name__}: {e}") from e


def _base_cluster(path: str, raw: dict[str, Any]) -> dict[str, Any]:
    """``cluster_from`` (relative to the case) gives the cluster; the case's own
    ``cluster`` keys replace the base's (a case that relabels a namespace, say)."""
    base_path = Path(path).parent / str(raw["cluster_from"])
    try:
        base = yaml.safe_load(base_path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise _fail(path, f"cluster_from: {e}") from e
    if not isinstance(base, dict) or not isinstance(base.get("cluster"), dict):
        raise _fail(path, f"cluster_from: {base_path} has no 'cluster' mapping")
    own = raw.get("cluster") or {}
    if not isinstance(own, dict):
        raise _fail(path, "'cluster' must be a mapping")
    return {**base["cluster"], **own}


def _container(port: CasePort) -> dict[str, Any]:
    """One agnhost container per port, as upstream's model.go builds them."""
    proto = port.protocol.lower()
    declared: dict[str, Any] = {"containerPort": port.port, "protocol": port.protocol}
    if port.name:  # name "" = an unnamed containerPort (so no named port resolves to it)
        declared["name"] = port.name
    c: dict[str, Any] = {
        "name": f"cont-{port.port}-{proto}",
        "image": AGNHOST,
        "ports": [declared],
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
    """Namespaces, pods and (with ``via: service``) Services of the case (no policies)."""
    docs: list[dict[str, Any]] = []
    for ns, labels in case.namespaces.items():
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": dict(labels)},
            }
        )
    if case.via == "pod":
        for key in case.pod_keys():
            ns, pod = key.split("/")
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": case.pod_labels(ns, pod)},
                    "spec": {"containers": [_container(p) for p in case.ports]},
                }
            )
        return docs
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
