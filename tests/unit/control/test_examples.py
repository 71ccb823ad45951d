"""build_cluster and DNS over real manifests through the loader (examples and docs)."""

from __future__ import annotations

from typing import Any

from support.paths import REPO

from podnet.control.cluster import build_cluster
from podnet.control.dns.lookup import build_records, resolve
from podnet.errors import Location
from podnet.manifests.build import from_documents
from podnet.manifests.files import load_paths

ROOT = REPO


def test_seed_pod_to_service() -> None:
    state = build_cluster(load_paths([str(ROOT / "examples/seed/pod-to-service.yaml")]))
    svc = state.service("default/my-service")
    b = state.pod("default/pod-b")
    assert svc is not None and b is not None and b.ip is not None
    (ep,) = state.endpoints["default/my-service"][""]
    assert (ep.pod, ep.ip, ep.port) == ("default/pod-b", b.ip, 80)
    # pod-a's `wget http://my-service`: first search domain default.svc.cluster.local
    ans = resolve(build_records(state), "my-service.default.svc.cluster.local.", "A")
    assert [rr.data for rr in ans.answers] == [svc.cluster_ip]


def test_seed_on_three_nodes_spreads() -> None:
    state = build_cluster(load_paths([str(ROOT / "examples/seed/pod-to-service.yaml")]), nodes=3)
    assert sorted(p.node or "" for p in state.pods) == ["node-0", "node-1", "node-2"]


def doc(obj: dict[str, Any], line: int) -> tuple[dict[str, Any], Location]:
    return obj, Location("statefulset.yaml", line)


def test_statefulset_hostnames_through_headless_service() -> None:
    """The StatefulSet basics tutorial: web-0.nginx.default.svc.cluster.local."""
    labels = {"app": "nginx"}
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "nginx", "labels": labels},
        "spec": {"ports": [{"port": 80, "name": "web"}], "clusterIP": "None", "selector": labels},
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "nginx",
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx",
                            "ports": [{"containerPort": 80, "name": "web"}],
                        }
                    ]
                },
            },
        },
    }
    state = build_cluster(from_documents([doc(svc, 1), doc(sts, 20)]), nodes=2)
    eps = state.endpoints["default/nginx"]["web"]
    assert sorted((e.pod, e.hostname) for e in eps) == [
        ("default/web-0", "web-0"),
        ("default/web-1", "web-1"),
    ]
    records = build_records(state)
    for i in range(2):
        p = state.pod(f"default/web-{i}")
        assert p is not None
        ans = resolve(records, f"web-{i}.nginx.default.svc.cluster.local", "A")
        assert [rr.data for rr in ans.answers] == [p.ip]
    srv = resolve(records, "_web._tcp.nginx.default.svc.cluster.local", "SRV")
    assert sorted(rr.data.split()[-1] for rr in srv.answers) == [
        "web-0.nginx.default.svc.cluster.local.",
        "web-1.nginx.default.svc.cluster.local.",
    ]
