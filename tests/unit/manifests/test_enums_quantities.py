"""Enums and quantities the API server refuses are refused here too (issue 14).

kubernetes-validate's schemas carry neither (dnsPolicy, imagePullPolicy, the traffic
policies are plain strings; a Quantity is "int or string"), so podnet checks them as
pkg/apis/core/validation does, in its words: field.NotSupported lists the supported
values quoted (``Unsupported value: "Weird": supported values: "A", "B"``); a quantity
that does not parse gets apimachinery's ParseQuantity message.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from podnet.errors import Location, ManifestError
from podnet.manifests import from_documents, parse_text
from podnet.model.objects import Manifests
from podnet.model.quantity import ERR_FORMAT, ERR_SUFFIX, MAX, parse_quantity

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  {spec}
  containers:
  - name: c
    image: busybox
    {container}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  selector: {{app: web}}
  {spec}
  ports:
  - port: 80
    {port}
"""


def load(text: str) -> Manifests:
    return from_documents(parse_text(text, "m.yaml"))


def error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as err:
        load(text)
    return err.value


def pod(spec: str = "", container: str = "") -> str:
    return POD.format(spec=spec or "hostname: p", container=container or "args: []")


def service(spec: str = "", port: str = "") -> str:
    return SERVICE.format(spec=spec or "type: ClusterIP", port=port or "protocol: TCP")


RESOURCES = "resources: {{requests: {{cpu: {req}}}, limits: {{cpu: {lim}}}}}"
NOT_SUPPORTED: list[tuple[str, str, int, str, str]] = [
    (
        "dnsPolicy",
        pod(spec="dnsPolicy: Weird"),
        6,
        "spec.dnsPolicy",
        'Unsupported value: "Weird": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"',
    ),
    (
        "restartPolicy",
        pod(spec="restartPolicy: Sometimes"),
        6,
        "spec.restartPolicy",
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ),
    (
        "imagePullPolicy",
        pod(container="imagePullPolicy: Often"),
        10,
        "spec.containers[0].imagePullPolicy",
        'Unsupported value: "Often": supported values: "Always", "IfNotPresent", "Never"',
    ),
    (
        "container protocol",
        pod(container="ports: [{containerPort: 80, protocol: ICMP}]"),
        10,
        "spec.containers[0].ports[0].protocol",
        'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ),
    (
        "service type",
        service(spec="type: Weird"),
        7,
        "spec.type",
        'Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"',
    ),
    (
        "sessionAffinity",
        service(spec="sessionAffinity: Cookie"),
        7,
        "spec.sessionAffinity",
        'Unsupported value: "Cookie": supported values: "ClientIP", "None"',
    ),
    (
        "externalTrafficPolicy",
        service(spec="type: NodePort\n  externalTrafficPolicy: Both"),
        8,
        "spec.externalTrafficPolicy",
        'Unsupported value: "Both": supported values: "Cluster", "Local"',
    ),
    (
        "externalTrafficPolicy on a ClusterIP Service",
        service(spec="externalTrafficPolicy: Local"),
        7,
        "spec.externalTrafficPolicy",
        'Invalid value: "Local": may only be set for externally-accessible services',
    ),
    (
        "internalTrafficPolicy",
        service(spec="internalTrafficPolicy: Nearby"),
        7,
        "spec.internalTrafficPolicy",
        'Unsupported value: "Nearby": supported values: "Cluster", "Local"',
    ),
    (
        "service port protocol",
        service(port="protocol: tcp"),
        10,
        "spec.ports[0].protocol",
        'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
    ),
    (
        "dnsPolicy None without dnsConfig",
        pod(spec="dnsPolicy: None"),
        5,  # no dnsConfig line: spec's
        "spec.dnsConfig",
        "Required value: must provide `dnsConfig` when `dnsPolicy` is None",
    ),
    (
        "cpu: lots",
        pod(container=RESOURCES.format(req="lots", lim="1")),
        10,
        "spec.containers[0].resources.requests.cpu",
        f'Invalid value: "lots": {ERR_FORMAT}',
    ),
    (
        "memory: 1GB",
        pod(container="resources: {limits: {memory: 1GB}}"),
        10,
        "spec.containers[0].resources.limits.memory",
        f'Invalid value: "1GB": {ERR_FORMAT}',
    ),
    (
        "memory with a bad suffix",
        pod(container="resources: {limits: {memory: 1Gii}}"),
        10,
        "spec.containers[0].resources.limits.memory",
        f'Invalid value: "1Gii": {ERR_SUFFIX}',
    ),
    (
        "negative quantity",
        pod(container=RESOURCES.format(req="-1", lim="1")),
        10,
        "spec.containers[0].resources.requests.cpu",
        'Invalid value: "-1": must be greater than or equal to 0',
    ),
    (
        "request above limit",
        pod(container=RESOURCES.format(req="1500m", lim="1")),
        10,
        "spec.containers[0].resources.requests.cpu",
        'Invalid value: "1500m": must be less than or equal to cpu limit of 1',
    ),
    (
        "deployment restartPolicy",
        """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
""",
        9,
        "spec.template.spec.restartPolicy",
        'Unsupported value: "Never": supported values: "Always"',
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [case[1:] for case in NOT_SUPPORTED],
    ids=[case[0] for case in NOT_SUPPORTED],
)
def test_refused_with_line_field_and_supported_values(
    text: str, line: int, field: str, message: str
) -> None:
    err = error(text)
    assert err.location == Location("m.yaml", line), str(err)
    assert err.field == field, str(err)
    assert err.message == message


ACCEPTED = [
    pod(spec="dnsPolicy: ClusterFirst"),
    pod(spec="dnsPolicy: None\n  dnsConfig: {nameservers: [1.1.1.1]}"),
    pod(spec='dnsPolicy: ""'),  # defaulted to ClusterFirst before validation
    pod(container="imagePullPolicy: IfNotPresent"),
    pod(container=RESOURCES.format(req="100m", lim="0.5")),
    pod(container=RESOURCES.format(req="1", lim="1e3")),
    pod(container=RESOURCES.format(req=0.5, lim=2)),  # YAML numbers, as the server takes them
    pod(container="resources: {requests: {memory: 64Mi, ephemeral-storage: 1G}}"),
    service(spec="type: NodePort\n  externalTrafficPolicy: Local"),
    service(spec="type: LoadBalancer\n  internalTrafficPolicy: Local"),
    service(spec="sessionAffinity: ClientIP"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_supported_values_load(text: str) -> None:
    load(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("1Gi", Fraction(2**30)),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("2E", Fraction(2 * 10**18)),  # E alone is exa, as in suffix.go
        ("+3k", Fraction(3000)),
        ("-1", Fraction(-1)),
        ("250n", Fraction(250, 10**9)),
        ("7u", Fraction(7, 10**6)),
        ("0.1Ki", Fraction(512, 5)),
    ],
)
def test_quantity_values(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lots", ERR_FORMAT),
        ("1.5.5", ERR_FORMAT),
        ("", ERR_FORMAT),
        ("Mi", ERR_FORMAT),  # no number at all
        ("1 Gi", ERR_FORMAT),
        ("1K", ERR_SUFFIX),  # kilo is k; K only as Ki
        ("1e", ERR_SUFFIX),
        ("1kk", ERR_SUFFIX),
        ("12Mi3", ERR_SUFFIX),
    ],
)
def test_malformed_quantities(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")[:20]):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e999999999", Fraction(MAX)),  # capped at 2^63-1, as the server caps
        ("-1e99999", Fraction(-MAX)),
        ("9" * 100_000, Fraction(MAX)),
        ("1e-" + "0" * 10_000 + "5", Fraction(1, 10**5)),
    ],
)
def test_hostile_quantities_are_bounded(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["1e2147483648", "1e" + "9" * 10_000])
def test_exponent_beyond_int32_is_a_suffix_error(text: str) -> None:
    with pytest.raises(ValueError, match="unable to parse quantity's suffix"):
        parse_quantity(text)
