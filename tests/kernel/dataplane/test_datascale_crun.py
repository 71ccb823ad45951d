"""Every container's ``crun run`` runs from the sealed in-memory copy of crun
(``execs.sealed_program``), so crun does not copy and execute itself again; the
container's own processes do not inherit that descriptor, and a container with
``stdin: true`` starts the same way.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from support.live import argv_of, descendants
from support.sandbox import require_kernel

from podnet.dataplane.runtime.state import RUNNING
from podnet.live.cluster import LiveCluster
from podnet.manifests.files import load_paths

pytestmark = pytest.mark.kernel

MANIFEST = """---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: interactive}
spec:
  containers: [{name: c, image: busybox, command: [cat], stdin: true}]
"""


def _fd_targets(pid: int) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return out


def test_crun_run_is_the_sealed_copy_and_the_container_does_not_keep_it() -> None:
    require_kernel()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "pods.yaml"
        path.write_text(MANIFEST)
        with LiveCluster(load_paths([str(path)])) as cluster:
            state = cluster.start()
            assert cluster.runtime is not None
            if cluster.runtime.oci is None or not cluster.runtime.oci.binary.is_crun:
                pytest.skip("needs crun")
            pods = [p for p in state.pods if p.namespace == "default"]
            cluster.start_pods(pods)
            keys = [p.key for p in pods]
            end = time.monotonic() + 30
            while time.monotonic() < end:
                states = [cluster.runtime.status(k).containers[0].state for k in keys]
                if states == [RUNNING, RUNNING]:
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # crun has exec'd the container's program
            runs = [
                pid
                for pid in descendants(os.getpid())
                if b"run" in argv_of(pid) and any(b"/default/" in a for a in argv_of(pid))
            ]
            assert len(runs) == 2, [argv_of(p) for p in descendants(os.getpid())]
            for pid in runs:
                assert argv_of(pid)[0].startswith(b"/proc/self/fd/")
                # not re-executed from a copy of its own (that shows as exe "/")
                assert os.readlink(f"/proc/{pid}/exe") == "/memfd:crun (deleted)"
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    (init,) = [int(c) for c in f.read().split()]
                assert os.readlink(f"/proc/{init}/exe") != "/memfd:crun (deleted)"
                assert not [t for t in _fd_targets(init) if "memfd:crun" in t]
