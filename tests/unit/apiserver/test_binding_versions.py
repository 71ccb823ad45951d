"""pods/binding writes a new version that shares unchanged parts with the stored one:
the version a reader already holds (an informer, a watch) must not change under it."""

from __future__ import annotations

import copy

from podnet.apiserver.binding import bind_pod
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.memory import MemoryStore


def test_bind_leaves_the_held_version_as_it_was() -> None:
    pods, namespaces = by_kind("", "Pod"), by_kind("", "Namespace")
    assert pods is not None and namespaces is not None
    registry = Registry(MemoryStore())
    registry.create(namespaces, None, {"metadata": {"name": "default"}})
    pod = {
        "metadata": {"name": "p", "annotations": {"a": "1"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    registry.create(pods, "default", pod)
    held = registry.get(pods, "default", "p")
    before = copy.deepcopy(held)
    binding = {"metadata": {"name": "p", "annotations": {"b": "2"}}, "target": {"name": "node-3"}}
    bound = bind_pod(registry, "default", "p", binding)
    assert held == before  # nothing changed in place
    assert bound["spec"]["nodeName"] == "node-3"
    assert bound["metadata"]["annotations"] == {"a": "1", "b": "2"}
    assert int(bound["metadata"]["resourceVersion"]) > int(held["metadata"]["resourceVersion"])
    (cond,) = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond["status"] == "True"
    assert registry.get(pods, "default", "p") == bound
