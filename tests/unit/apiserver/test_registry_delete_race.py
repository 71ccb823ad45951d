"""A delete racing another writer's delete answers 404 NotFound (store.go Delete), not
the store's KeyMissing: controllers deleting the same object at once saw tracebacks."""

from __future__ import annotations

from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.memory import MemoryStore


def test_delete_of_an_object_deleted_since_the_read_is_not_found() -> None:
    store = MemoryStore()
    registry = Registry(store)
    ns = by_kind("", "Namespace")
    assert ns is not None
    registry.create(ns, None, {"metadata": {"name": "default"}})
    cm = by_kind("", "ConfigMap")
    assert cm is not None
    registry.create(cm, "default", {"metadata": {"name": "x"}, "data": {"a": "b"}})
    key = cm.key("default", "x")
    stale = store.get(key)
    store.delete(key, expect_rv=int(stale["metadata"]["resourceVersion"]))  # type: ignore[index]

    real_get = store.get

    def get_stale(k: str) -> Any:  # the first read sees the object, as before the race
        return stale if k == key else real_get(k)

    store.get = get_stale  # type: ignore[method-assign,assignment]
    with pytest.raises(ApiError) as caught:
        registry.delete(cm, "default", "x")
    assert (caught.value.code, caught.value.reason) == (404, "NotFound")
