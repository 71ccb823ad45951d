"""``podnet probe`` of a cluster with all three layers: the kernel agrees with the engine.

The data plane (dataplane/policy/tiers.py) and the engine (control/policy) read the
cluster admin's policies independently; a probe runs real connections through the
tiered tables and compares each with the engine's verdict. One manifest, written once
as v1alpha1 AdminNetworkPolicy/BaselineAdminNetworkPolicy and once as v1alpha2
ClusterNetworkPolicy: an Admin Deny (y/d -> x/a), an Admin Pass handing y's traffic to
a NetworkPolicy allow (y/* -> x/b, skipping a lower Admin deny-all), and a Baseline
deny under that NetworkPolicy allow (x/a is not selected by it: denied; x/b is).
The v1alpha2 run uses two nodes, so pairs also cross nodes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.sandbox import kernel_skip_reason

from podnet.cli.main import main

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"

pytestmark = pytest.mark.kernel


@pytest.fixture(autouse=True)
def _kernel() -> None:
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)


def _pod(name: str, ns: str) -> dict[str, Any]:
    cont = {
        "name": "c",
        "image": AGNHOST,
        "args": ["serve-hostname", "--tcp", "--http=false", "--port", "80"],
        "ports": [{"containerPort": 80, "name": "serve"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"pod": name}},
        "spec": {"containers": [cont]},
    }


def _ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _names(ns: str) -> dict[str, Any]:
    return {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}


def _pods(ns: str, pod: str) -> dict[str, Any]:
    return {
        "pods": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "podSelector": {"matchLabels": {"pod": pod}},
        }
    }


NP_B_FROM_Y = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "b-from-y", "namespace": "x"},
    "spec": {
        "podSelector": {"matchLabels": {"pod": "b"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "y"}}}]}],
    },
}
NS_Y = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "y", "labels": {"team": "y"}}}

# (name, tier, priority, subject, ingress rules as (action, peer))
LAYERS: list[tuple[str, str, int, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    ("deny-d-to-a", "Admin", 10, _pods("x", "a"), [("Deny", _pods("y", "d"))]),
    ("pass-y", "Admin", 20, _names("x"), [("Pass", _names("y"))]),
    ("deny-all-to-x", "Admin", 30, _names("x"), [("Deny", {"namespaces": {}})]),
    ("default", "Baseline", 0, _names("x"), [("Deny", {"namespaces": {}})]),
]


def _v1alpha1(name: str, tier: str, priority: int, subject: Any, rules: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "subject": subject,
        "ingress": [
            {"name": f"r{i}", "action": "Allow" if a == "Accept" else a, "from": [peer]}
            for i, (a, peer) in enumerate(rules)
        ],
    }
    if tier == "Admin":
        spec["priority"] = priority
    kind = "AdminNetworkPolicy" if tier == "Admin" else "BaselineAdminNetworkPolicy"
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def _v1alpha2(name: str, tier: str, priority: int, subject: Any, rules: Any) -> dict[str, Any]:
    spec = {
        "tier": tier,
        "priority": priority,
        "subject": subject,
        "ingress": [
            {"name": f"r{i}", "action": a, "from": [peer]} for i, (a, peer) in enumerate(rules)
        ],
    }
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


# what the three layers decide, written out (the probe checks engine == kernel;
# this checks both against the intent)
EXPECTED = {
    ("y/d", "x/a"): "denied",  # Admin Deny
    ("y/c", "x/a"): "denied",  # Pass, a not isolated, Baseline Deny
    ("x/b", "x/a"): "denied",  # Admin deny-all-to-x
    ("y/c", "x/b"): "allowed",  # Pass, NetworkPolicy allow
    ("y/d", "x/b"): "allowed",
    ("x/a", "x/b"): "denied",  # Admin deny-all-to-x
    ("x/a", "y/c"): "allowed",  # y is no subject
}


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_probe_agrees_on_admin_deny_pass_to_np_and_baseline_deny(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write = _v1alpha1 if version == "v1alpha1" else _v1alpha2
    if version == "v1alpha1":
        layers = [(n, t, p, s, r) for n, t, p, s, r in LAYERS]
    else:  # one ClusterNetworkPolicy of each tier keeps its own name
        layers = [(n if t == "Admin" else "baseline", t, p, s, r) for n, t, p, s, r in LAYERS]
    docs = [_ns("x"), NS_Y, *(_pod(n, "x") for n in "ab"), *(_pod(n, "y") for n in "cd")]
    docs += [NP_B_FROM_Y, *(write(*layer) for layer in layers)]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    nodes = "1" if version == "v1alpha1" else "2"  # v1alpha2 also across nodes
    code = main(["probe", "-f", str(path), "-o", "json", "--deny", "reject", "--nodes", nodes])
    data = json.loads(capsys.readouterr().out)
    by = {(c["from"], c["to"]): c for c in data["connections"]}
    wrong = {
        k: (by[k]["result"], by[k]["predicted"])
        for k, v in EXPECTED.items()
        if by[k]["result"] != v
    }
    assert not wrong
    assert data["summary"]["disagreements"] == 0 and code == 0
