"""The kubelet's pure parts: CRI log files (write, tail, since, timestamps, previous,
follow), the API status built from runtime statuses (states, lastState, conditions,
Events), and API objects converted through the manifests layer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.dataplane.runtime.logs import LogBuffer, rfc3339nano
from podnet.dataplane.runtime.state import ContainerStatus, PodStatus
from podnet.live import kubelet_logs
from podnet.live.desired import Converter, convert
from podnet.live.kubelet_status import PodRecord
from podnet.model.objects import Container, NetworkPolicy, Pod, Service


def test_rfc3339nano_drops_trailing_zeros_as_go_does() -> None:
    assert rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339nano(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"


def test_each_run_has_its_file_and_only_two_are_kept(tmp_path: Path) -> None:
    log = LogBuffer("ns/p", None, files=tmp_path)
    for run in range(3):
        log.new_instance(run)
        log.append(f"run {run} a")
        log.append(f"run {run} b")
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.log", "2.log"]
    line = (tmp_path / "2.log").read_bytes().splitlines()[0]
    stamp, stream, tag, text = line.split(b" ", 3)
    assert (stream, tag, text) == (b"stdout", b"F", b"run 2 a")
    assert stamp.endswith(b"Z") and b"T" in stamp
    current = kubelet_logs.pick(tmp_path, "p", previous=False)
    previous = kubelet_logs.pick(tmp_path, "p", previous=True)
    assert kubelet_logs.read(current, tail=1, since_seconds=None, timestamps=False) == b"run 2 b\n"
    assert kubelet_logs.read(previous, tail=None, since_seconds=None, timestamps=False) == (
        b"run 1 a\nrun 1 b\n"
    )
    stamped = kubelet_logs.read(current, tail=None, since_seconds=None, timestamps=True)
    assert stamped.splitlines()[0] == stamp + b" run 2 a"
    assert kubelet_logs.read(current, tail=0, since_seconds=None, timestamps=False) == b""


def test_since_seconds_drops_older_lines(tmp_path: Path) -> None:
    old = rfc3339nano(time.time_ns() - 3_600 * 10**9)
    new = rfc3339nano(time.time_ns())
    f = tmp_path / "0.log"
    f.write_text(f"{old} stdout F old\n{new} stdout F new\n")
    assert kubelet_logs.read(f, tail=None, since_seconds=60, timestamps=False) == b"new\n"


def test_missing_runs_answer_as_kubelet_does(tmp_path: Path) -> None:
    with pytest.raises(ApiError, match="waiting to start"):
        kubelet_logs.pick(tmp_path / "c", "p", previous=False)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "0.log").write_text("")
    with pytest.raises(ApiError, match='previous terminated container "c" in pod "p" not found'):
        kubelet_logs.pick(tmp_path / "c", "p", previous=True)
    pod = Pod("ns", "p", {}, (Container("a", "busybox"), Container("b", "busybox")))
    with pytest.raises(ApiError, match=r"choose one of: \[a b\]"):
        kubelet_logs.container_dir(tmp_path, pod, None)


def test_follow_yields_lines_as_written_until_stopped(tmp_path: Path) -> None:
    log = LogBuffer("ns/p", None, files=tmp_path)
    log.new_instance(0)
    log.append("first")
    done = threading.Event()
    got: list[bytes] = []
    reader = kubelet_logs.follow(
        tmp_path / "0.log", done.is_set, tail=None, since_seconds=None, timestamps=False
    )
    got.append(next(reader))
    log.append("second")
    got.append(next(reader))
    done.set()
    assert list(reader) == []
    log.close()
    assert got == [b"first\n", b"second\n"]


def _record() -> PodRecord:
    obj = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": {"nodeName": "n0"}}
    pod = Pod("ns", "p", {}, (Container("c", "busybox"),), ip="10.244.0.5", node="n0")
    return PodRecord(obj, pod, Path("/nonexistent"), "172.18.0.2", placed=True)


def _status(c: ContainerStatus, phase: str = "Running") -> PodStatus:
    return PodStatus("ns/p", phase, (), (c,))


def test_status_follows_a_crash_and_restart() -> None:
    rec = _record()
    t = time.monotonic()
    events = rec.observe(_status(ContainerStatus("c", "Running", "", started=t, ready=True)))
    assert [e[1] for e in events] == ["Pulled", "Created", "Started"]
    st = rec.api_status()
    assert st["phase"] == "Running" and st["podIP"] == "10.244.0.5"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    ready_since = next(c for c in st["conditions"] if c["type"] == "Ready")["lastTransitionTime"]
    assert st["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert st["containerStatuses"][0]["containerID"] == "podnet://u1/c/0"
    rec.observe(_status(ContainerStatus("c", "Terminated", "Error", 1, started=t)))
    events = rec.observe(_status(ContainerStatus("c", "Waiting", "CrashLoopBackOff", 1)))
    assert [e[1] for e in events] == ["BackOff"]
    st = rec.api_status()
    cs = st["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["ready"] is False
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "False"
    events = rec.observe(
        _status(ContainerStatus("c", "Running", "", restart_count=1, started=t + 1, ready=True))
    )
    assert [e[1] for e in events] == ["Pulled", "Created", "Started"]
    cs = rec.api_status()["containerStatuses"][0]
    assert cs["restartCount"] == 1 and "running" in cs["state"]
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    same = rec.api_status()
    assert same == rec.api_status()  # nothing changed: nothing to write
    assert next(c for c in same["conditions"] if c["type"] == "Ready")["lastTransitionTime"] >= (
        ready_since
    )


def test_api_objects_go_through_the_manifests_layer() -> None:
    svc = convert(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "uid": "s1", "resourceVersion": "7"},
            "spec": {
                "clusterIP": "10.96.0.77",
                "selector": {"app": "web"},
                "ports": [{"port": 80}],
            },
            "status": {"loadBalancer": {}},
        }
    )
    assert isinstance(svc, Service) and svc.cluster_ip == "10.96.0.77"
    assert svc.ports[0].target_port == 80  # defaulted as from a file
    warnings: list[str] = []
    conv = Converter(warnings.append)
    bad: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "x", "namespace": "ns", "uid": "n1", "resourceVersion": "1"},
        "spec": {"podSelector": {}, "policyTypes": ["Sideways"]},
    }
    good = {**bad, "spec": {"podSelector": {}}, "metadata": {**bad["metadata"], "uid": "n2"}}
    models = conv.all([bad, good])
    assert len(models) == 1 and isinstance(models[0], NetworkPolicy)
    assert warnings and "NetworkPolicy/ns/x" in warnings[0]
    assert conv.get(good) is models[0]  # cached by uid and resourceVersion


def _conditions(st: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
        for c in st["conditions"]
    ]


def test_conditions_say_why_as_generate_go_does() -> None:
    """status/generate.go: unready containers named, incomplete init containers named,
    a completed pod's reasons PodCompleted; generateAPIPodStatus' order."""
    obj = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": {"nodeName": "n0"}}
    pod = Pod(
        "ns",
        "p",
        {},
        (Container("a", "busybox"), Container("b", "busybox")),
        ip="10.244.0.5",
        node="n0",
        init_containers=(Container("setup", "busybox"),),
    )
    rec = PodRecord(obj, pod, Path("/nonexistent"), "172.18.0.2", placed=True)
    t = time.monotonic()
    init = ContainerStatus("setup", "Running", "", started=t, init=True)
    rec.observe(PodStatus("ns/p", "Pending", (init,), ()))
    assert _conditions(rec.api_status()) == [
        ("PodReadyToStartContainers", "True", "", ""),
        ("Initialized", "False", "ContainersNotInitialized",
         "containers with incomplete status: [setup]"),
        ("Ready", "False", "ContainersNotReady", "containers with unready status: [a b]"),
        ("ContainersReady", "False", "ContainersNotReady",
         "containers with unready status: [a b]"),
        ("PodScheduled", "True", "", ""),
    ]  # fmt: skip
    done = ContainerStatus("setup", "Terminated", "Completed", exit_code=0, init=True)
    a = ContainerStatus("a", "Running", "", started=t, ready=True)
    b = ContainerStatus("b", "Running", "", started=t, ready=False)
    rec.observe(PodStatus("ns/p", "Running", (done,), (a, b)))
    assert _conditions(rec.api_status())[1:4] == [
        ("Initialized", "True", "", ""),
        ("Ready", "False", "ContainersNotReady", "containers with unready status: [b]"),
        ("ContainersReady", "False", "ContainersNotReady", "containers with unready status: [b]"),
    ]
    a_done = ContainerStatus("a", "Terminated", "Completed", exit_code=0)
    b_done = ContainerStatus("b", "Terminated", "Completed", exit_code=0)
    rec.observe(PodStatus("ns/p", "Succeeded", (done,), (a_done, b_done)))
    assert _conditions(rec.api_status())[1:4] == [
        ("Initialized", "True", "PodCompleted", ""),
        ("Ready", "False", "PodCompleted", ""),
        ("ContainersReady", "False", "PodCompleted", ""),
    ]
