"""``podnet probe`` on the core, without a kernel: which live pods are the user's, and
which pods start when (the probe's hold on the kubelet's starts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import yaml

from podnet.control.cluster import build_cluster
from podnet.errors import Location
from podnet.live.core import objects
from podnet.live.core.core import RunCluster
from podnet.live.probe.runner import _pinned, _Starts, user_pods
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState
from podnet.model.objects import Container, ContainerPort, Manifests, Pod

DOCS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {containers: [{name: c, image: busybox, command: [sleep, "1"]}]}
"""


def _manifests() -> Manifests:
    return from_documents([(d, Location("t", 1)) for d in yaml.safe_load_all(DOCS)])


def _pod(key: str, owner: str | None = None, port: int | None = None) -> Pod:
    ns, name = key.split("/")
    ports = () if port is None else (ContainerPort(port, "TCP"),)
    return Pod(ns, name, {}, (Container("c", "img", ports=ports),), owner=owner, ip="10.244.0.9")


def test_user_pods_are_matched_by_name_or_by_their_top_owner() -> None:
    manifests = _manifests()
    predicted = {p.key for p in build_cluster(manifests, 1).pods}
    live = [
        _pod("default/web-7d9f-abcde", "Deployment/web"),  # the controllers' names
        _pod("default/web-7d9f-fghij", "Deployment/web"),
        _pod("default/client"),
        _pod("default/stray", "Deployment/other"),  # made by nothing in the documents
        _pod("kube-system/coredns-0"),  # the static DNS pod
    ]
    assert not {p.key for p in live[:2]} & predicted  # not the engine's names
    state = dataclasses.replace(build_cluster(Manifests(), 1), pods=tuple(live))
    got = [p.key for p in user_pods(manifests, state)]
    assert got == ["default/web-7d9f-abcde", "default/web-7d9f-fghij", "default/client"]


class _Cluster:
    """What _Starts uses of a RunCluster: the desired Services, and start_pods."""

    def __init__(self) -> None:
        self.started: list[list[str]] = []

    def desired(self) -> ClusterState:
        return build_cluster(Manifests(), 1)

    def start_pods(self, pods: list[Pod], log_dirs: Mapping[str, Path] | None = None) -> None:
        self.started.append([p.key for p in pods])


def _starts(told: list[int]) -> tuple[_Starts, _Cluster]:
    cluster = _Cluster()
    starts = _Starts(cast(RunCluster, cluster), {"kube-system/coredns-0"}, lambda: told.append(1))
    return starts, cluster


def _keys(pods: Sequence[Pod]) -> list[str]:
    return [p.key for p in pods]


def test_servers_start_at_once_the_rest_once_the_plan_wants_them() -> None:
    told: list[int] = []
    starts, cluster = _starts(told)
    dns = _pod("kube-system/coredns-0", port=53)
    server, client, other = _pod("x/s", port=80), _pod("x/c"), _pod("x/o")
    logs: dict[str, Any] = {"x/c": Path("/logs/c")}
    assert _keys(starts.hold([dns], None)) == []  # static: held though it serves
    assert _keys(starts.hold([server, client, other], logs)) == ["x/s"]
    assert not told
    starts.release({"x/s", "x/c"})  # the plan needs c, not o (nor the DNS pod)
    assert cluster.started == [["x/c"]]
    assert told == [1]  # everything the plan needs has started
    # after the plan: what it needs passes, the rest never starts; told only once
    assert _keys(starts.hold([_pod("x/c"), _pod("x/o")], None)) == ["x/c"]
    assert told == [1]


def test_told_only_once_the_last_needed_pod_comes_through() -> None:
    told: list[int] = []
    starts, cluster = _starts(told)
    starts.release({"x/s", "x/late"})  # x/s has not reached the kubelet's start yet
    assert cluster.started == [] and not told
    assert _keys(starts.hold([_pod("x/s", port=80)], None)) == ["x/s"]
    assert not told
    assert _keys(starts.hold([_pod("x/late")], None)) == ["x/late"]
    assert told == [1]


def test_bare_pods_are_bound_where_the_engine_placed_them() -> None:
    """Bare pods get the engine's node (spec.nodeName) and, through RunCluster.reserved,
    its IP; a Deployment's pods and a pod that names its node are left alone."""
    docs = [(d, Location("t", 1)) for d in yaml.safe_load_all(DOCS)]
    pinned_doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "fixed"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]},
    }
    docs.append((pinned_doc, Location("t", 2)))
    predicted = build_cluster(from_documents(docs), 3)
    found, bare = _pinned(objects.items(docs), predicted)
    client = next(p for p in predicted.pods if p.key == "default/client")
    assert [p.key for p in bare] == ["default/client"]
    assert bare[0].ip == client.ip and client.ip is not None
    specs = {i.ref: i.obj["spec"] for i in found}
    assert specs["Pod/default/client"]["nodeName"] == client.node
    assert specs["Pod/default/fixed"]["nodeName"] == "node-1"
    assert "nodeName" not in specs["Deployment/default/web"]["template"]["spec"]
