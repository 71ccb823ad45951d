"""Lint rules over the seed and shop examples, and small hand-made clusters."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.paths import REPO

from podnet.analyze.lint.finding import RULES, Finding, has_errors
from podnet.analyze.lint.render import WIDTH, format_text, to_json
from podnet.analyze.lint.run import lint
from podnet.manifests import load_paths

ROOT = REPO
SEED = [
    str(ROOT / "examples/seed/pod-to-service.yaml"),
    str(ROOT / "examples/seed/pitfall-pod-ip.yaml"),
]
SHOP = ROOT / "examples/shop"


def run(*paths: Path | str) -> tuple[Finding, ...]:
    return lint(load_paths([str(p) for p in paths]))


def by_rule(findings: tuple[Finding, ...], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_seed_pitfall_pod_is_flagged_pod_ip_literal() -> None:
    findings = run(*SEED)
    [f] = by_rule(findings, "pod-ip-literal")
    assert f.object == "Pod/default/pod-client"
    assert f.field == "spec.containers[0].command"
    assert f.severity == "warning"
    assert "10.244.1.5" in f.message
    assert not has_errors(findings)
    assert not any(f.object == "Pod/default/pod-a" for f in findings)


@pytest.fixture(scope="module")
def broken() -> tuple[Finding, ...]:
    return run(SHOP / "base", SHOP / "broken")


def test_shop_broken_fires_every_rule(broken: tuple[Finding, ...]) -> None:
    # The shop has no cluster policies; test_lint_cluster fires the cluster rules.
    cluster = {r for r in RULES if r.startswith(("cluster-", "baseline-"))}
    assert {f.rule for f in broken} == set(RULES) - cluster
    assert has_errors(broken)


@pytest.mark.parametrize(
    ("rule", "severity", "obj", "field", "fix_part"),
    [
        ("unknown-service-name", "error", "Pod/shop/loadgen", "spec.containers[0].command",
         "'frontend'"),
        ("service-port-unreachable", "error", "Pod/shop/loadgen", "spec.containers[0].command",
         "80/TCP"),
        ("policy-blocks-service-use", "error", "Deployment/shop/api",
         "spec.template.spec.containers[0].env[1].value", "app=api"),
        ("dns-egress-blocked", "error", "Deployment/shop/api", "spec.template.metadata.labels",
         "k8s-app: kube-dns"),
        ("pod-ip-literal", "warning", "Pod/shop/debug", "spec.containers[0].command",
         "http://frontend"),
        ("service-selects-nothing", "warning", "Service/shop/legacy", "spec.selector", "selector"),
        ("policy-selects-nothing", "warning", "NetworkPolicy/shop/checkout-deny",
         "spec.podSelector", "podSelector"),
        ("pod-not-isolated", "info", "Pod/shop/loadgen", "metadata.labels", "default-deny"),
    ],
)  # fmt: skip
def test_shop_broken_findings(
    broken: tuple[Finding, ...], rule: str, severity: str, obj: str, field: str, fix_part: str
) -> None:
    hits = [f for f in by_rule(broken, rule) if f.object == obj and f.field == field]
    assert len(hits) == 1, by_rule(broken, rule)
    assert hits[0].severity == severity
    assert fix_part in hits[0].fix


def test_target_port_named_is_error_numeric_is_warning(broken: tuple[Finding, ...]) -> None:
    got = {(f.object, f.severity) for f in by_rule(broken, "target-port-unmatched")}
    assert got == {("Service/shop/admin", "error"), ("Service/shop/metrics", "warning")}


def test_one_finding_per_workload_not_per_replica(broken: tuple[Finding, ...]) -> None:
    assert len(by_rule(broken, "dns-egress-blocked")) == 1


def test_shop_fixed_has_only_info() -> None:
    findings = run(SHOP / "base", SHOP / "fixed")
    assert {f.severity for f in findings} == {"info"}
    assert {f.rule for f in findings} == {"pod-not-isolated"}


def test_text_fits_80_columns_and_json_shape(broken: tuple[Finding, ...]) -> None:
    text = format_text(broken)
    assert all(len(line) <= WIDTH for line in text.splitlines())
    assert text.splitlines()[-1] == "5 errors, 4 warnings, 2 info"
    data = to_json(broken)
    assert set(data["findings"][0]) == {
        "rule", "severity", "object", "field", "message", "fix", "location"
    }  # fmt: skip
    assert data["findings"][0]["severity"] == "error"


DOCS = """
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app}
spec:
  containers:
    - name: c
      image: busybox
      command: [sh, -c, "wget http://web; wget http://api.example.com; nc -z web.other 80;
                         wget http://db.other.svc.cluster.local:5432"]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: other, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: other}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
"""


def test_wrong_namespace_suggests_the_qualified_name(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(DOCS)
    findings = run(tmp_path / "m.yaml")
    unknown = by_rule(findings, "unknown-service-name")
    names = sorted(f.message.split("'")[1] for f in unknown)
    # web (wrong namespace) and db.other.svc.cluster.local are flagged; the external
    # api.example.com is not; web.other resolves.
    assert names == ["db.other.svc.cluster.local", "web"]
    web = next(f for f in unknown if "'web'" in f.message)
    assert "web.other" in web.fix


HEADLESS = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: n, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: c}
spec:
  containers:
    - {name: c, image: busybox, command: [sh, -c, "wget http://web-0.web; wget http://web"]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"""


def test_headless_names_resolve_to_pods_and_are_policy_checked(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(HEADLESS)
    findings = run(tmp_path / "m.yaml")
    assert not by_rule(findings, "unknown-service-name")
    blocked = by_rule(findings, "policy-blocks-service-use")
    assert sorted(f.message.split(" uses ")[1].split(" ")[0] for f in blocked) == [
        "web",
        "web-0.web",
    ]
