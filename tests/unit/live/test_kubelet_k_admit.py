"""The kubelet's admission and Events on a fake node (no sandbox, no runtime): a pod
already Succeeded or Failed is not run again (pkg/kubelet/pod_workers.go UpdatePod),
and the image and Killing Events name their container in ``involvedObject.fieldPath``
(pkg/kubelet/container/ref.go); a policy change reaches the sync loop before a pod
written after it."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.dataplane.images.image import ImageNotPresentError
from podnet.live.kubelet import WATCHED, Kubelet

Obj = dict[str, Any]


def _res(kind: str) -> Resource:
    r = by_kind("", kind)
    assert r is not None
    return r


NS, POD, EVENTS = _res("Namespace"), _res("Pod"), _res("Event")


class FakeImages:
    """Images present once "pulled"; ``Never`` answers as the image registry does."""

    def __init__(self) -> None:
        self.store = None
        self.have: set[str] = set()
        self.pulls: list[str] = []

    def resolve(self, ref: str, policy: str | None) -> None:
        if ref in self.have:
            return
        if policy == "Never":
            raise ImageNotPresentError(f"{ref} is not present")
        self.pulls.append(ref)
        self.have.add(ref)


class FakeCluster:
    """What Kubelet reads of a LiveCluster before any pod starts; a sandbox made is
    counted (none must be, for the pods these tests give)."""

    def __init__(self, tmp: Path) -> None:
        node = SimpleNamespace(name="n0", address="172.18.0.2", pod_cidr="10.244.0.0/24")
        self._state = SimpleNamespace(nodes=[node], pods=[])
        self.state_dir = tmp
        self.runtime = SimpleNamespace(images=FakeImages())
        self.added: list[Any] = []

    def desired(self) -> Any:
        return self._state

    def add_pods(self, pods: list[Any], wait: float = 0) -> list[Any]:
        self.added += pods
        raise AssertionError("no pod of these tests gets a sandbox")


def _setup(tmp_path: Path) -> tuple[Registry, FakeCluster, Kubelet]:
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    cluster = FakeCluster(tmp_path)
    return reg, cluster, Kubelet(reg, cast(Any, cluster))


def _pod(reg: Registry, name: str, policy: str, phase: str | None = None) -> Obj:
    body: Obj = {
        "metadata": {"name": name},
        "spec": {
            "nodeName": "n0",
            "restartPolicy": "Never",
            "containers": [
                {"name": "job", "image": "example.com/job:1", "imagePullPolicy": policy}
            ],
        },
    }
    obj = reg.create(POD, "default", body)
    if phase is not None:
        obj["status"] = {"phase": phase}
    return obj


def _kubelet_events(reg: Registry, kubelet: Kubelet) -> set[tuple[str, str]]:
    kubelet.status.start()
    kubelet.status.stop()  # writes what was queued, then ends
    return {
        (e["reason"], e["involvedObject"].get("fieldPath", ""))
        for e in reg.list(EVENTS, "default").items
    }


def test_terminal_pods_are_not_admitted_again(tmp_path: Path) -> None:
    reg, cluster, kubelet = _setup(tmp_path)
    for phase in ("Succeeded", "Failed"):
        obj = _pod(reg, phase.lower(), "IfNotPresent", phase)
        kubelet._handle([(POD, "ADDED", obj)])
    assert kubelet._pods == {} and cluster.added == []
    assert kubelet._pulls.empty() and cluster.runtime.images.pulls == []
    assert _kubelet_events(reg, kubelet) == set()  # no status written, no Event
    kubelet._pool.shutdown()


def test_image_and_killing_events_carry_the_container_path(tmp_path: Path) -> None:
    reg, _, kubelet = _setup(tmp_path)
    kubelet._handle([(POD, "ADDED", _pod(reg, "never", "Never"))])  # ErrImageNeverPull
    kubelet._handle([(POD, "ADDED", _pod(reg, "pulled", "IfNotPresent"))])
    kubelet._running = True  # as start() sets it: the puller pulls while it is on
    kubelet._pull(*kubelet._pulls.get_nowait())
    kubelet._running = False
    kubelet._kill(kubelet._pods["default/pulled"], None)
    kubelet._pool.shutdown(wait=True)
    got = _kubelet_events(reg, kubelet)
    path = "spec.containers{job}"
    for reason in ("ErrImageNeverPull", "Failed", "Pulling", "Pulled", "Killing"):
        assert (reason, path) in got, got
    assert all(p == path for _, p in got), got


def test_a_policy_deleted_before_a_pod_is_created_is_queued_first(tmp_path: Path) -> None:
    """The seed's "delete the NetworkPolicy and a new client gets through": with a thread
    per watch the client's ADDED could overtake the policy's DELETED, and the client's
    start then waited for nothing and met the deleted policy."""
    netpol = by_kind("networking.k8s.io", "NetworkPolicy")
    assert netpol is not None and netpol in WATCHED
    reg, _, kubelet = _setup(tmp_path)
    for res in (POD, *WATCHED):  # as start() opens them: pods first
        rv = reg.list(res, None).resource_version
        kubelet._watches.append((res, reg.watch(res, None, resource_version=rv)))
    deny = {"metadata": {"name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    reg.create(netpol, "default", deny)
    reg.delete(netpol, "default", "deny")
    _pod(reg, "client", "IfNotPresent")
    kubelet._running = True
    t = threading.Thread(target=kubelet._watch)
    t.start()
    got: list[tuple[str, str]] = []
    try:
        while len(got) < 3:
            res, type_, _ = kubelet._queue.get(timeout=5)
            got.append((res.kind, type_))
    finally:
        kubelet._running = False
        kubelet._wake.set()
        t.join(5)
        kubelet._pool.shutdown()
    assert got == [("NetworkPolicy", "ADDED"), ("NetworkPolicy", "DELETED"), ("Pod", "ADDED")]
