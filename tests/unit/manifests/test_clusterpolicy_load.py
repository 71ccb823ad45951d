"""AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy -> the model.

Every field of the three kinds lands in :class:`ClusterNetworkPolicy`, and the same
intent written in v1alpha1 and v1alpha2 gives the same model (apart from the kind and
apiVersion kept for messages).
"""

from __future__ import annotations

from dataclasses import replace

from podnet.manifests import from_documents, parse_text
from podnet.model.clusterpolicy import (
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
    PodsIn,
)
from podnet.model.objects import Manifests
from podnet.model.selectors import LabelSelector, Requirement

V1ALPHA1 = "policy.networking.k8s.io/v1alpha1"
V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"

ANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: cluster-control
spec:
  priority: 34
  subject:
    pods:
      namespaceSelector: {matchLabels: {tenant: a}}
      podSelector:
        matchExpressions: [{key: app, operator: In, values: [web, api]}]
  ingress:
    - name: from-monitoring
      action: Allow
      from:
        - namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
        - pods:
            namespaceSelector: {}
            podSelector: {matchLabels: {role: scraper}}
      ports:
        - portNumber: {protocol: TCP, port: 9090}
        - portNumber: {port: 9091}
        - portRange: {protocol: UDP, start: 5000, end: 5100}
        - portRange: {start: 6000, end: 6010}
        - namedPort: metrics
    - action: Pass
      from: [{namespaces: {}}]
  egress:
    - name: no-external
      action: Deny
      to:
        - networks: ["10.0.0.1/8", "fd00::/8"]
        - nodes: {matchLabels: {node-role.kubernetes.io/control-plane: ""}}
"""

BANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject:
    namespaces: {matchLabels: {tenant: a}}
  ingress:
    - name: default-deny
      action: Deny
      from: [{namespaces: {}}]
  egress:
    - action: Allow
      to: [{pods: {namespaceSelector: {}, podSelector: {}}}]
      ports: [{portNumber: {protocol: UDP, port: 53}}]
"""

CNP = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: cluster-control
spec:
  tier: Admin
  priority: 34
  subject:
    pods:
      namespaceSelector: {matchLabels: {tenant: a}}
      podSelector:
        matchExpressions: [{key: app, operator: In, values: [web, api]}]
  ingress:
    - name: from-monitoring
      action: Accept
      from:
        - namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
        - pods:
            podSelector: {matchLabels: {role: scraper}}
      protocols:
        - tcp: {destinationPort: {number: 9090}}
        - tcp: {destinationPort: {number: 9091}}
        - udp: {destinationPort: {range: {start: 5000, end: 5100}}}
        - tcp: {destinationPort: {range: {start: 6000, end: 6010}}}
        - destinationNamedPort: metrics
    - action: Pass
      from: [{namespaces: {}}]
  egress:
    - name: no-external
      action: Deny
      to:
        - networks: ["10.0.0.1/8", "fd00::/8"]
        - nodes: {matchLabels: {node-role.kubernetes.io/control-plane: ""}}
"""

CNP_BASELINE = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: default
spec:
  tier: Baseline
  priority: 0
  subject:
    namespaces: {matchLabels: {tenant: a}}
  ingress:
    - name: default-deny
      action: Deny
      from: [{namespaces: {}}]
  egress:
    - action: Accept
      to: [{pods: {podSelector: {}}}]
      protocols: [{udp: {destinationPort: {number: 53}}}]
"""

ALL = LabelSelector()


def load(text: str, name: str = "cp.yaml") -> Manifests:
    return from_documents(parse_text(text, name))


def only(text: str) -> ClusterNetworkPolicy:
    (policy,) = load(text).cluster_policies
    return policy


def intent(policy: ClusterNetworkPolicy) -> ClusterNetworkPolicy:
    """The policy without what records how it was written."""
    return replace(policy, kind="", api_version="", meta=None)


EXPECTED_ADMIN = ClusterNetworkPolicy(
    kind="",
    api_version="",
    name="cluster-control",
    tier="Admin",
    priority=34,
    subject=ClusterPeer(
        pods=PodsIn(
            namespace_selector=LabelSelector(match_labels=(("tenant", "a"),)),
            pod_selector=LabelSelector(
                match_expressions=(Requirement("app", "In", ("web", "api")),)
            ),
        )
    ),
    ingress=(
        ClusterRule(
            action="Accept",
            name="from-monitoring",
            peers=(
                ClusterPeer(
                    namespaces=LabelSelector(
                        match_labels=(("kubernetes.io/metadata.name", "monitoring"),)
                    )
                ),
                ClusterPeer(
                    pods=PodsIn(
                        namespace_selector=ALL,
                        pod_selector=LabelSelector(match_labels=(("role", "scraper"),)),
                    )
                ),
            ),
            ports=(
                ClusterPort("TCP", 9090),
                ClusterPort("TCP", 9091),
                ClusterPort("UDP", 5000, 5100),
                ClusterPort("TCP", 6000, 6010),
                ClusterPort(None, named_port="metrics"),
            ),
        ),
        ClusterRule(action="Pass", peers=(ClusterPeer(namespaces=ALL),)),
    ),
    egress=(
        ClusterRule(
            action="Deny",
            name="no-external",
            peers=(
                ClusterPeer(networks=("10.0.0.0/8", "fd00::/8")),
                ClusterPeer(
                    nodes=LabelSelector(
                        match_labels=(("node-role.kubernetes.io/control-plane", ""),)
                    )
                ),
            ),
        ),
    ),
)

EXPECTED_BASELINE = ClusterNetworkPolicy(
    kind="",
    api_version="",
    name="default",
    tier="Baseline",
    priority=0,
    subject=ClusterPeer(namespaces=LabelSelector(match_labels=(("tenant", "a"),))),
    ingress=(
        ClusterRule(action="Deny", name="default-deny", peers=(ClusterPeer(namespaces=ALL),)),
    ),
    egress=(
        ClusterRule(
            action="Accept",
            peers=(ClusterPeer(pods=PodsIn(namespace_selector=ALL, pod_selector=ALL)),),
            ports=(ClusterPort("UDP", 53),),
        ),
    ),
)


def test_admin_network_policy_every_field() -> None:
    policy = only(ANP)
    assert intent(policy) == EXPECTED_ADMIN
    assert (policy.kind, policy.api_version, policy.key) == (
        "AdminNetworkPolicy",
        V1ALPHA1,
        "AdminNetworkPolicy/cluster-control",
    )
    assert policy.meta is not None and policy.meta.namespace == ""
    assert str(policy.meta.location) == "cp.yaml:1"


def test_baseline_admin_network_policy_every_field() -> None:
    policy = only(BANP)
    assert intent(policy) == EXPECTED_BASELINE
    assert policy.key == "BaselineAdminNetworkPolicy/default"


def test_cluster_network_policy_every_field() -> None:
    policy = only(CNP)
    assert intent(policy) == EXPECTED_ADMIN
    assert (policy.kind, policy.api_version) == ("ClusterNetworkPolicy", V1ALPHA2)


def test_v1alpha1_and_v1alpha2_give_equal_models() -> None:
    assert intent(only(ANP)) == intent(only(CNP))
    assert intent(only(BANP)) == intent(only(CNP_BASELINE))


def test_all_three_load_together_without_warnings() -> None:
    m = load(ANP + "---\n" + BANP + "---\n" + CNP_BASELINE)
    assert [p.key for p in m.cluster_policies] == [
        "AdminNetworkPolicy/cluster-control",
        "BaselineAdminNetworkPolicy/default",
        "ClusterNetworkPolicy/default",
    ]
    assert m.warnings == ()
    assert [ns.name for ns in m.namespaces] == ["default", "kube-system"]  # none implied


def test_an_anp_and_a_cnp_may_share_a_name() -> None:
    m = load(ANP + "---\n" + CNP)
    assert [p.key for p in m.cluster_policies] == [
        "AdminNetworkPolicy/cluster-control",
        "ClusterNetworkPolicy/cluster-control",
    ]


def test_no_rules_no_ports() -> None:
    text = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: empty}
spec: {tier: Baseline, priority: 1000, subject: {namespaces: {}}}
"""
    assert only(text) == ClusterNetworkPolicy(
        name="empty",
        tier="Baseline",
        priority=1000,
        subject=ClusterPeer(namespaces=ALL),
        meta=only(text).meta,
    )


def test_sctp_protocol() -> None:
    text = CNP_BASELINE.replace(
        "udp: {destinationPort: {number: 53}}", "sctp: {destinationPort: {number: 7}}"
    )
    assert only(text).egress[0].ports == (ClusterPort("SCTP", 7),)


DOMAIN_RULE = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: fqdn}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  egress:
    - name: r
      action: {action}
      to:
{peers}
      protocols: [{tcp: {destinationPort: {number: 443}}}]
"""


def domain_policy(action: str, peers: str) -> Manifests:
    return load(DOMAIN_RULE.replace("{action}", action).replace("{peers}", peers))


def test_domain_names_peer_alone_in_accept_rule_matches_nothing() -> None:
    m = domain_policy("Accept", '        - domainNames: ["*.example.com"]')
    assert m.cluster_policies[0].egress == ()
    (warning,) = m.warnings
    assert warning.startswith(
        "cp.yaml:12: ClusterNetworkPolicy/fqdn: spec.egress[0].to[0].domainNames:"
    )
    assert "does not model domainNames" in warning and "never matches" in warning


def test_domain_names_beside_other_peers_in_accept_rule_is_dropped() -> None:
    m = domain_policy(
        "Accept", '        - domainNames: ["example.com"]\n        - networks: ["192.0.2.0/24"]'
    )
    (rule,) = m.cluster_policies[0].egress
    assert rule == ClusterRule(
        action="Accept",
        name="r",
        peers=(ClusterPeer(networks=("192.0.2.0/24",)),),
        ports=(ClusterPort("TCP", 443),),
    )
    assert "that peer matches no traffic" in m.warnings[0]


def test_domain_names_in_deny_or_pass_rule_fails_closed_as_deny_all() -> None:
    for action in ("Deny", "Pass"):
        m = domain_policy(action, '        - domainNames: ["example.com"]')
        (rule,) = m.cluster_policies[0].egress
        assert rule == ClusterRule(
            action="Deny", name="r", peers=(ClusterPeer(networks=("0.0.0.0/0", "::/0")),)
        )
        assert "'Deny all' rule" in m.warnings[0]


def test_v1alpha1_domain_names_same_treatment() -> None:
    text = ANP.replace(
        '        - networks: ["10.0.0.1/8", "fd00::/8"]\n',
        '        - domainNames: ["example.com"]\n',
    )
    (rule,) = only(text).egress
    assert rule.action == "Deny" and rule.peers == (ClusterPeer(networks=("0.0.0.0/0", "::/0")),)


def test_v1alpha1_port_range_start_not_below_end_warns_only() -> None:
    # The v1alpha1 CRD has no rule for it (v1alpha2's has: see test_clusterpolicy_checks).
    m = load(ANP.replace("start: 6000, end: 6010", "start: 6010, end: 6010"))
    assert m.cluster_policies[0].ingress[0].ports[3] == ClusterPort("TCP", 6010, 6010)
    (warning,) = m.warnings
    assert warning.startswith(
        "cp.yaml:24: AdminNetworkPolicy/cluster-control: spec.ingress[0].ports[3].portRange:"
    )
    assert "matches one port" in warning


def test_exported_object_with_status_and_server_metadata_loads() -> None:
    """``kubectl get anp -o yaml`` adds server-set metadata and a status: both are fine."""
    text = ANP.replace(
        "  name: cluster-control\n",
        "  name: cluster-control\n  uid: 5f1d\n  resourceVersion: '42'\n"
        "  creationTimestamp: '2024-01-01T00:00:00Z'\n  annotations: {a: b}\n",
    )
    text += "status:\n  conditions:\n    - {type: Ready, status: 'True', reason: Applied}\n"
    policy = only(text)
    assert intent(policy) == EXPECTED_ADMIN
