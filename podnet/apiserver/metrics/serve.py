"""NodeMetrics and PodMetrics as metrics-server's API answers them (pkg/api/pod.go,
node.go, table.go): objects built on request from the pods and nodes the registry
holds and the usage the storage has for them.

get of an object with no usage yet is NotFound (``podmetrics.metrics.k8s.io
"default/web" not found``, what ``kubectl top pod`` prints before the first scrape);
a list leaves such objects out (kubectl then says "metrics not available yet"). Label
and field selectors select the pods or nodes, as metrics-server's listers do.
"""

from __future__ import annotations

import time

from podnet.apiserver import errors, resources, strategy
from podnet.apiserver.metrics.quantity import binary_bytes, go_duration, nanocores, parse
from podnet.apiserver.metrics.storage import PodUsage, Storage, Usage
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.base import Obj

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
PODS = resources.by_path("", "v1", "pods")
NODES = resources.by_path("", "v1", "nodes")


def _meta(obj: Obj, now: float) -> Obj:
    src = obj.get("metadata") or {}
    meta: Obj = {"name": src.get("name")}
    if src.get("namespace"):
        meta["namespace"] = src["namespace"]
    meta["creationTimestamp"] = strategy.rfc3339(now)
    if src.get("labels"):
        meta["labels"] = src["labels"]
    return meta


def pod_metrics(pod: Obj, usage: PodUsage, now: float) -> Obj:
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": _meta(pod, now),
        "timestamp": strategy.rfc3339(usage.timestamp),
        "window": go_duration(usage.window),
        "containers": [
            {
                "name": c.container,
                "usage": {"cpu": nanocores(c.nanocores), "memory": binary_bytes(c.memory)},
            }
            for c in usage.containers
        ],
    }


def node_usage(storage: Storage, node: str, pods: list[Obj]) -> PodUsage | None:
    """The sum of the usage of the node's pods (podnet's nodes run nothing else that is
    measured); None before the first scrape."""
    if storage.last_scrape is None:
        return None
    cpu = mem = 0
    window = 0.0
    for pod in pods:
        if (pod.get("spec") or {}).get("nodeName") != node:
            continue
        meta = pod.get("metadata") or {}
        u = storage.pod(meta.get("namespace", ""), meta.get("name", ""))
        if u is not None:
            cpu, mem, window = cpu + u.nanocores, mem + u.memory, max(window, u.window)
    return PodUsage(storage.last_scrape, window, (Usage("", cpu, mem),))


def node_metrics(node: Obj, usage: PodUsage, now: float) -> Obj:
    return {
        "kind": "NodeMetrics",
        "apiVersion": API_VERSION,
        "metadata": _meta(node, now),
        "timestamp": strategy.rfc3339(usage.timestamp),
        "window": go_duration(usage.window),
        "usage": {"cpu": nanocores(usage.nanocores), "memory": binary_bytes(usage.memory)},
    }


def get(storage: Storage, registry: Registry, plural: str, namespace: str | None, name: str) -> Obj:
    now = time.time()
    assert PODS is not None and NODES is not None
    if plural == "pods":
        qualified = f"{namespace}/{name}"
        try:
            pod = registry.get(PODS, namespace, name)
        except errors.ApiError:
            raise errors.not_found(GROUP, "podmetrics", qualified) from None
        usage = storage.pod(namespace or "", name)
        if usage is None:
            raise errors.not_found(GROUP, "podmetrics", qualified)
        return pod_metrics(pod, usage, now)
    try:
        node = registry.get(NODES, None, name)
    except errors.ApiError:
        raise errors.not_found(GROUP, "nodemetrics", name) from None
    pods = registry.list(PODS, None, field_selector=f"spec.nodeName={name}").items
    nu = node_usage(storage, name, pods)
    if nu is None:
        raise errors.not_found(GROUP, "nodemetrics", name)
    return node_metrics(node, nu, now)


def list_items(
    storage: Storage,
    registry: Registry,
    plural: str,
    namespace: str | None,
    label_selector: str,
    field_selector: str,
) -> list[Obj]:
    now = time.time()
    assert PODS is not None and NODES is not None
    if plural == "pods":
        pods = registry.list(
            PODS, namespace, label_selector=label_selector, field_selector=field_selector
        ).items
        out = []
        for pod in pods:
            meta = pod.get("metadata") or {}
            usage = storage.pod(meta.get("namespace", ""), meta.get("name", ""))
            if usage is not None:
                out.append(pod_metrics(pod, usage, now))
        return out
    nodes = registry.list(
        NODES, None, label_selector=label_selector, field_selector=field_selector
    ).items
    all_pods = registry.list(PODS, None).items
    items = []
    for node in nodes:
        nu = node_usage(storage, (node.get("metadata") or {}).get("name", ""), all_pods)
        if nu is not None:
            items.append(node_metrics(node, nu, now))
    return items


def _usage_of(obj: Obj) -> dict[str, str]:
    if obj["kind"] == "NodeMetrics":
        return dict(obj["usage"])
    cpu = mem = 0
    for c in obj["containers"]:
        cpu += int(parse(c["usage"]["cpu"]) * 1_000_000_000)
        mem += int(parse(c["usage"]["memory"]))
    return {"cpu": nanocores(cpu), "memory": binary_bytes(mem)}


def table(items: list[Obj], include_object: str, table_version: str) -> Obj:
    """metrics-server pkg/api/table.go (addPodMetricsToTable, addNodeMetricsToTable):
    Name, one quantity column per resource name sorted (cpu, memory), and Window."""
    cols: list[Obj] = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name of the resource"}
    ]
    rows = []
    names: list[str] | None = None
    for obj in items:
        usage = _usage_of(obj)
        if names is None:
            names = sorted(usage)
            cols += [{"name": n, "type": "string", "format": "quantity"} for n in names]
            cols.append({"name": "Window", "type": "string", "format": "duration"})
        row: Obj = {"cells": [obj["metadata"]["name"], *(usage[n] for n in names), obj["window"]]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    for c in cols:
        c.setdefault("description", "")
        c.setdefault("priority", 0)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": {},
        "columnDefinitions": cols,
        "rows": rows,
    }
