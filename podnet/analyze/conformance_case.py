"""NetworkPolicy e2e truth-table cases: parsing, and the manifests they describe.

The case format is documented in ../shared/conformance/netpol-e2e/README.md. The
cluster is the one upstream's ``test/e2e/network/netpol`` builds (kubernetes/kubernetes
``model.go`` / ``kubemanager.go``): namespaces x, y, z; pods a, b, c in each, labelled
``pod: <name>``; one agnhost container per port; one Service ``s-<ns>-<pod>`` per pod.
:func:`case_documents` turns a case into manifest documents for
``podnet.manifests.from_documents``; the static check (:mod:`podnet.analyze.conformance`)
and the live ``probe`` both start from it.
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
