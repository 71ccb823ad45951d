"""A pod sandbox's cgroup hierarchies: read-only for runc (which can only be kept from
making a cgroup that way), left alone for crun (``--cgroup-manager=disabled`` makes
none), which saves each pause nine remounts in a scale-up.

The sandbox runs in a child process of its own (one sandbox per process; its
namespaces die with it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.paths import PYTHONPATH
from support.sandbox import require_kernel

pytestmark = pytest.mark.kernel

SCRIPT = """
import json
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.model.cluster import Node
from podnet.model.objects import Container, Pod

def cgroup_options(pid):
    with open(f"/proc/{pid}/mountinfo") as f:
        rows = [ln.split() for ln in f if " - cgroup" in ln]
    return {r[4]: r[5].split(",")[0] for r in rows}

out = {}
sb = Sandbox.enter()
try:
    sb.add_nodes([Node("node-0", {}, "10.244.0.0/24", "172.18.0.2")])
    for i, ro in enumerate((True, False)):
        sb.cgroups_read_only = ro
        pod = Pod("default", f"p{i}", {}, (Container("c", "busybox"),), ip=f"10.244.0.{i + 2}",
                  node="node-0")
        sb.add_pods([pod])
        out[str(ro)] = cgroup_options(sb.pod_pid(pod.key))
finally:
    sb.close()
print(json.dumps(out))
"""


def test_cgroups_are_read_only_in_a_pod_only_when_asked() -> None:
    require_kernel()
    with open("/proc/self/mountinfo") as f:
        host = {r[4]: r[5].split(",")[0] for r in (ln.split() for ln in f if " - cgroup" in ln)}
    if not any(p.startswith("/sys/fs/cgroup") for p in host):
        pytest.skip("no cgroup hierarchy mounted under /sys/fs/cgroup")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={"PYTHONPATH": PYTHONPATH, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    ro, left = out["True"], out["False"]
    # runc's pod: every cgroup hierarchy read-only (the unified one may be hidden)
    assert ro and all(opt == "ro" for opt in ro.values()), ro
    # crun's pod: as on the host (the hybrid unified mount hidden in both)
    assert left == {p: o for p, o in host.items() if p in left}, (left, host)
    assert any(o == "rw" for o in left.values()), left
