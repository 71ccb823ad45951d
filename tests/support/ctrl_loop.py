"""The controllers running against the real Registry over a MemoryStore (no HTTP, no
kubelet): the tests play the kubelet by writing pod status themselves."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.manager import ControllerManager

Obj = dict[str, Any]
T = TypeVar("T")


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


PODS = res("", "Pod")
NODES = res("", "Node")
NAMESPACES = res("", "Namespace")
SERVICES = res("", "Service")
DEPLOYMENTS = res("apps", "Deployment")
REPLICASETS = res("apps", "ReplicaSet")
STATEFULSETS = res("apps", "StatefulSet")
DAEMONSETS = res("apps", "DaemonSet")
JOBS = res("batch", "Job")
SLICES = res("discovery.k8s.io", "EndpointSlice")
ENDPOINTS = res("", "Endpoints")
CONFIGMAPS = res("", "ConfigMap")


@contextmanager
def running(nodes: int = 2) -> Iterator[tuple[Registry, ControllerManager]]:
    """A registry with every controller running over it; stopped on exit."""
    registry = Registry(MemoryStore())
    manager = ControllerManager(registry, nodes=nodes)
    manager.start()
    try:
        assert manager.wait_synced(10.0)
        wait_for(lambda: len(registry.list(NODES, None).items) == nodes, what="nodes")
        wait_for(lambda: _has(registry, NAMESPACES, None, "default"), what="default namespace")
        yield registry, manager
    finally:
        manager.stop(5.0)
        registry.store.close()


def _has(registry: Registry, r: Resource, ns: str | None, name: str) -> bool:
    return any(o["metadata"]["name"] == name for o in registry.list(r, ns).items)


def wait_for(fn: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: T = fn()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last {last!r}")
        time.sleep(0.01)
        last = fn()
    return last


def pods(registry: Registry, ns: str = "default", selector: str = "") -> list[Obj]:
    return registry.list(PODS, ns, label_selector=selector).items


def mark(
    registry: Registry,
    pod: Obj,
    *,
    phase: str = "Running",
    ready: bool = True,
    ip: str | None = None,
) -> Obj:
    """What a kubelet writes: phase, podIP(s), the Ready condition."""
    for _ in range(20):
        current = registry.get(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        fresh = copy.deepcopy(current)
        st = fresh.setdefault("status", {})
        st["phase"] = phase
        if ip is not None:
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
        now = registry.now()
        conds = [c for c in st.get("conditions") or () if c.get("type") != "Ready"]
        conds.append(
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now}
        )
        st["conditions"] = conds
        try:
            out: Obj = registry.update(
                PODS,
                current["metadata"]["namespace"],
                current["metadata"]["name"],
                fresh,
                subresource="status",
            )
            return out
        except Exception as e:  # a controller wrote in between: read again
            if getattr(e, "code", None) != 409:
                raise
    raise AssertionError("could not write pod status")


def deployment(name: str, replicas: int, image: str = "nginx", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }


def found(registry: Registry, r: Resource, ns: str | None, name: str) -> Obj | None:
    """The object, or None when the registry says 404."""
    try:
        return registry.get(r, ns, name)
    except ApiError as e:
        if e.code != 404:
            raise
        return None
