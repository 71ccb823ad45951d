"""Details of the API that real clients see, against ``podnet up``:

- invalid pod log options are kube-apiserver's 422 ``PodLogOptions`` Invalid with field
  causes (pkg/registry/core/pod/rest/log.go validates with pkg/apis/core/validation
  ValidatePodLogOptions), checked before the pod is looked up;
- ``fieldValidation=Strict`` on a create names the kind and version the body was decoded
  as (apiserver endpoints/handlers/rest.go transformDecodeError);
- a null list item is its type's zero value, as in upstream's typed decode (``args:
  [null]`` runs with an empty argument, ``containers: [null]`` is 422 naming the field);
- ``kubectl describe node`` shows what kubelet reads of the machine
  (pkg/kubelet/nodestatus/setters.go setNodeStatusMachineInfo, VersionInfo).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel
kubernetes: Any = pytest.importorskip("kubernetes")

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: said}
spec:
  containers:
  - {name: c, image: busybox, command: [sh, -c, 'echo hello; exec sleep 3600']}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: strict}
spec:
  foo: 1
  selector: {matchLabels: {app: strict}}
  template:
    metadata: {labels: {app: strict}}
    spec:
      containers:
      - {name: c, image: busybox, command: [sleep, '3600']}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("gaps")) as cluster:
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok("apply", "-f", "-", stdin=POD)
        k.ok("wait", "--for=condition=Ready", "pod/said", "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _log_status(up: UpCluster, pod: str, **options: Any) -> Any:
    """The Status a pods/log GET with ``options`` is refused with (Python client)."""
    client = kubernetes.config.new_client_from_config(config_file=str(up.kubeconfig))
    try:
        core = kubernetes.client.CoreV1Api(client)
        with pytest.raises(kubernetes.client.exceptions.ApiException) as caught:
            core.read_namespaced_pod_log(pod, "default", **options)
    finally:
        client.close()
    assert caught.value.status == 422, caught.value
    return json.loads(caught.value.body)


@pytest.mark.parametrize("pod", ["said", "no-such-pod"])
def test_invalid_log_options_are_422_with_causes(up: UpCluster, pod: str) -> None:
    status = _log_status(up, pod, limit_bytes=0)
    assert status["reason"] == "Invalid" and status["code"] == 422
    assert status["message"] == (
        f'PodLogOptions "{pod}" is invalid: limitBytes: Invalid value: 0: must be greater than 0'
    )
    assert status["details"] == {
        "name": pod,
        "kind": "PodLogOptions",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 0: must be greater than 0",
                "field": "limitBytes",
            }
        ],
    }
    status = _log_status(up, pod, tail_lines=-1, since_seconds=0)
    assert status["message"] == (
        f'PodLogOptions "{pod}" is invalid: [tailLines: Invalid value: -1: must be greater '
        "than or equal to 0, sinceSeconds: Invalid value: 0: must be greater than 0]"
    )
    assert [c["field"] for c in status["details"]["causes"]] == ["tailLines", "sinceSeconds"]


def test_since_time_with_since_seconds_is_forbidden(up: UpCluster) -> None:
    for version in KUBECTL_VERSIONS:
        k = up.kubectl(version)
        got = k(
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/said/log?sinceSeconds=5&sinceTime=2020-01-01T00:00:00Z",
        )
        assert got.rc != 0, got
        assert (
            'PodLogOptions "said" is invalid: []: Forbidden: at most one of `sinceTime` '
            "or `sinceSeconds` may be specified" in got.err
        ), (version, got)
    # what still parses and passes is served
    assert up.kubectl(KUBECTL_VERSIONS[0]).ok("logs", "said", "--tail=1") == "hello\n"


def test_strict_field_validation_names_the_kind(up: UpCluster) -> None:
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    (up.kubeconfig.parent / "x.yaml").write_text(DEPLOYMENT)
    got = k("apply", "--validate=strict", "-f", "x.yaml")
    assert got.rc != 0, got
    assert got.err.strip() == (
        'Error from server (BadRequest): error when creating "x.yaml": Deployment in '
        'version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.foo"'
    ), got
    assert k("get", "deployment", "strict").rc != 0  # nothing was created


def test_strict_field_validation_on_a_patch(up: UpCluster) -> None:
    """``kubectl apply`` to an existing object sends a strategic merge patch with
    ``fieldValidation``: Strict refuses the unknown field of the patched object with the
    converter's error as it is (apiserver endpoints/handlers/patch.go
    applyPatchToObject), Warn applies and warns (kubectl 1.37's default is strict)."""
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    good = DEPLOYMENT.replace("name: strict", "name: patched").replace("  foo: 1\n", "")
    k.ok("apply", "-f", "-", stdin=good)
    bad = DEPLOYMENT.replace("name: strict", "name: patched")
    got = k("apply", "--validate=strict", "-f", "-", stdin=bad)
    assert got.rc != 0, got
    assert 'strict decoding error: unknown field "spec.foo"' in got.err, got
    assert "cannot be handled as" not in got.err, got
    # a change that rolls no pod: a pod terminating with its grace period would hold
    # up's teardown (reported: kubelet.stop waits out graceful kills)
    warn = bad.replace(
        "metadata: {name: patched}", "metadata: {name: patched, labels: {tier: web}}"
    )
    got = k("apply", "--validate=warn", "-f", "-", stdin=warn)
    assert got.rc == 0, got
    assert 'Warning: unknown field "spec.foo"' in got.err, got
    deployment = k.json("get", "deployment", "patched")
    assert "foo" not in deployment["spec"] and deployment["metadata"]["labels"] == {"tier": "web"}


def test_null_list_items_are_zero_values(up: UpCluster) -> None:
    """Upstream decodes a request into the Go type (sigs.k8s.io/json), where a null
    array element is the element's zero value: a string list gets "", a struct list
    an empty struct that validation then refuses by field. podnet answered
    ``containers: [null]`` with a 500 before."""
    for i, version in enumerate(KUBECTL_VERSIONS):
        k = up.kubectl(version)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"nulls-{i}"},
            "spec": {"containers": [None]},
        }
        got = k("create", "--validate=false", "-f", "-", stdin=json.dumps(pod))
        assert got.rc == 1, got
        assert f'Pod "nulls-{i}" is invalid: spec.containers[0].name: Required value' in got.err
        assert "InternalError" not in got.err, got
        pod["spec"] = {"containers": [{"name": "c", "image": "busybox", "args": [None, "x"]}]}
        k.ok("create", "--validate=false", "-f", "-", stdin=json.dumps(pod))
        got_args = k.json("get", "pod", f"nulls-{i}")["spec"]["containers"][0]["args"]
        assert got_args == ["", "x"]
        k.ok("delete", "pod", f"nulls-{i}", "--grace-period=0", "--force", "--wait=false")


def _field(text: str, name: str) -> str:
    match = re.search(rf"^\s+{re.escape(name)}:\s+(\S.*)$", text, re.MULTILINE)
    assert match, (name, text)
    return match.group(1).strip()


def _bytes(quantity: str) -> int:
    for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi"), start=1):
        if quantity.endswith(suffix):
            return int(quantity.removesuffix(suffix)) << (10 * power)
    return int(quantity)


def test_describe_node_shows_the_machine(up: UpCluster) -> None:
    fs = os.statvfs("/")
    storage_bytes = fs.f_blocks * fs.f_frsize
    with open("/etc/machine-id", encoding="ascii") as f:
        machine_id = f.read().strip()
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
        boot_id = f.read().strip()
    for version in KUBECTL_VERSIONS:
        out = up.kubectl(version).ok("describe", "node", "node-0")
        capacity = out.split("Capacity:", 1)[1].split("Allocatable:", 1)[0]
        storage = _field(capacity, "ephemeral-storage")
        assert _bytes(storage) == storage_bytes > 0, (version, capacity)
        assert _field(out, "Machine ID") == machine_id, version
        assert _field(out, "Boot ID") == boot_id, version
        assert _field(out, "OS Image") != "podnet", version


def test_job_status_as_upstream_writes_it(up: UpCluster) -> None:
    """A finished Job's status as job_controller.go leaves it (1.31+): the interim
    SuccessCriteriaMet condition before Complete, and an empty uncountedTerminatedPods."""
    k = up.kubectl(KUBECTL_VERSIONS[0])
    k.ok("create", "job", "once", "--image=busybox", "--", "true")
    k.ok("wait", "--for=condition=complete", "job/once", "--timeout=60s", timeout=70)
    status = k.json("get", "job", "once")["status"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["uncountedTerminatedPods"] == {} and status["succeeded"] == 1, status
