"""Kubelet Events name the container they are about in ``involvedObject.fieldPath``
(pkg/kubelet/container/ref.go fieldPath), which ``kubectl get events -o wide`` shows as
SUBOBJECT and ``kubectl describe pod`` as "From ... {kubelet} spec.containers{c}"."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.dataplane.runtime.state import ContainerStatus, PodStatus
from podnet.live.kubelet_status import PodRecord, field_path
from podnet.live.kubelet_write import write_events
from podnet.model.objects import Container, Pod

Obj = dict[str, Any]


def _res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, POD, EVENTS = _res("Namespace"), _res("Pod"), _res("Event")

SPEC: Obj = {
    "containers": [{"name": "server"}, {"name": ""}],
    "initContainers": [{"name": "init"}],
    "ephemeralContainers": [{"name": "debugger"}],
}


def test_field_path_as_ref_go() -> None:
    pod = {"spec": SPEC}
    assert field_path(pod, "server") == "spec.containers{server}"
    assert field_path(pod, "init") == "spec.initContainers{init}"
    assert field_path(pod, "debugger") == "spec.ephemeralContainers{debugger}"
    assert field_path(pod, "") == "spec.containers[1]"
    assert field_path(pod, "pause") == "implicitly required container pause"


def test_observed_events_carry_the_container_path() -> None:
    obj = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"nodeName": "n0", **SPEC},
    }
    pod = Pod("ns", "p", {}, (Container("server", "nginx"),), ip="10.244.0.5", node="n0")
    rec = PodRecord(obj, pod, Path("/nonexistent"), "172.18.0.2", placed=True)
    t = time.monotonic()
    init = ContainerStatus("init", "Running", "", started=t, init=True)
    events = rec.observe(PodStatus("ns/p", "Pending", (init,), ()))
    assert {(e[1], e[3]) for e in events} == {
        ("Pulled", "spec.initContainers{init}"),
        ("Created", "spec.initContainers{init}"),
        ("Started", "spec.initContainers{init}"),
    }
    server = ContainerStatus("server", "Running", "", started=t, ready=True)
    events = rec.observe(PodStatus("ns/p", "Running", (), (server,)))
    assert [(e[1], e[3]) for e in events] == [
        ("Pulled", "spec.containers{server}"),
        ("Created", "spec.containers{server}"),
        ("Started", "spec.containers{server}"),
    ]


def test_written_event_has_the_field_path_and_a_pod_event_none() -> None:
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    pod = reg.create(
        POD,
        "default",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "server", "image": "x"}]}},
    )
    warnings: list[str] = []
    write_events(
        reg,
        [
            (pod, "Normal", "Killing", "Stopping container server", "spec.containers{server}"),
            (pod, "Warning", "FailedCreatePodSandBox", "no", ""),
        ],
        warnings.append,
    )
    assert warnings == []
    refs = {e["reason"]: e["involvedObject"] for e in reg.list(EVENTS, "default").items}
    assert refs["Killing"]["fieldPath"] == "spec.containers{server}"
    assert refs["Killing"]["name"] == "p" and refs["Killing"]["kind"] == "Pod"
    assert "fieldPath" not in refs["FailedCreatePodSandBox"]
