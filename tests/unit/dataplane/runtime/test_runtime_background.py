"""The runtime driven by its background thread (where threads may be created).

The caller never steps the loop here: it waits on events set by the callbacks, as an
orchestrator with its own threads does.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from support.runtime import host_runtime, pod

from podnet.dataplane.runtime.state import SUCCEEDED, PodStatus
from podnet.model.objects import Container

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox")


def test_callbacks_arrive_without_stepping(tmp_path: Path) -> None:
    done = threading.Event()
    statuses: list[PodStatus] = []
    with host_runtime(tmp_path) as (rt, ev):

        def observe(s: PodStatus) -> None:
            statuses.append(s)
            if s.phase == SUCCEEDED:
                done.set()

        rt.on_status = observe
        rt.start_background()
        count = tmp_path / "n"
        script = f"echo run; echo x >> {count}; [ $(wc -l < {count}) -ge 2 ]"
        rt.start_pod(pod("bg", Container("c", "busybox", command=("sh", "-c", script)),
                         policy="OnFailure"))  # fmt: skip
        assert done.wait(15)
        assert rt.logs("default/bg") == ["run", "run"]
        assert ("default/bg", "run") in ev.logs
        assert rt.status("default/bg").containers[0].restart_count == 1


def test_stop_from_another_thread_while_driven(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, ev):
        rt.start_background()
        rt.start_pod(pod("sleeper", Container("c", "busybox", command=("sleep", "300"))))
        deadline = time.monotonic() + 10
        while ("default/sleeper", True) not in ev.ready and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ("default/sleeper", True) in ev.ready
        t0 = time.monotonic()
        rt.stop_pod("default/sleeper")
        assert time.monotonic() - t0 < 2.5  # sleep dies on SIGTERM, well within the grace
        assert rt.pods() == []
        assert ev.ready[-1] == ("default/sleeper", False)
