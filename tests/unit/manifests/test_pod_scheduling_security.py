"""A pod's tolerations and security contexts are checked as upstream validates them
(pkg/apis/core/validation/validation.go ValidateTolerations, ValidatePodSecurityContext,
ValidateSecurityContext), with the file, line and field: before, anything was accepted,
an empty toleration (``[null]`` decodes to one) and a runAsUser of -1 included."""

from __future__ import annotations

import pytest

from podnet.errors import Location, ManifestError
from podnet.manifests import from_documents, parse_text

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers: [{{name: c, image: busybox}}]
  tolerations:
  - {toleration}
"""
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character"
)

REFUSED = [
    (
        "{}",
        "spec.tolerations[0].operator",
        'Invalid value: "": operator must be Exists when `key` is empty, which means '
        '"match all values and all keys"',
    ),
    (
        "{key: a, operator: Exists, value: x}",
        "spec.tolerations[0].operator",
        'Invalid value: {"key":"a","operator":"Exists","value":"x"}: value must be empty '
        "when `operator` is 'Exists'",
    ),
    (
        "{key: 'bad key!', operator: Exists}",
        "spec.tolerations[0].key",
        f'Invalid value: "bad key!": {NAME_PART}',
    ),
    (
        "{key: a, operator: Equal, value: 'not a label value!'}",
        "spec.tolerations[0].operator",
        'Invalid value: "not a label value!": a valid label must be an empty string or '
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character",
    ),
    (
        "{key: a, operator: Gt}",
        "spec.tolerations[0].operator",
        'Unsupported value: "Gt": supported values: "Equal", "Exists"',
    ),
    (
        "{key: a, effect: NoSchedule, tolerationSeconds: 5}",
        "spec.tolerations[0].effect",
        "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
    ),
    (
        "{key: a, effect: Sometimes}",
        "spec.tolerations[0].effect",
        'Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", '
        '"NoExecute"',
    ),
]


@pytest.mark.parametrize(("toleration", "field", "message"), REFUSED)
def test_refused_with_file_line_and_field(toleration: str, field: str, message: str) -> None:
    with pytest.raises(ManifestError) as err:
        from_documents(parse_text(POD.format(toleration=toleration), "m.yaml"))
    assert err.value.location == Location("m.yaml", 7), str(err.value)
    assert (err.value.field, err.value.message) == (field, message)


@pytest.mark.parametrize(
    "toleration",
    [
        "{operator: Exists}",
        "{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute,"
        " tolerationSeconds: 300}",
        "{key: dedicated, value: gpu, effect: NoSchedule}",
        "{key: example.com/x, operator: Equal, value: '', effect: PreferNoSchedule}",
    ],
)
def test_accepted(toleration: str) -> None:
    from_documents(parse_text(POD.format(toleration=toleration), "m.yaml"))


SECURITY = """\
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  securityContext: {pod}
  containers:
  - name: c
    image: busybox
    securityContext: {container}
"""
RANGE = "must be between 0 and 2147483647, inclusive"


@pytest.mark.parametrize(
    ("pod", "container", "line", "field", "message"),
    [
        (
            "{runAsUser: -1}",
            "{}",
            5,
            "spec.securityContext.runAsUser",
            f"Invalid value: -1: {RANGE}",
        ),
        (
            "{fsGroup: 2147483648}",
            "{}",
            5,
            "spec.securityContext.fsGroup",
            f"Invalid value: 2147483648: {RANGE}",
        ),
        (
            "{supplementalGroups: [1, -5]}",
            "{}",
            5,
            "spec.securityContext.supplementalGroups[1]",
            f"Invalid value: -5: {RANGE}",
        ),
        (
            "{fsGroupChangePolicy: Sometimes}",
            "{}",
            5,
            "spec.securityContext.fsGroupChangePolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "OnRootMismatch"',
        ),
        (
            "{}",
            "{runAsGroup: -2}",
            9,
            "spec.containers[0].securityContext.runAsGroup",
            f"Invalid value: -2: {RANGE}",
        ),
        (
            "{}",
            "{privileged: true, allowPrivilegeEscalation: false}",
            9,
            "spec.containers[0].securityContext",
            'Invalid value: {"privileged":true,"allowPrivilegeEscalation":false}: cannot set '
            "`allowPrivilegeEscalation` to false and `privileged` to true",
        ),
        (
            "{}",
            "{allowPrivilegeEscalation: false, capabilities: {add: [CAP_SYS_ADMIN]}}",
            9,
            "spec.containers[0].securityContext",
            'Invalid value: {"allowPrivilegeEscalation":false,"capabilities":{"add":'
            '["CAP_SYS_ADMIN"]}}: cannot set `allowPrivilegeEscalation` to false and '
            "`capabilities.Add` CAP_SYS_ADMIN",
        ),
    ],
)
def test_security_contexts_refused(
    pod: str, container: str, line: int, field: str, message: str
) -> None:
    """ValidatePodSecurityContext and ValidateSecurityContext: ids in 0..2^31-1, the
    fsGroupChangePolicy enum, no escalation refused to what escalates anyway."""
    text = SECURITY.format(pod=pod, container=container)
    with pytest.raises(ManifestError) as err:
        from_documents(parse_text(text, "m.yaml"))
    assert err.value.location == Location("m.yaml", line), str(err.value)
    assert (err.value.field, err.value.message) == (field, message)


def test_security_contexts_accepted() -> None:
    text = SECURITY.format(
        pod="{runAsUser: 0, fsGroup: 2147483647, fsGroupChangePolicy: OnRootMismatch}",
        container="{allowPrivilegeEscalation: false, capabilities: {add: [NET_ADMIN]}}",
    )
    from_documents(parse_text(text, "m.yaml"))
