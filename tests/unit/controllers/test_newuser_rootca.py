"""kube-root-ca.crt in every namespace (rootcacertpublisher/publisher.go): created with
each namespace, put back when deleted or changed, its other annotations kept, none in
a namespace being deleted; and not run at all without a CA."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager

from support.ctrl_loop import CONFIGMAPS, NAMESPACES, found, wait_for

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.manager import ControllerManager
from podnet.controllers.rootcacert import DESCRIPTION, DESCRIPTION_ANNOTATION, ROOT_CA_CONFIGMAP

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@contextmanager
def publishing(ca_pem: str | None) -> Iterator[Registry]:
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    manager = ControllerManager(registry, nodes=1, ca_pem=ca_pem)
    manager.start()
    try:
        assert manager.wait_synced(10.0)
        yield registry
    finally:
        manager.stop(5.0)
        registry.store.close()


def _ca(registry: Registry, ns: str) -> str | None:
    cm = found(registry, CONFIGMAPS, ns, ROOT_CA_CONFIGMAP)
    if cm is None:
        return None
    assert cm["metadata"]["annotations"][DESCRIPTION_ANNOTATION] == DESCRIPTION
    ca: str = cm["data"]["ca.crt"]
    return ca


def test_every_namespace_gets_the_ca_and_keeps_it() -> None:
    with publishing(PEM) as reg:
        assert wait_for(lambda: _ca(reg, "default"), what="default's CA") == PEM
        reg.create(NAMESPACES, None, {"metadata": {"name": "team"}})
        assert wait_for(lambda: _ca(reg, "team"), what="a new namespace's CA") == PEM
        reg.delete(CONFIGMAPS, "team", ROOT_CA_CONFIGMAP)
        assert wait_for(lambda: _ca(reg, "team"), what="the CA again") == PEM
        cm = copy.deepcopy(reg.get(CONFIGMAPS, "team", ROOT_CA_CONFIGMAP))
        cm["data"] = {"ca.crt": "tampered", "extra": "x"}
        cm["metadata"]["annotations"] = {"mine": "kept"}
        reg.update(CONFIGMAPS, "team", ROOT_CA_CONFIGMAP, cm)

        def restored() -> bool:
            now = reg.get(CONFIGMAPS, "team", ROOT_CA_CONFIGMAP)
            want = {"mine": "kept", DESCRIPTION_ANNOTATION: DESCRIPTION}
            return bool(now["data"] == {"ca.crt": PEM} and now["metadata"]["annotations"] == want)

        wait_for(restored, what="the CA put back")


def test_a_terminating_namespace_gets_none() -> None:
    with publishing(PEM) as reg:
        reg.create(NAMESPACES, None, {"metadata": {"name": "gone"}})
        wait_for(lambda: _ca(reg, "gone"), what="its CA")
        reg.create(
            CONFIGMAPS,
            "gone",
            {"metadata": {"name": "hold", "finalizers": ["example.com/hold"]}},
        )
        reg.delete(NAMESPACES, None, "gone")
        wait_for(lambda: _ca(reg, "gone") is None, what="the namespace emptied")
        time.sleep(0.3)  # its deletion queued a sync: the create was refused
        assert _ca(reg, "gone") is None
        ns = reg.get(NAMESPACES, None, "gone")
        assert ns["status"]["phase"] == "Terminating"


def test_no_ca_no_publisher() -> None:
    registry = Registry(MemoryStore())
    manager = ControllerManager(registry, nodes=1)
    assert "root-ca-cert-publisher" not in [c.name for c in manager.controllers]
    with_ca = ControllerManager(registry, nodes=1, ca_pem=PEM)
    assert "root-ca-cert-publisher" in [c.name for c in with_ca.controllers]
    registry.store.close()
