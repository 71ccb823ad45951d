"""More of what a new user walking through issues 9 and 10 with kubectl 1.20 and 1.37
saw differ from a real cluster, pinned as kubectl shows it:

- ``kubectl create deployment`` left ``metadata.generation`` at 2 (a real cluster: 1):
  the deployment controller wrote its revision annotation through the main resource,
  which bumps the generation; upstream writes it with UpdateStatus
  (deployment/sync.go), whose strategy takes annotations and keeps the generation.
- ``kubectl get events -o wide`` showed an empty SUBOBJECT for the kubelet's
  Created/Started: kubelet records them on the container's reference,
  ``spec.containers{name}`` (pkg/kubelet/container/ref.go).

One `podnet up` serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("newuser-gen"), "--nodes", "2") as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_deployment_generation_as_a_real_cluster(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    name = "gen" + version.replace(".", "")
    k.ok("create", "deployment", name, "--image=nginx")

    def at(generation: int, revision: str) -> Any:
        d = k.json("get", "deployment", name)
        meta, status = d["metadata"], d.get("status") or {}
        done = (
            (meta.get("annotations") or {}).get(REVISION) == revision
            and status.get("observedGeneration") == generation
            and status.get("updatedReplicas") == 1
        )
        return done and d

    d = eventually(lambda: at(1, "1"), 30, "revision 1 observed")
    assert d["metadata"]["generation"] == 1, d["metadata"]
    k.ok("rollout", "status", f"deployment/{name}", "--timeout=60s", timeout=70)
    # a template change: generation 2, a new ReplicaSet with revision 2
    k.ok("set", "env", f"deployment/{name}", "COLOUR=blue")
    d = eventually(lambda: at(2, "2"), 30, "revision 2 observed")
    assert d["metadata"]["generation"] == 2, d["metadata"]
    k.ok("rollout", "status", f"deployment/{name}", "--timeout=60s", timeout=70)
    history = k.ok("rollout", "history", f"deployment/{name}")
    rows = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert rows == ["1", "2"], history
    # undo: the first ReplicaSet back, now revision 3; the template change is generation 3
    k.ok("rollout", "undo", f"deployment/{name}")
    d = eventually(lambda: at(3, "3"), 30, "revision 3 observed")
    assert d["metadata"]["generation"] == 3, d["metadata"]
    env = d["spec"]["template"]["spec"]["containers"][0].get("env")
    assert not env, d["spec"]
    history = k.ok("rollout", "history", f"deployment/{name}")
    rows = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert rows == ["2", "3"], history
    # a scale is a spec change too: generation 4, the revision stays
    k.ok("scale", f"deployment/{name}", "--replicas=2")
    d = eventually(
        lambda: (
            (x := k.json("get", "deployment", name))["status"].get("observedGeneration") == 4 and x
        ),
        30,
        "the scale observed",
    )
    assert d["metadata"]["annotations"][REVISION] == "3"


def test_kubelet_events_name_the_container(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    k.ok(
        "apply",
        "-f",
        "-",
        stdin=(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: subobj\nspec:\n"
            "  terminationGracePeriodSeconds: 1\n"
            "  initContainers:\n  - name: prep\n    image: busybox\n    command: ['true']\n"
            "  containers:\n  - name: server\n    image: nginx\n"
        ),
    )

    def paths() -> Any:
        evs = k.json("get", "events", "--field-selector", "involvedObject.name=subobj")
        got = {
            (e["reason"], e["involvedObject"].get("fieldPath", ""))
            for e in evs["items"]
            if e["source"].get("component") == "kubelet"
        }
        return ("Started", "spec.containers{server}") in got and got

    got = eventually(paths, 30, "the server container's Started Event")
    for reason in ("Created", "Started"):
        assert (reason, "spec.containers{server}") in got, got
        assert (reason, "spec.initContainers{prep}") in got, got
    table = k.ok("get", "events", "-o", "wide", "--field-selector", "involvedObject.name=subobj")
    header, *rows = table.splitlines()
    assert "SUBOBJECT" in header.split(), header
    started = [r for r in rows if " Started " in f" {r} " and "spec.containers{server}" in r]
    assert started, table
    scheduled = [r for r in rows if " Scheduled " in f" {r} "]
    assert scheduled and "spec." not in scheduled[0], table  # the scheduler's: the pod
