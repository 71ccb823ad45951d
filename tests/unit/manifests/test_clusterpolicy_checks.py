"""The CRD schema and CEL rules of the three cluster policy kinds, each error with its
file:line, ``Kind/name`` and field path, and nothing loaded on any error."""

from __future__ import annotations

import re

import pytest

from podnet.errors import ManifestError, ManifestErrors
from podnet.manifests import from_documents, parse_text

ANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: p
spec:
  priority: 10
  subject:
    namespaces: {}
  ingress:
    - action: Deny
      from:
        - namespaces: {}
      ports:
        - portNumber: {port: 80}
  egress:
    - action: Allow
      to:
        - pods: {namespaceSelector: {}, podSelector: {}}
      ports:
        - namedPort: http
"""
BANP = ANP.replace("AdminNetworkPolicy", "BaselineAdminNetworkPolicy").replace(
    "  name: p\nspec:\n  priority: 10\n", "  name: default\nspec:\n\n"
)  # same lines as ANP
CNP = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: p
spec:
  tier: Admin
  priority: 10
  subject:
    namespaces: {}
  ingress:
    - action: Deny
      from:
        - namespaces: {}
      protocols:
        - tcp: {destinationPort: {number: 80}}
  egress:
    - action: Accept
      to:
        - pods: {podSelector: {}}
      protocols:
        - destinationNamedPort: http
"""
BASES = {"ANP": ANP, "BANP": BANP, "CNP": CNP}
OBJECTS = {
    "ANP": "AdminNetworkPolicy",
    "BANP": "BaselineAdminNetworkPolicy",
    "CNP": "ClusterNetworkPolicy",
}


def errors_of(text: str) -> list[ManifestError]:
    with pytest.raises(ManifestError) as e:
        from_documents(parse_text(text, "cp.yaml"))
    return list(e.value.errors) if isinstance(e.value, ManifestErrors) else [e.value]


def many(item: str, n: int) -> str:
    return "".join(item for _ in range(n))


# (base, text replaced, replacement, line, field, message fragment)
CASES = [
    # priority: Minimum=0, Maximum=1000, required, an integer
    ("ANP", "priority: 10", "priority: 1001", 6, "spec.priority", "less than or equal to 1000"),
    ("CNP", "priority: 10", "priority: -1", 7, "spec.priority", "greater than or equal to 0"),
    ("ANP", "  priority: 10\n", "", 5, "spec.priority", "Required value"),
    ("CNP", "priority: 10", 'priority: "high"', 7, "spec.priority", "must be of type integer"),
    ("BANP", "spec:\n\n", "spec:\n  priority: 3\n", 6, "spec.priority", 'unknown field "priority"'),
    # tier enum, required
    ("CNP", "tier: Admin", "tier: Middle", 6, "spec.tier", 'supported values: "Admin", "Baseline"'),
    ("CNP", "  tier: Admin\n", "", 5, "spec.tier", "Required value"),
    # action enum per kind
    (
        "ANP",
        "action: Deny",
        "action: Accept",
        10,
        "spec.ingress[0].action",
        '"Allow", "Deny", "Pass"',
    ),
    ("BANP", "action: Deny", "action: Pass", 10, "spec.ingress[0].action", '"Allow", "Deny"'),
    (
        "CNP",
        "action: Deny",
        "action: Allow",
        11,
        "spec.ingress[0].action",
        '"Accept", "Deny", "Pass"',
    ),
    # subject: exactly one field
    (
        "ANP",
        "    namespaces: {}\n  ingress",
        "    namespaces: {}\n    pods: {namespaceSelector: {}, podSelector: {}}\n  ingress",
        7,
        "spec.subject",
        "exactly one of namespaces, pods must be set (got namespaces, pods)",
    ),
    (
        "CNP",
        "  subject:\n    namespaces: {}\n",
        "  subject: {}\n",
        8,
        "spec.subject",
        "exactly one",
    ),
    ("ANP", "  subject:\n    namespaces: {}\n", "", 5, "spec.subject", "Required value"),
    # peers: exactly one field; MinItems 1; ingress has no nodes; v1alpha1 pods needs both
    (
        "ANP",
        "        - namespaces: {}",
        "        - {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}",
        12,
        "spec.ingress[0].from[0]",
        "exactly one of namespaces, pods must be set",
    ),
    (
        "CNP",
        "        - namespaces: {}",
        "        - {}",
        13,
        "spec.ingress[0].from[0]",
        "exactly one",
    ),
    (
        "ANP",
        "      from:\n        - namespaces: {}\n",
        "      from: []\n",
        11,
        "spec.ingress[0].from",
        "at least 1 items",
    ),
    (
        "CNP",
        "      from:\n        - namespaces: {}\n",
        "",
        11,
        "spec.ingress[0].from",
        "Required value",
    ),
    (
        "CNP",
        "      to:\n        - pods: {podSelector: {}}\n",
        "      to: []\n",
        18,
        "spec.egress[0].to",
        "at least 1 items",
    ),
    (
        "ANP",
        "        - namespaces: {}",
        "        - nodes: {}",
        12,
        "spec.ingress[0].from[0].nodes",
        'unknown field "nodes"',
    ),
    (
        "ANP",
        "{namespaceSelector: {}, podSelector: {}}",
        "{podSelector: {}}",
        18,
        "spec.egress[0].to[0].pods.namespaceSelector",
        "Required value",
    ),
    (
        "CNP",
        "pods: {podSelector: {}}",
        "pods: {namespaceSelector: {}}",
        19,
        "spec.egress[0].to[0].pods.podSelector",
        "Required value",
    ),
    (
        "BANP",
        "        - pods: {namespaceSelector: {}, podSelector: {}}",
        '        - domainNames: ["a.io"]',
        18,
        "spec.egress[0].to[0].domainNames",
        'unknown field "domainNames"',
    ),
    # ports (v1alpha1): exactly one, MinItems 1, port range of numbers, protocol
    (
        "ANP",
        "        - portNumber: {port: 80}",
        "        - {portNumber: {port: 80}, namedPort: web}",
        14,
        "spec.ingress[0].ports[0]",
        "exactly one of portNumber, namedPort, portRange must be set",
    ),
    (
        "ANP",
        "      ports:\n        - portNumber: {port: 80}\n",
        "      ports: []\n",
        13,
        "spec.ingress[0].ports",
        "at least 1 items",
    ),
    (
        "ANP",
        "{port: 80}",
        "{port: 0}",
        14,
        "spec.ingress[0].ports[0].portNumber.port",
        "greater than or equal to 1",
    ),
    (
        "ANP",
        "{port: 80}",
        "{port: 65536}",
        14,
        "spec.ingress[0].ports[0].portNumber.port",
        "less than or equal to 65535",
    ),
    (
        "ANP",
        "{port: 80}",
        "{protocol: tcp, port: 80}",
        14,
        "spec.ingress[0].ports[0].portNumber.protocol",
        '"TCP", "UDP", "SCTP"',
    ),
    (
        "ANP",
        "portNumber: {port: 80}",
        "portRange: {start: 80}",
        14,
        "spec.ingress[0].ports[0].portRange.end",
        "Required value",
    ),
    # protocols (v1alpha2): exactly one, MinProperties, Port number|range, CEL start < end
    (
        "CNP",
        "        - tcp: {destinationPort: {number: 80}}",
        "        - {tcp: {destinationPort: {number: 80}}, udp: {destinationPort: {number: 80}}}",
        15,
        "spec.ingress[0].protocols[0]",
        "exactly one of tcp, udp, sctp, destinationNamedPort must be set",
    ),
    (
        "CNP",
        "tcp: {destinationPort: {number: 80}}",
        "tcp: {}",
        15,
        "spec.ingress[0].protocols[0].tcp",
        "at least 1 properties",
    ),
    (
        "CNP",
        "{number: 80}",
        "{number: 80, range: {start: 1, end: 2}}",
        15,
        "spec.ingress[0].protocols[0].tcp.destinationPort",
        "exactly one of number, range",
    ),
    (
        "CNP",
        "{number: 80}",
        "{range: {start: 90, end: 90}}",
        15,
        "spec.ingress[0].protocols[0].tcp.destinationPort.range",
        "Start port must be less than End port",
    ),
    (
        "CNP",
        "{number: 80}",
        "{range: {start: 91, end: 90}}",
        15,
        "spec.ingress[0].protocols[0].tcp.destinationPort.range",
        "Start port must be less than End port",
    ),
    (
        "CNP",
        "      protocols:\n        - tcp: {destinationPort: {number: 80}}\n",
        "      protocols: []\n",
        14,
        "spec.ingress[0].protocols",
        "at least 1 items",
    ),
    # CEL: no named ports towards networks/nodes/domainNames peers
    (
        "ANP",
        "        - pods: {namespaceSelector: {}, podSelector: {}}",
        '        - networks: ["10.0.0.0/8"]',
        16,
        "spec.egress[0]",
        "networks peer cannot be set with namedPorts",
    ),
    (
        "BANP",
        "        - pods: {namespaceSelector: {}, podSelector: {}}",
        "        - nodes: {}",
        16,
        "spec.egress[0]",
        "nodes peer cannot be set with namedPorts",
    ),
    (
        "CNP",
        "        - pods: {podSelector: {}}",
        '        - domainNames: ["example.com"]',
        17,
        "spec.egress[0]",
        "domainNames peer cannot be set with namedPorts",
    ),
    # networks: isCIDR, MinItems 1, MaxItems 25, listType=set
    (
        "CNP",
        "        - pods: {podSelector: {}}\n      protocols:\n        - destinationNamedPort: http",
        '        - networks: ["10.0.0.0/33"]',
        19,
        "spec.egress[0].to[0].networks[0]",
        "Invalid CIDR format provided",
    ),
    (
        "CNP",
        "        - pods: {podSelector: {}}\n      protocols:\n        - destinationNamedPort: http",
        '        - networks: ["10.0.0.0/8", "10.0.0.0/8"]',
        19,
        "spec.egress[0].to[0].networks[1]",
        "Duplicate value",
    ),
    (
        "CNP",
        "        - pods: {podSelector: {}}\n      protocols:\n        - destinationNamedPort: http",
        "        - networks: []",
        19,
        "spec.egress[0].to[0].networks",
        "at least 1 items",
    ),
    (
        "CNP",
        "        - pods: {podSelector: {}}\n      protocols:\n        - destinationNamedPort: http",
        "        - networks: [" + ", ".join(f'"10.0.{i}.0/24"' for i in range(26)) + "]",
        19,
        "spec.egress[0].to[0].networks",
        "at most 25 items",
    ),
    (
        "CNP",
        "        - pods: {podSelector: {}}\n      protocols:\n        - destinationNamedPort: http",
        '        - domainNames: ["-bad-.io"]',
        19,
        "spec.egress[0].to[0].domainNames[0]",
        "should match",
    ),
    # label selectors as check_policy checks them
    (
        "ANP",
        "    namespaces: {}\n  ingress",
        "    namespaces: {matchLabels: {'a b': x}}\n  ingress",
        8,
        "spec.subject.namespaces.matchLabels.a b",
        "Invalid label key",
    ),
    (
        "CNP",
        "        - namespaces: {}",
        "        - namespaces: {matchExpressions: [{key: a, operator: Has}]}",
        13,
        "spec.ingress[0].from[0].namespaces.matchExpressions[0].operator",
        "Unsupported value 'Has'",
    ),
    (
        "CNP",
        "        - namespaces: {}",
        "        - namespaces: {matchExpressions: [{key: a, operator: In}]}",
        13,
        "spec.ingress[0].from[0].namespaces.matchExpressions[0].values",
        "must be specified",
    ),
    # rule name MaxLength=100, unknown fields, BANP singleton (CEL)
    (
        "CNP",
        "    - action: Deny",
        "    - name: " + "n" * 101 + "\n      action: Deny",
        11,
        "spec.ingress[0].name",
        "may not be longer than 100",
    ),
    (
        "ANP",
        "    - action: Deny",
        "    - action: Deny\n      except: []",
        11,
        "spec.ingress[0].except",
        'unknown field "except"',
    ),
    ("BANP", "name: default", "name: other", 4, "metadata.name", 'metadata.name="default"'),
    ("CNP", "  name: p\n", "  name: Bad_Name\n", 4, "metadata.name", "Invalid value 'Bad_Name'"),
    ("ANP", "spec:\n", "spek:\n", 5, "spek", 'unknown field "spek"'),
    # apiVersion: each kind is served under one version (kinds.py)
    (
        "ANP",
        "v1alpha1",
        "v1alpha2",
        1,
        "apiVersion",
        "served as 'policy.networking.k8s.io/v1alpha1'",
    ),
    (
        "CNP",
        "v1alpha2",
        "v1alpha1",
        1,
        "apiVersion",
        "served as 'policy.networking.k8s.io/v1alpha2'",
    ),
]


@pytest.mark.parametrize(
    ("base", "old", "new", "line", "field", "fragment"),
    CASES,
    ids=[f"{c[0]}-{c[4]}-{c[5][:30]}" for c in CASES],
)
def test_error(base: str, old: str, new: str, line: int, field: str, fragment: str) -> None:
    text = BASES[base]
    assert old in text
    changed = text.replace(old, new, 1)
    errors = errors_of(changed)
    matching = [e for e in errors if e.field == field]
    assert matching, [str(e) for e in errors]
    (error,) = matching
    assert fragment in error.message
    assert str(error.location) == f"cp.yaml:{line}"
    name = re.search(r"^  name: (\S+)", changed, re.M)
    assert name is not None
    assert error.obj == f"{OBJECTS[base]}/{name[1]}"


def test_bases_are_valid() -> None:
    for text in BASES.values():
        assert len(from_documents(parse_text(text, "cp.yaml")).cluster_policies) == 1


@pytest.mark.parametrize(("base", "limit"), [("ANP", 100), ("BANP", 100), ("CNP", 25)])
def test_max_items(base: str, limit: int) -> None:
    """Rules, peers and ports each at most 100 (v1alpha1) or 25 (v1alpha2)."""
    text = BASES[base]
    start = "    - action: Deny\n"
    rule = start + "      from: [{namespaces: {}}]\n"
    at_limit = text.replace(start, many(rule, limit - 1) + start, 1)
    assert from_documents(parse_text(at_limit, "cp.yaml")).cluster_policies
    errors = errors_of(text.replace(start, many(rule, limit) + start, 1))
    assert [(e.field, e.message) for e in errors] == [
        ("spec.ingress", f"Too many: {limit + 1}: must have at most {limit} items")
    ]
    peer = "        - namespaces: {}\n"
    errors = errors_of(text.replace(peer, many(peer, limit + 1), 1))
    assert [e.field for e in errors] == ["spec.ingress[0].from"]
    port = (
        "        - tcp: {destinationPort: {number: 80}}\n"
        if base == "CNP"
        else "        - portNumber: {port: 80}\n"
    )
    errors = errors_of(text.replace(port, many(port, limit + 1), 1))
    assert [e.field for e in errors] == [
        f"spec.ingress[0].{'protocols' if base == 'CNP' else 'ports'}"
    ]


def test_nothing_loaded_on_any_error() -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
    pod += "spec: {containers: [{name: c, image: x}]}\n"
    errors = errors_of(pod + "---\n" + CNP.replace("priority: 10", "priority: 2000"))
    assert [(str(e.location), e.field) for e in errors] == [("cp.yaml:12", "spec.priority")]
