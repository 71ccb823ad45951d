"""The OpenAPI definitions of metrics.k8s.io/v1beta1, as metrics-server publishes them
(k8s.io/metrics pkg/apis/metrics/v1beta1 types.go, generated openapi) and
kube-aggregator merges into kube-apiserver's document."""

from __future__ import annotations

from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj

GROUP = "metrics.k8s.io"
BASE = "io.k8s.metrics.pkg.apis.metrics.v1beta1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def names(res: Resource) -> dict[str, str]:
    return {res.kind: BASE + res.kind, res.list_kind: BASE + res.list_kind}


def definitions(res: Resource, prefix: str) -> dict[str, Obj]:
    def ref(name: str) -> Obj:
        return {"$ref": prefix + name}

    usage: Obj = {
        "type": "object",
        "description": "The memory usage is the memory working set.",
        "additionalProperties": ref(QUANTITY),
    }
    gvk = {"group": res.group, "kind": res.kind, "version": res.version}
    common: Obj = {
        "apiVersion": {"type": "string", "description": "APIVersion of the object."},
        "kind": {"type": "string", "description": "Kind of the object."},
        "metadata": ref(META + "ObjectMeta"),
        "timestamp": ref(META + "Time"),
        "window": {"type": "string"},
    }
    if res.kind == "PodMetrics":
        props = common | {
            "containers": {
                "type": "array",
                "description": "Metrics for all containers are collected within the same "
                "time window.",
                "items": ref(BASE + "ContainerMetrics"),
            }
        }
        required = ["timestamp", "window", "containers"]
    else:
        props = common | {"usage": usage}
        required = ["timestamp", "window", "usage"]
    out: dict[str, Obj] = {
        BASE + res.kind: {
            "type": "object",
            "description": f"{res.kind} sets resource usage metrics of a "
            + ("pod." if res.kind == "PodMetrics" else "node."),
            "required": required,
            "properties": props,
            "x-kubernetes-group-version-kind": [gvk],
        },
        BASE + res.list_kind: {
            "type": "object",
            "description": f"{res.list_kind} is a list of {res.kind}.",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "items": {"type": "array", "items": ref(BASE + res.kind)},
                "kind": {"type": "string"},
                "metadata": ref(META + "ListMeta"),
            },
            "x-kubernetes-group-version-kind": [gvk | {"kind": res.list_kind}],
        },
    }
    if res.kind == "PodMetrics":
        out[BASE + "ContainerMetrics"] = {
            "type": "object",
            "description": "ContainerMetrics sets resource usage metrics of a container.",
            "required": ["name", "usage"],
            "properties": {
                "name": {"type": "string", "description": "Container name."},
                "usage": usage,
            },
        }
    return out
