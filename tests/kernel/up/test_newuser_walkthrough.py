"""Deviations from a real cluster that a new user walking through issues 9 and 10 with
kubectl 1.20 and 1.37 met against `podnet up`, each pinned here as kubectl shows it:

- ``kubectl diff`` of an object created without client-side apply (``create``, or
  ``apply --server-side``) printed ``annotations: {}`` and exited 1 forever: kubectl
  sends an empty annotations map, which kube-apiserver's typed round trip drops.
- deleting a Service's only pod and creating it again renamed the Service's
  EndpointSlice; the endpointslice controller turns a create beside a delete into an
  update of that slice (reconciler.go finalize), so the name stays.
- ``kubectl describe node`` said ``Failed to get lease``: a kubelet holds a Lease in
  kube-node-lease and renews it.

One `podnet up` serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, eventually, podnet_up
from support.live import require_live

from podnet.controllers.base import parse_time

pytestmark = pytest.mark.kernel

SERVER_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: nginx
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {app}}}
  ports: [{{port: 80}}]
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("newuser"), "--nodes", "2") as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_diff_is_clean_after_create_and_server_side_apply(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    v = version.replace(".", "")
    manifest = up.kubeconfig.parent / f"cm{v}.yaml"
    manifest.write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{v}\ndata:\n  a: '1'\n"
    )
    k.ok("create", "-f", str(manifest))
    done = k("diff", "-f", str(manifest))
    assert (done.rc, done.out) == (0, ""), done
    manifest.write_text(manifest.read_text().replace("'1'", "'2'"))
    done = k("diff", "-f", str(manifest))
    assert done.rc == 1 and '-  a: "1"' in done.out and '+  a: "2"' in done.out, done
    assert "annotations" not in done.out, done.out
    # kubectl create's manager owns data.a: taking it over needs --force-conflicts
    k.ok("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    done = k("diff", "-f", str(manifest))
    assert (done.rc, done.out) == (0, ""), done
    # an empty map sent on create is not kept either (Go omitempty)
    made = k.json("create", "configmap", f"empty{v}", "--dry-run=server")
    assert "annotations" not in made["metadata"] and "labels" not in made["metadata"]


def test_endpointslice_keeps_its_name_when_the_pod_is_replaced(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    pod = SERVER_POD.format(name="es-b", app="es")
    k.ok("apply", "-f", "-", stdin=pod + "---\n" + SERVICE.format(name="es-svc", app="es"))

    def slices() -> list[tuple[str, list[str]]]:
        items = k.json("get", "endpointslices", "-l", "kubernetes.io/service-name=es-svc")
        return [
            (s["metadata"]["name"], [a for e in s.get("endpoints") or [] for a in e["addresses"]])
            for s in items["items"]
        ]

    first = eventually(lambda: [s for s in slices() if s[1]], 30, "a slice with pod es-b")
    ((slice_name, (old_ip,)),) = first
    k.ok("delete", "pod", "es-b", "--wait=true", timeout=60)
    k.ok("apply", "-f", "-", stdin=pod)
    after = eventually(
        lambda: [s for s in slices() if s[1] and s[1] != [old_ip]], 30, "the new pod's IP"
    )
    assert [name for name, _ in after] == [slice_name], (first, after)
    assert len(slices()) == 1


def test_describe_node_shows_the_kubelet_lease(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    lease = eventually(
        lambda: (
            k("get", "lease", "-n", "kube-node-lease", "node-1", "-o", "json").rc == 0
            and k.json("get", "lease", "-n", "kube-node-lease", "node-1")
        ),
        15,
        "node-1's lease",
    )
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    out = k.ok("describe", "node", "node-1")
    assert "Failed to get lease" not in out, out
    assert "HolderIdentity:  node-1" in out, out
    table = k.ok("get", "leases", "-n", "kube-node-lease")
    assert table.split("\n")[0].split() == ["NAME", "HOLDER", "AGE"], table
    # renewed while the node runs (every 10 s, a quarter of leaseDurationSeconds)
    created = parse_time(lease["metadata"]["creationTimestamp"])
    assert created is not None

    def renewed() -> bool:
        got = k.json("get", "lease", "-n", "kube-node-lease", "node-1")["spec"]["renewTime"]
        stamp = parse_time(got)
        return stamp is not None and stamp >= created + 9

    eventually(renewed, 15, "a renewed lease")


def test_endpoints_without_pods_have_no_subsets(up: UpCluster) -> None:
    """Endpoints.subsets is omitempty: a Service selecting nothing shows no subsets key
    (`kubectl get ep -o yaml`), as kube-apiserver stores it."""
    k = up.kubectl("1.37")
    k.ok("create", "service", "clusterip", "nobody", "--tcp=80:80")
    ep = eventually(
        lambda: k("get", "endpoints", "nobody").rc == 0 and k.json("get", "endpoints", "nobody"),
        15,
        "the Endpoints of a Service without pods",
    )
    assert "subsets" not in ep, ep


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app in (db", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("app=a,", "found '', expected: identifier after ','"),
        ("app in web", "unable to parse requirement: found 'web' expected: '('"),
        (
            "n>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt'",
        ),
        ("-bad", 'unable to parse requirement: <nil>: Invalid value: "-bad": name part must'),
    ],
)
def test_bad_label_selectors_get_labels_parse_messages(
    up: UpCluster, selector: str, message: str
) -> None:
    """apimachinery labels.Parse's own wording, which kubectl prints after "Unable to
    find ... that match label selector"."""
    done = up.kubectl("1.37")("get", "pods", "-l", selector)
    assert done.rc == 1 and "Error from server (BadRequest)" in done.err, done
    assert done.err.rstrip().split('field selector "": ', 1)[1].startswith(message), done.err


def test_pod_spec_shows_the_priority_admission_defaults(up: UpCluster) -> None:
    """With no PriorityClass, Priority admission sets priority 0 and preemptionPolicy
    PreemptLowerPriority (plugin/pkg/admission/priority getDefaultPriority)."""
    pod = up.kubectl("1.20").json("run", "prio", "--image=busybox", "--dry-run=server")
    assert pod["spec"]["priority"] == 0
    assert pod["spec"]["preemptionPolicy"] == "PreemptLowerPriority"


def test_workload_status_omits_zero_counters(up: UpCluster) -> None:
    """DeploymentStatus and ReplicaSetStatus counters are omitempty: a rolled-out
    Deployment shows no unavailableReplicas: 0, and one scaled to 0 no replicas at all
    (clients read them as absent, as on a real cluster); ReplicaSet.status.replicas is
    not omitempty and stays."""
    k = up.kubectl("1.37")
    k.ok("create", "deployment", "zero", "--image=nginx")
    k.ok("rollout", "status", "deployment/zero", "--timeout=60s", timeout=70)
    status = k.json("get", "deployment", "zero")["status"]
    assert status["replicas"] == status["availableReplicas"] == 1, status
    assert "unavailableReplicas" not in status, status
    k.ok("scale", "deployment", "zero", "--replicas=0")

    def scaled() -> Any:
        st = k.json("get", "deployment", "zero")["status"]
        return "replicas" not in st and st

    status = eventually(scaled, 30, "the Deployment's status at 0 replicas")
    for key in ("readyReplicas", "availableReplicas", "updatedReplicas", "unavailableReplicas"):
        assert key not in status, status
    (rs,) = k.json("get", "rs", "-l", "app=zero")["items"]
    assert rs["status"]["replicas"] == 0 and "readyReplicas" not in rs["status"], rs["status"]
