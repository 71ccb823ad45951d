"""A Deployment of 1,000 replicas over 10 nodes through every controller: each pod bound
(100 per node), all in ten EndpointSlices once Ready. A guard against work that grows
with the square of the pods (it would not finish within the timeouts)."""

from __future__ import annotations

from support.ctrl_loop import (
    DEPLOYMENTS,
    SERVICES,
    SLICES,
    deployment,
    mark,
    pods,
    running,
    wait_for,
)

from podnet.apiserver.store.base import Obj


def test_loop_thousand_replicas_over_ten_nodes() -> None:
    with running(nodes=10) as (registry, _):
        registry.create(
            SERVICES,
            "default",
            {
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
        )
        registry.create(DEPLOYMENTS, "default", deployment("web", 1000))
        # One snapshot with exactly 1,000 pods, all bound. (Once, under heavy load, a
        # later list held an unbound pod beside 1,000 bound ones: a transient extra pod
        # not yet explained; see the session notes.)
        snapshot: list[Obj] = []

        def all_bound() -> bool:
            snapshot[:] = pods(registry)
            return len(snapshot) == 1000 and all(p["spec"].get("nodeName") for p in snapshot)

        wait_for(all_bound, timeout=60, what="1000 pods, all bound")
        per_node: dict[str, int] = {}
        for i, p in enumerate(snapshot):
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
            mark(registry, p, ip=f"10.244.{i // 250}.{i % 250 + 2}")
        assert sorted(per_node.values()) == [100] * 10

        def ready() -> int:
            return sum(
                1
                for s in registry.list(SLICES, "default").items
                for e in s.get("endpoints") or ()
                if e["conditions"]["ready"]
            )

        wait_for(lambda: ready() == 1000, timeout=60, what="1000 ready endpoints")
        assert len(registry.list(SLICES, "default").items) == 10
        wait_for(
            lambda: (
                (registry.get(DEPLOYMENTS, "default", "web").get("status") or {}).get(
                    "availableReplicas"
                )
                == 1000
            ),
            timeout=60,
            what="deployment available",
        )
