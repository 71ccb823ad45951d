"""Lists exported from a cluster (items without kind) and ReplicationControllers.

``kubectl get pods -o json`` writes a ``PodList`` whose items carry no kind or
apiVersion; the API machinery fills them from the list (apimachinery unstructured
``decodeToList``). ReplicationControllers expand like ReplicaSets (the ReplicaSet
controller runs them), so the classic guestbook has its pods.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podnet.cli.main import main
from podnet.errors import ManifestError
from podnet.manifests import from_documents, parse_text
from podnet.model.objects import Manifests


def load(text: str, name: str = "m.yaml") -> Manifests:
    return from_documents(parse_text(text, name))


def exported(list_kind: str, items: list[dict[str, object]]) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": list_kind,
            "metadata": {"resourceVersion": "1"},
            "items": items,
        },
        indent=2,
    )


POD_ITEM: dict[str, object] = {
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}
SERVICE_ITEM: dict[str, object] = {
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}


def test_pod_list_items_take_the_list_kind() -> None:
    m = load(exported("PodList", [POD_ITEM]), "pods.json")
    assert [p.key for p in m.pods] == ["default/web"]
    assert m.pods[0].meta is not None and m.pods[0].meta.kind == "Pod"
    assert str(m.pods[0].meta.location) == "pods.json:8"  # the item's own line


def test_service_list_items_take_the_list_kind() -> None:
    m = load(exported("ServiceList", [SERVICE_ITEM]))
    assert [s.key for s in m.services] == ["default/web"]


def test_yaml_pod_list_item_errors_point_into_the_item() -> None:
    text = """\
apiVersion: v1
kind: PodList
items:
  - metadata: {name: web}
    spec:
      containers:
        - name: c
          image: nginx
          ports: [{containerPort: 0}]
"""
    with pytest.raises(ManifestError) as e:
        load(text)
    assert (str(e.value.location), e.value.obj, e.value.field) == (
        "m.yaml:9",
        "Pod/default/web",
        "spec.containers[0].ports[0].containerPort",
    )


def test_list_items_with_their_own_kind_keep_it() -> None:
    item = {"apiVersion": "v1", "kind": "Service", **SERVICE_ITEM}
    m = load(exported("PodList", [item]))
    assert [s.key for s in m.services] == ["default/web"] and m.pods == ()


def test_plain_list_item_without_kind_is_still_an_error() -> None:
    with pytest.raises(ManifestError) as e:
        load(exported("List", [POD_ITEM]), "l.json")
    assert (str(e.value.location), e.value.field) == ("l.json:8", "kind")
    assert "kind must be set" in e.value.message


def test_list_kind_fill_needs_both_missing() -> None:
    """apimachinery fills only when kind and apiVersion are both empty."""
    item = {"apiVersion": "v1", **POD_ITEM}
    with pytest.raises(ManifestError) as e:
        load(exported("PodList", [item]))
    assert e.value.field == "kind"


def test_cluster_policy_list() -> None:
    text = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicyList
items:
  - metadata: {name: a}
    spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}
"""
    assert [p.key for p in load(text).cluster_policies] == ["ClusterNetworkPolicy/a"]


# The classic guestbook (kubernetes/examples, guestbook/legacy): ReplicationControllers.
GUESTBOOK = """\
apiVersion: v1
kind: ReplicationController
metadata:
  name: redis-master
  labels: {app: redis, role: master, tier: backend}
spec:
  replicas: 1
  template:
    metadata:
      labels: {app: redis, role: master, tier: backend}
    spec:
      containers:
        - name: master
          image: redis
          ports: [{containerPort: 6379}]
---
apiVersion: v1
kind: Service
metadata:
  name: redis-master
spec:
  ports: [{port: 6379, targetPort: 6379}]
  selector: {app: redis, role: master, tier: backend}
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: redis-slave
spec:
  replicas: 2
  selector: {app: redis, role: slave}
  template:
    metadata:
      labels: {app: redis, role: slave, tier: backend}
    spec:
      containers:
        - name: slave
          image: gcr.io/google_samples/gb-redisslave:v1
          ports: [{containerPort: 6379}]
---
apiVersion: v1
kind: Service
metadata:
  name: redis-slave
spec:
  ports: [{port: 6379}]
  selector: {app: redis, role: slave, tier: backend}
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: frontend
spec:
  template:
    metadata:
      labels: {app: guestbook, tier: frontend}
    spec:
      containers:
        - name: php-redis
          image: gcr.io/google-samples/gb-frontend:v4
          ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  type: NodePort
  ports: [{port: 80}]
  selector: {app: guestbook, tier: frontend}
"""


def test_guestbook_replication_controllers_expand() -> None:
    m = load(GUESTBOOK)
    owners = [p.owner for p in m.pods]
    assert owners == [
        "ReplicationController/redis-master",
        "ReplicationController/redis-slave",
        "ReplicationController/redis-slave",
        "ReplicationController/frontend",  # replicas defaults to 1
    ]
    assert m.warnings == ()
    for pod in m.pods:
        rc = (pod.owner or "").split("/")[1]
        assert pod.name.startswith(f"{rc}-") and len(pod.name) == len(rc) + 6
    for service in m.services:
        selected = [
            p.name
            for p in m.pods
            if service.selector is not None
            and all(p.labels.get(k) == v for k, v in service.selector.items())
        ]
        assert selected, service.key


def test_replication_controller_names_like_a_replica_set() -> None:
    rc = load(GUESTBOOK).pods[1:3]
    rs_text = (
        GUESTBOOK.split("---\n")[2]
        .replace(
            "apiVersion: v1\nkind: ReplicationController", "apiVersion: apps/v1\nkind: ReplicaSet"
        )
        .replace(
            "selector: {app: redis, role: slave}",
            "selector: {matchLabels: {app: redis, role: slave}}",
        )
    )
    rs = load(rs_text).pods
    assert [p.name for p in rc] == [p.name for p in rs]
    assert [p.labels for p in rc] == [p.labels for p in rs]


RC = """\
apiVersion: v1
kind: ReplicationController
metadata: {name: r}
spec:
  replicas: 2
  selector: {selector}
  template:
    metadata:
      labels: {app: a}
    spec:
      containers: [{name: c, image: busybox}]
"""


@pytest.mark.parametrize(
    ("selector", "line", "field", "fragment"),
    [
        (
            "{app: b}",
            9,
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        ),
        ("{'a b': c}", 6, "spec.selector.a b", "Invalid label key"),
    ],
)
def test_replication_controller_selector_checks(
    selector: str, line: int, field: str, fragment: str
) -> None:
    with pytest.raises(ManifestError) as e:
        load(RC.replace("{selector}", selector))
    assert (str(e.value.location), e.value.obj, e.value.field) == (
        f"m.yaml:{line}",
        "ReplicationController/default/r",
        field,
    )
    assert fragment in e.value.message


def test_replication_controller_without_selector_or_labels() -> None:
    text = RC.replace("  selector: {selector}\n", "").replace("labels: {app: a}", "labels: {}")
    with pytest.raises(ManifestError) as e:
        load(text)
    assert e.value.field == "spec.selector" and "Required value" in e.value.message


def test_replication_controller_replicas_zero() -> None:
    assert (
        load(RC.replace("replicas: 2", "replicas: 0").replace("{selector}", "{app: a}")).pods == ()
    )


def test_guestbook_analyze_counts_its_pods(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "guestbook.yaml"
    f.write_text(GUESTBOOK)
    assert main(["analyze", "-f", str(f)]) == 0
    assert capsys.readouterr().out.startswith("4 pods,")


def test_guestbook_explain_and_lint_see_the_controllers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "guestbook.yaml"
    f.write_text(GUESTBOOK)
    assert main(["explain", "-f", str(f), "rc/frontend", "svc/redis-master"]) == 0
    out = capsys.readouterr().out
    assert "FROM     pod default/frontend-" in out
    assert "ENDPOINT default/redis-master-" in out
    main(["lint", "-f", str(f)])
    assert "service-selects-nothing" not in capsys.readouterr().out
