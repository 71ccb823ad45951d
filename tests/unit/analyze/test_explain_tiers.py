"""``explain`` with the cluster admin's policies: the tier and rule that decided, Pass
chains, the implementation-defined note; and a pod reaching itself through its own
Service (always allowed: "a pod cannot block access to itself", NetworkPolicy docs).

Each story is written as AdminNetworkPolicy/BaselineAdminNetworkPolicy (v1alpha1) and
again as ClusterNetworkPolicy (v1alpha2): the verdicts must agree.
"""

from __future__ import annotations

import pytest

from podnet.analyze.explain.connection import Tracer
from podnet.analyze.explain.render import WIDTH, format_text, to_dict
from podnet.analyze.matrix import compute_matrix
from podnet.analyze.matrix_format import format_table
from podnet.control.cluster import build_cluster
from podnet.manifests import from_documents, parse_text

APPS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {tenant: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers:
    - name: c
      image: nginx
      ports: [{containerPort: 80, name: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: shop, labels: {app: other}}
spec:
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"""

NP_ALLOW_CLIENT = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: client}}}]
"""

ANP_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: lock-web}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress:
    - name: deny-http
      action: Deny
      from: [{namespaces: {}}]
      ports: [{namedPort: http}]
"""

CNP_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: lock-web}
spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress:
    - name: deny-http
      action: Deny
      from: [{namespaces: {}}]
      protocols: [{destinationNamedPort: http}]
"""

ANP_PASS = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: tenants}
spec:
  priority: 20
  subject: {namespaces: {matchLabels: {tenant: a}}}
  ingress:
    - name: pass-to-np
      action: Pass
      from: [{namespaces: {matchLabels: {tenant: a}}}]
    - name: deny-rest
      action: Deny
      from: [{namespaces: {}}]
"""

CNP_PASS = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: tenants}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {matchLabels: {tenant: a}}}
  ingress:
    - name: pass-to-np
      action: Pass
      from: [{namespaces: {matchLabels: {tenant: a}}}]
    - name: deny-rest
      action: Deny
      from: [{namespaces: {}}]
"""

BANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
    - name: default-deny
      action: Deny
      from: [{namespaces: {}}]
"""

CNP_BASELINE = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress:
    - name: default-deny
      action: Deny
      from: [{namespaces: {}}]
"""


def tracer(*docs: str) -> Tracer:
    text = "\n---\n".join((APPS, *docs))
    return Tracer(build_cluster(from_documents(parse_text(text, "story.yaml"))))


def policy_lines(t: Tracer, src: str, dst: str) -> str:
    """The ENDPOINT step onwards, without the addresses (they are the IPAM's)."""
    text = format_text(t.explain(src, dst, "shop"))
    assert all(len(line) <= WIDTH for line in text.splitlines())
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ENDPOINT"))
    return "\n".join(lines[start + 1 :])


ANP_DENY_TEXT = """\
         egress from shop/client: no NetworkPolicy with policyType Egress
           selects it, so it is not isolated - allowed
         ingress to shop/web: Admin tier: AdminNetworkPolicy/lock-web ingress
           rule #0 (deny-http) [Admin, Deny] matches shop/client on 80/TCP -
           denied
         => denied

RESULT   not reachable: AdminNetworkPolicy/lock-web denies every destination"""

PASS_TEXT = """\
         egress from shop/client: no NetworkPolicy with policyType Egress
           selects it, so it is not isolated - allowed
         ingress to shop/web: AdminNetworkPolicy/tenants ingress rule #0
           (pass-to-np) [Admin, Pass] passed; isolated by [shop/allow-client];
           shop/client on 80/TCP allowed by shop/allow-client ingress rule #0
         => allowed

RESULT   reachable: the 1 destination allowed"""

PASS_DENIED_TEXT = """\
         egress from shop/other: no NetworkPolicy with policyType Egress selects
           it, so it is not isolated - allowed
         ingress to shop/web: AdminNetworkPolicy/tenants ingress rule #0
           (pass-to-np) [Admin, Pass] passed; isolated by [shop/allow-client];
           no rule allows shop/other on 80/TCP - denied
         => denied

RESULT   not reachable: NetworkPolicy denies every destination"""

BANP_ALLOWED_TEXT = """\
         egress from shop/client: no NetworkPolicy with policyType Egress
           selects it, so it is not isolated - allowed
         ingress to shop/web: isolated by [shop/allow-client]; shop/client on
           80/TCP allowed by shop/allow-client ingress rule #0
         => allowed

RESULT   reachable: the 1 destination allowed"""

BANP_DENIED_TEXT = """\
         egress from shop/client: no NetworkPolicy with policyType Egress
           selects it, so it is not isolated - allowed
         ingress to shop/other: Baseline tier:
           BaselineAdminNetworkPolicy/default ingress rule #0 (default-deny)
           [Baseline, Deny] matches shop/client on 8080/TCP - denied
         => denied

RESULT   not reachable: BaselineAdminNetworkPolicy/default denies every
           destination"""

CNP_BASELINE_DENIED_TEXT = """\
         egress from shop/client: no NetworkPolicy with policyType Egress
           selects it, so it is not isolated - allowed
         ingress to shop/other: Baseline tier: ClusterNetworkPolicy/default
           ingress rule #0 (default-deny) [Baseline, Deny] matches shop/client
           on 8080/TCP - denied
         => denied

RESULT   not reachable: ClusterNetworkPolicy/default denies every destination"""


def _cnp(text: str) -> str:
    return text.replace("AdminNetworkPolicy/", "ClusterNetworkPolicy/")


@pytest.mark.parametrize("v2", [False, True], ids=["v1alpha1", "v1alpha2"])
def test_admin_deny(v2: bool) -> None:
    t = tracer(CNP_DENY if v2 else ANP_DENY)
    want = _cnp(ANP_DENY_TEXT) if v2 else ANP_DENY_TEXT
    assert policy_lines(t, "client", "web") == want
    data = to_dict(t.explain("client", "web", "shop"))
    ing = data["endpoints"][0]["ingress"]
    assert ing["tier"] == "Admin"
    assert ing["decided_by"] == {
        "policy": ("ClusterNetworkPolicy" if v2 else "AdminNetworkPolicy") + "/lock-web",
        "tier": "Admin",
        "priority": 10,
        "rule": 0,
        "name": "deny-http",
        "action": "Deny",
    }


@pytest.mark.parametrize("v2", [False, True], ids=["v1alpha1", "v1alpha2"])
def test_pass_to_network_policy(v2: bool) -> None:
    t = tracer(CNP_PASS if v2 else ANP_PASS, NP_ALLOW_CLIENT)
    fix = _cnp if v2 else str
    assert policy_lines(t, "client", "web") == fix(PASS_TEXT)
    assert policy_lines(t, "other", "web") == fix(PASS_DENIED_TEXT)
    ing = to_dict(t.explain("client", "web", "shop"))["endpoints"][0]["ingress"]
    assert ing["tier"] == "NetworkPolicy" and ing["passed"][0]["name"] == "pass-to-np"


@pytest.mark.parametrize("v2", [False, True], ids=["v1alpha1", "v1alpha2"])
def test_baseline_default_deny_with_network_policy_allow(v2: bool) -> None:
    t = tracer(CNP_BASELINE if v2 else BANP, NP_ALLOW_CLIENT)
    # pod/ and service/ targets: no DNS lookup (the Baseline deny would block it too)
    assert policy_lines(t, "client", "service/web") == BANP_ALLOWED_TEXT
    want = CNP_BASELINE_DENIED_TEXT if v2 else BANP_DENIED_TEXT
    assert policy_lines(t, "client", "pod/other:8080") == want


def test_baseline_deny_of_everything_blocks_the_dns_lookup() -> None:
    """The BANP selects kube-system too, so the DNS pod's ingress is denied."""
    e = tracer(BANP, NP_ALLOW_CLIENT).explain("client", "web", "shop")
    assert not e.reachable
    assert e.result.startswith(
        "not reachable: the DNS lookup itself is blocked by ingress policy at the DNS pod"
    )
    text = " ".join(format_text(e).split())
    assert "query to cluster DNS (UDP 53): BLOCKED ingress to kube-system/" in text
    assert "BaselineAdminNetworkPolicy/default ingress rule #0 (default-deny)" in text


def test_equal_priority_conflict_is_said() -> None:
    accept = ANP_DENY.replace("lock-web", "open-web").replace("Deny", "Allow")
    t = tracer(ANP_DENY, accept)
    text = format_text(t.explain("client", "web", "shop"))
    flat = " ".join(text.split())
    assert "AdminNetworkPolicy/lock-web ingress rule #0 (deny-http) [Admin, Deny]" in flat
    assert "same priority as AdminNetworkPolicy/open-web" in flat
    assert "implementation-defined upstream; podnet orders by (priority, kind, name)" in flat
    ing = to_dict(t.explain("client", "web", "shop"))["endpoints"][0]["ingress"]
    assert [c["policy"] for c in ing["conflicts"]] == ["AdminNetworkPolicy/open-web"]


def test_a_pod_reaches_itself_through_its_own_service() -> None:
    """Denied by every layer, yet allowed: "a pod cannot block access to itself"."""
    deny_all = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""
    for docs in ((deny_all,), (ANP_DENY,), (BANP,)):
        t = tracer(*docs)
        e = t.explain("web", "web.shop.svc.cluster.local:80", "shop")
        assert [h.pod for h in e.hops] == ["shop/web"]
        assert e.hops[0].verdict.allowed
        text = " ".join(format_text(e).split())
        assert "shop/web may always reach itself (a pod cannot block access to itself)" in text
        assert not t.explain("client", "web", "shop").reachable


@pytest.mark.parametrize(
    "docs",
    [(ANP_DENY,), (CNP_DENY,), (ANP_PASS, NP_ALLOW_CLIENT), (BANP, NP_ALLOW_CLIENT)],
)
def test_matrix_reason_names_tier_and_rule(docs: tuple[str, ...]) -> None:
    t = tracer(*docs)
    m = compute_matrix(t.state)
    for c in m.connections():
        v = t.engine.verdict(c.src, c.dst, c.port, c.protocol)
        assert (c.allowed, c.reason) == (v.allowed, v.reason)
    cells = {(c.src.name, c.dst.name): c for c in m.connections()}
    reason = cells[("client", "web")].reason
    if docs[0] in (ANP_DENY, CNP_DENY):
        assert "lock-web ingress rule #0 (deny-http) [Admin, Deny]" in reason
    if docs[0] is BANP:
        assert "BaselineAdminNetworkPolicy/default ingress rule #0 (default-deny)" in (
            cells[("client", "other")].reason
        )


def test_analyze_table_lists_the_cluster_policies() -> None:
    """The table never says "no NetworkPolicies: every pod may reach every other pod"
    when cluster policies decide."""
    t = tracer(ANP_PASS, BANP)
    text = format_table(compute_matrix(t.state), t.state.policies)
    assert all(len(line) <= WIDTH for line in text.splitlines())
    assert " ".join(text.split("\n\n")[0].split()) == (
        "4 pods, 4 classes, 0 NetworkPolicies, 2 cluster policies; 0/15 connections allowed"
    )
    assert "every pod may reach every other pod" not in text
    assert "Admin      20         AdminNetworkPolicy/tenants" in text
    assert "Baseline   0          BaselineAdminNetworkPolicy/default" in text
    assert "  ingress rule #0 (pass-to-np): Pass from all pods in namespaces tenant=a" in text
