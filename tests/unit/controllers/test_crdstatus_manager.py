"""The CRD status controller is one of the controller manager's controllers (no longer
started by the garbage collector), and the collector follows the served table through
:func:`podnet.apiserver.resources.add_custom_listener`, unsubscribed when stopped."""

from __future__ import annotations

from support.ctrl_loop import running, wait_for

from podnet.apiserver import resources
from podnet.apiserver.resources import Resource
from podnet.controllers.garbagecollector import GarbageCollector

CRD: dict[str, object] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.org"},
    "spec": {
        "group": "example.org",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def test_crd_status_is_a_manager_controller_and_the_collector_follows_it() -> None:
    crds = resources.by_kind("apiextensions.k8s.io", "CustomResourceDefinition")
    assert crds is not None
    try:
        with running(nodes=1) as (registry, manager):
            names = [c.name for c in manager.controllers]
            assert names.count("crd-status") == 1
            gc = manager.get("garbage-collector")
            assert isinstance(gc, GarbageCollector)
            assert not hasattr(gc, "crd_status")
            registry.create(crds, None, CRD)

            def served() -> Resource | None:
                return resources.by_path("example.org", "v1", "gadgets")

            res = wait_for(served, what="gadgets served")
            assert res is not None
            # the collector watches the new resource (its informer started)
            wait_for(lambda: res in gc._infs, what="collector watches gadgets")
            assert gc.watch_new_resources in resources._listeners
        assert gc.watch_new_resources not in resources._listeners
    finally:
        resources.set_custom([])


def test_listeners_hear_changes_only() -> None:
    heard: list[int] = []

    def listener() -> None:
        heard.append(resources.custom_generation())

    resources.add_custom_listener(listener)
    try:
        assert not resources.set_custom([])  # nothing changed: nobody told
        res = Resource("example.net", "v1", "Thing", "things", True)
        assert resources.set_custom([res])
        assert heard == [resources.custom_generation()]
        assert not resources.set_custom([res])
        assert len(heard) == 1
    finally:
        resources.remove_custom_listener(listener)
        resources.set_custom([])
    assert len(heard) == 1  # removed before the last change
