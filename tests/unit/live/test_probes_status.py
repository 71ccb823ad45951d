"""The kubelet's view of probes: containerStatuses[].started follows the startup probe
(prober_manager.go UpdatePodStatus) and each probe Event the runtime recorded becomes one
API Event, with the container's fieldPath."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from podnet.dataplane.runtime.probes import next_event
from podnet.dataplane.runtime.state import ContainerStatus, PodStatus
from podnet.live.kubelet_status import PodRecord
from podnet.model.objects import Container, Pod


def _record() -> PodRecord:
    obj = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"nodeName": "n0", "containers": [{"name": "c", "image": "busybox"}]},
    }
    pod = Pod("ns", "p", {}, (Container("c", "busybox"),), ip="10.244.0.5", node="n0")
    return PodRecord(obj, pod, Path("/nonexistent"), "172.18.0.2", placed=True)


def _status(c: ContainerStatus) -> PodStatus:
    return PodStatus("ns/p", "Running", (), (c,))


def test_started_waits_for_the_startup_probe() -> None:
    rec = _record()
    c = ContainerStatus("c", "Running", "", started=time.monotonic(), startup_done=False)
    rec.observe(_status(c))
    assert rec.api_status()["containerStatuses"][0]["started"] is False
    rec.observe(_status(replace(c, startup_done=True, ready=True)))
    cs = rec.api_status()["containerStatuses"][0]
    assert cs["started"] is True and cs["ready"] is True


def test_probe_events_are_recorded_once_each() -> None:
    rec = _record()
    c = ContainerStatus("c", "Running", "", started=time.monotonic())
    rec.observe(_status(c))
    first = next_event("Warning", "Unhealthy", "Liveness probe failed: nope")
    c = replace(c, probe_events=(first,))
    assert rec.observe(_status(c)) == [
        ("Warning", "Unhealthy", "Liveness probe failed: nope", "spec.containers{c}")
    ]
    assert rec.observe(_status(c)) == []  # the same status again: nothing new
    kill = next_event("Normal", "Killing", "Container c failed liveness probe, will be restarted")
    c = replace(c, probe_events=(first, kill))
    assert [e[1] for e in rec.observe(_status(c))] == ["Killing"]
