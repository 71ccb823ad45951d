"""The run's documents through the Registry (podnet.live.core.objects), no kernel:
Status errors come back as located manifest errors and nothing is stored; a pod's
owner chain resolves to the document that made it; the plan matches pods to it."""

from __future__ import annotations

import pytest

from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.control.cluster import build_cluster
from podnet.errors import ManifestError
from podnet.live.core import objects
from podnet.live.core.bootstrap import bootstrap
from podnet.live.core.plan import Plan
from podnet.manifests import from_documents, parse_text

GOOD = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
"""


def _registry() -> Registry:
    registry = Registry(MemoryStore())
    bootstrap(registry)
    return registry


def test_valid_documents_create_namespaces_and_dry_run_the_rest() -> None:
    registry = _registry()
    docs = parse_text(GOOD, "good.yaml")
    found = objects.items(docs)
    assert [i.ref for i in found] == ["Namespace/shop", "Deployment/shop/web", "Pod/shop/client"]
    objects.check(registry, found, from_documents(docs).namespaces)
    pods, deployments = by_kind("", "Pod"), by_kind("apps", "Deployment")
    assert pods is not None and deployments is not None
    assert registry.list(pods, "shop").items == []  # dry run: nothing stored
    assert registry.list(deployments, "shop").items == []
    objects.create(registry, found[1])
    assert [d["metadata"]["name"] for d in registry.list(deployments, "shop").items] == ["web"]


def test_a_status_error_is_located_and_stores_nothing() -> None:
    registry = _registry()
    text = GOOD + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\n"
    text += "spec: {ports: [{port: 0}]}\n"
    found = objects.items(parse_text(text, "bad.yaml"))
    with pytest.raises(ManifestError) as info:
        objects.check(registry, found, [])
    e = info.value
    assert e.location is not None and (e.location.file, e.location.line) == ("bad.yaml", 20)
    assert e.obj == "Service/shop/s"
    assert e.field == "spec.ports[0].port"
    services = by_kind("", "Service")
    assert services is not None
    assert registry.list(services, "shop").items == []


def test_a_pods_top_owner_is_the_document_that_made_it() -> None:
    registry = _registry()
    rs, pods = by_kind("apps", "ReplicaSet"), by_kind("", "Pod")
    assert rs is not None and pods is not None
    ref = {"apiVersion": "apps/v1", "controller": True, "uid": "u1"}
    registry.create(
        rs,
        "default",
        {
            "metadata": {
                "name": "web-abc",
                "ownerReferences": [{**ref, "kind": "Deployment", "name": "web"}],
            },
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    pod = {
        "kind": "Pod",
        "metadata": {
            "namespace": "default",
            "name": "web-abc-x1",
            "ownerReferences": [{**ref, "kind": "ReplicaSet", "name": "web-abc"}],
        },
    }
    # the Deployment itself is not stored: the chain stops at the reference
    assert objects.top_owner(registry, pod) == ("Deployment", "default", "web")
    bare = {"kind": "Pod", "metadata": {"namespace": "default", "name": "p"}}
    assert objects.top_owner(registry, bare) == ("Pod", "default", "p")


def test_the_plan_splits_servers_and_clients_by_owner() -> None:
    manifests = from_documents(parse_text(GOOD, "good.yaml"))
    plan = Plan.of(manifests, build_cluster(manifests, 1))
    assert plan.served(("Deployment", "shop", "web")) is True
    assert plan.served(("Pod", "shop", "client")) is False
    assert plan.served(("Pod", "shop", "nothing")) is None
    assert (plan.servers, plan.clients) == (3, 1)  # two replicas and the DNS pod
