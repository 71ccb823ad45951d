"""A batch thread starts a pod's program without nsenter (``Sandbox.spawn`` on a thread of
``Sandbox.batch``, :mod:`podnet.dataplane.sandbox.threadns`): the process is in exactly
the namespaces ``nsenter`` would have put it in (the pause's network, UTS, IPC and mount
namespaces, the cluster's PID namespace), in the working directory asked for, with its
own argv; the thread is back in its own namespaces and directory after each start.

The sandbox runs in a child process of its own (one sandbox per process; its
namespaces die with it).
"""

from __future__ import annotations

import sys

import pytest
from support.sandbox import require_kernel, run_json_child

pytestmark = pytest.mark.kernel

SCRIPT = """
import json, os, subprocess, time
from podnet.dataplane.sandbox import threadns
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import PodnetError
from podnet.model.cluster import Node
from podnet.model.objects import Container, Pod

KINDS = ("net", "uts", "ipc", "mnt", "pid", "user", "cgroup")

def ns(path):
    return {k: os.readlink(f"{path}/ns/{k}") for k in KINDS}

out = {"main": ns("/proc/thread-self"), "cwd": os.getcwd(), "entered": 0}
real_entered = threadns.entered

def counted(pid):
    out["entered"] += 1
    return real_entered(pid)

threadns.entered = counted  # the path taken: the thread's own setns, not nsenter
sb = Sandbox.enter()
try:
    sb.add_nodes([Node("node-0", {}, "10.244.0.0/24", "172.18.0.2")])
    pods = [Pod("default", f"p{i}", {}, (Container("c", "busybox"),), ip=f"10.244.0.{i + 2}",
                node="node-0") for i in range(2)]
    sb.add_pods(pods)
    out["pauses"] = {p.key: ns(f"/proc/{sb.pod_pid(p.key)}") for p in pods}
    out["init_pidns"] = os.readlink(f"/proc/{sb.init_pid}/ns/pid")

    def start(key):
        procs = []
        for wd in ("/", "/etc"):
            proc = sb.spawn(key, ["/bin/sleep", "30"], cwd=wd, stdout=subprocess.DEVNULL)
            procs.append(proc)
        after = ns("/proc/thread-self")
        seen = [{"ns": ns(f"/proc/{p.pid}"), "cwd": os.readlink(f"/proc/{p.pid}/cwd"),
                 "argv": open(f"/proc/{p.pid}/cmdline").read().split(chr(0))[:-1]}
                for p in procs]
        for p in procs:
            p.kill()
            p.wait()
        try:
            sb.spawn("default/nope", ["/bin/true"])
            missing = "started"
        except PodnetError as e:
            missing = type(e).__name__
        return {"procs": seen, "thread_after": after, "cwd_after": os.getcwd(),
                "missing": missing}

    out["batch"] = dict(zip([p.key for p in pods],
                            sb.batch([lambda k=p.key: start(k) for p in pods])))
    out["entered_batch"] = out["entered"]
    # a kernel before 5.8 (no setns through a pidfd): one /proc/<pid>/ns file each
    threadns._pidfd_setns = False
    out["by_files"] = sb.batch([lambda: start("default/p1")])[0]
    threadns._pidfd_setns = True
    # off a batch thread: nsenter as before
    one = sb.spawn("default/p0", ["/bin/sleep", "30"], stdout=subprocess.DEVNULL)
    for _ in range(500):  # until nsenter has entered and exec'd sleep
        if os.readlink(f"/proc/{one.pid}/exe").endswith("sleep"):
            break
        time.sleep(0.01)
    out["single"] = ns(f"/proc/{one.pid}")
    one.kill()
    one.wait()
finally:
    sb.close()
print(json.dumps(out))
"""


def test_a_batch_thread_starts_a_pods_program_in_the_pods_namespaces() -> None:
    require_kernel()
    out = run_json_child([sys.executable, "-c", SCRIPT], cwd="/tmp")
    main = out["main"]
    for key, got in out["batch"].items():
        pause = out["pauses"][key]
        for seen, wd in zip(got["procs"], ("/", "/etc"), strict=True):
            for kind in ("net", "uts", "ipc", "mnt"):
                assert seen["ns"][kind] == pause[kind] != main[kind], (key, kind)
            assert seen["ns"]["pid"] == out["init_pidns"] != main["pid"]
            assert seen["ns"]["user"] == main["user"]
            assert seen["cwd"] == wd
            assert seen["argv"] == ["/bin/sleep", "30"]  # no nsenter in between
        # the thread went back: its namespaces (pid_for_children aside) and directory
        after = got["thread_after"]
        for kind in ("net", "uts", "ipc", "mnt", "user", "cgroup"):
            assert after[kind] == main[kind], (key, kind)
        assert got["cwd_after"] == out["cwd"] == "/tmp"
        assert got["missing"] == "ClusterError"
    assert out["entered_batch"] == 4  # 2 pods x 2 starts
    assert out["entered"] == 6  # and 2 more by files, none off a batch thread
    for seen in out["by_files"]["procs"]:
        for kind in ("net", "uts", "ipc", "mnt"):
            assert seen["ns"][kind] == out["pauses"]["default/p1"][kind]
    for kind in ("net", "uts", "ipc", "mnt", "user", "cgroup"):
        assert out["by_files"]["thread_after"][kind] == main[kind]
    for kind in ("net", "uts", "ipc", "mnt"):
        assert out["single"][kind] == out["pauses"]["default/p0"][kind]
    # two pods, two different network namespaces
    nets = {out["pauses"][k]["net"] for k in out["batch"]}
    assert len(nets) == 2
