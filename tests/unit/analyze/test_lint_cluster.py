"""Lint rules about the cluster admin's policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy), and the older rules judging reachability through the tiers."""

from __future__ import annotations

from pathlib import Path

from podnet.analyze.lint.finding import Finding
from podnet.analyze.lint.run import lint
from podnet.manifests import load_paths

APP = """\
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: a}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app, labels: {app: db}}
spec:
  containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox, command: [sh, -c, "wget http://db; sleep 1d"]}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: app}
spec:
  selector: {app: db}
  ports: [{port: 80}]
"""


def run(tmp_path: Path, policies: str) -> tuple[Finding, ...]:
    (tmp_path / "m.yaml").write_text(APP + "---\n" + policies)
    return lint(load_paths([str(tmp_path / "m.yaml")]))


def of(findings: tuple[Finding, ...], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_rule_that_can_never_match_warns_and_a_dead_peer_is_info(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: dead}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - {name: nowhere, action: Deny, from: [{namespaces: {matchLabels: {team: zz}}}]}
    - name: half
      action: Accept
      from: [{namespaces: {matchLabels: {team: zz}}}, {namespaces: {matchLabels: {team: a}}}]
  egress:
    - {name: no-node, action: Deny, to: [{nodes: {matchLabels: {role: gpu}}}]}
""",
    )
    got = {(f.field, f.severity) for f in of(found, "cluster-rule-never-matches")}
    assert got == {
        ("spec.ingress[0]", "warning"),
        ("spec.ingress[1].from[0]", "info"),
        ("spec.egress[0]", "warning"),
    }
    [nowhere] = [f for f in found if f.field == "spec.ingress[0]"]
    assert nowhere.object == "ClusterNetworkPolicy/dead"
    assert "no namespace has labels team=zz" in nowhere.message
    assert nowhere.location == f"{tmp_path / 'm.yaml'}:{APP.count(chr(10)) + 10}"


def test_subject_selecting_no_pod(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ghosts}
spec:
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: ghost}}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
""",
    )
    [f] = of(found, "cluster-rule-never-matches")
    assert (f.field, f.severity) == ("spec.subject", "warning")


def test_pass_with_nothing_below_is_an_allow(tmp_path: Path) -> None:
    anp = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-web}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress: [{name: hand-on, action: Pass, from: [{namespaces: {}}]}]
"""
    [f] = of(run(tmp_path, anp), "cluster-pass-to-nothing")
    assert (f.object, f.field, f.severity) == (
        "AdminNetworkPolicy/pass-web",
        "spec.ingress[0]",
        "info",
    )
    assert "Deployment/app/web" in f.message and "the Pass allows" in f.message
    isolated = (
        anp
        + """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: app}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}]}]
"""
    )
    assert not of(run(tmp_path, isolated), "cluster-pass-to-nothing")


BANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{name: default-deny, action: Deny, from: [{namespaces: {}}]}]
"""


def test_baseline_deny_that_a_network_policy_overrides(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        BANP
        + """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-open, namespace: app}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}]}]
""",
    )
    [f] = of(found, "baseline-deny-overridden")
    assert (f.object, f.field, f.severity) == (
        "BaselineAdminNetworkPolicy/default",
        "spec.ingress[0]",
        "warning",
    )
    assert "Deployment/app/web" in f.message and "app/web-open ingress rule #0" in f.message


def test_baseline_deny_alone_is_not_overridden_and_blocks_the_service(tmp_path: Path) -> None:
    found = run(tmp_path, BANP)
    assert not of(found, "baseline-deny-overridden")
    [f] = of(found, "policy-blocks-service-use")
    assert f.object == "Pod/app/client" and f.severity == "error"
    assert "BaselineAdminNetworkPolicy/default ingress rule #0" in f.message
    assert "NetworkPolicy" in f.fix


def test_pod_not_isolated_names_the_cluster_policies_that_judge_it(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        BANP
        + """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-open, namespace: app}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}]}]
""",
    )
    db = next(f for f in of(found, "pod-not-isolated") if f.object == "Pod/app/db")
    assert "only the cluster admin's policies (BaselineAdminNetworkPolicy/default)" in db.message


CONFLICT = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a-allow}
spec:
  priority: 20
  subject: {namespaces: {matchLabels: {team: a}}}
  egress:
    - action: Allow
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}]
      ports: [{portRange: {protocol: TCP, start: 70, end: 80}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: b-deny}
spec:
  priority: 20
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}
  egress:
    - action: Deny
      to: [{namespaces: {matchLabels: {team: a}}}]
      ports: [{portNumber: {protocol: TCP, port: 80}}]
"""


def test_equal_priorities_with_different_actions(tmp_path: Path) -> None:
    [f] = of(run(tmp_path, CONFLICT), "cluster-priority-conflict")
    assert (f.object, f.field, f.severity) == (
        "AdminNetworkPolicy/b-deny",
        "spec.egress[0]",
        "warning",
    )
    assert "implementation-defined upstream" in f.message
    assert "Pod/app/db" in f.message and "Pod/app/client" in f.message
    # Other ports, or another priority: no conflict.
    assert not of(
        run(tmp_path, CONFLICT.replace("port: 80", "port: 81")), "cluster-priority-conflict"
    )
    other = CONFLICT.replace("priority: 20\n  subject: {pods", "priority: 21\n  subject: {pods")
    assert not of(run(tmp_path, other), "cluster-priority-conflict")


DNS_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-egress}
spec:
  tier: Baseline
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}
  egress: [{name: deny-all, action: Deny, to: [{networks: [0.0.0.0/0]}]}]
"""


def test_cluster_deny_that_blocks_dns(tmp_path: Path) -> None:
    found = run(tmp_path, DNS_DENY)
    [f] = of(found, "cluster-deny-blocks-dns")
    assert (f.object, f.field, f.severity) == (
        "ClusterNetworkPolicy/no-egress",
        "spec.egress[0]",
        "error",
    )
    assert "Pod/app/client" in f.message and "UDP 53 and TCP 53" in f.message
    assert not of(found, "dns-egress-blocked")  # the tier decided: reported once, on the policy


def test_something_above_that_allows_dns_silences_it(tmp_path: Path) -> None:
    allow_dns = """\
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: dns}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
    - action: Accept
      to: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
      protocols: [{udp: {destinationPort: {number: 53}}}, {tcp: {destinationPort: {number: 53}}}]
"""
    assert not of(run(tmp_path, DNS_DENY + allow_dns), "cluster-deny-blocks-dns")
    udp_only = allow_dns.replace(", {tcp: {destinationPort: {number: 53}}}", "")
    [f] = of(run(tmp_path, DNS_DENY + udp_only), "cluster-deny-blocks-dns")
    assert f.severity == "warning" and "TCP 53" in f.message and "UDP 53" not in f.message


def test_network_policy_dns_rule_still_fires_after_an_admin_pass(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass}
spec:
  priority: 3
  subject: {namespaces: {}}
  egress: [{action: Pass, to: [{namespaces: {}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lock, namespace: app}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
""",
    )
    [f] = of(found, "dns-egress-blocked")
    assert f.object == "Pod/app/client" and "app/lock" in f.message
    assert not of(found, "cluster-deny-blocks-dns")
