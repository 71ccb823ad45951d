"""A ``stdin: true`` container's stdin pipe (kept by the runtime for ``attach -i``), on
the host spawner: input reaches the process, the runtime's close is its EOF, a restart
gets a new pipe; other containers keep /dev/null. The manifest fields reach the model."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from support.runtime import host_runtime, pod, wait_until

from podnet.dataplane.runtime.state import RUNNING, SUCCEEDED
from podnet.errors import PodRuntimeError
from podnet.manifests import load_paths
from podnet.model.objects import Container

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox")

READER = "while read l; do echo got-$l; done; echo eof"


def test_input_reaches_the_process_and_close_is_eof(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        c = Container("c", "busybox", command=("sh", "-c", READER), stdin=True)
        rt.start_pod(pod("in", c, policy="Never"))
        wait_until(rt, lambda: rt.status("default/in").phase == RUNNING)
        fd = rt.attach_stdin("default/in", "c")
        assert fd is not None
        os.write(fd, b"a\n")
        os.close(fd)  # an attach session ends: the runtime's end keeps stdin open
        wait_until(rt, lambda: rt.logs("default/in") == ["got-a"])
        fd = rt.attach_stdin("default/in", "c")
        assert fd is not None
        os.write(fd, b"b\n")
        os.close(fd)
        wait_until(rt, lambda: rt.logs("default/in") == ["got-a", "got-b"])
        assert rt.status("default/in").phase == RUNNING
        rt.close_stdin("default/in", "c")  # stdinOnce: now the process reads EOF
        wait_until(rt, lambda: rt.status("default/in").phase == SUCCEEDED)
        assert rt.logs("default/in") == ["got-a", "got-b", "eof"]
        with pytest.raises(PodRuntimeError):
            rt.attach_stdin("default/in", "c")


def test_without_stdin_the_process_reads_dev_null(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        c = Container("c", "busybox", command=("sh", "-c", f"{READER}; sleep 30"))
        rt.start_pod(pod("none", c))
        wait_until(rt, lambda: rt.logs("default/none") == ["eof"])
        assert rt.attach_stdin("default/none", "c") is None


def test_a_restarted_container_gets_a_new_pipe(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        c = Container(
            "c", "busybox", command=("sh", "-c", "read l; echo got-$l; exit 1"), stdin=True
        )
        rt.start_pod(pod("again", c))
        wait_until(rt, lambda: rt.status("default/again").phase == RUNNING)
        fd = rt.attach_stdin("default/again", "c")
        assert fd is not None
        os.write(fd, b"x\n")
        os.close(fd)

        def restarted() -> bool:
            st = rt.status("default/again").containers[0]
            return st.restart_count >= 1 and st.state == RUNNING

        wait_until(rt, restarted)
        fd = rt.attach_stdin("default/again", "c")
        assert fd is not None
        os.write(fd, b"y\n")
        os.close(fd)
        wait_until(rt, lambda: "got-y" in rt.logs("default/again"))


def test_manifest_stdin_fields() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: a, image: busybox, stdin: true, stdinOnce: true}
  - {name: b, image: busybox, stdin: true}
  - {name: c, image: busybox}
"""
    m = load_paths(["-"], stdin=io.StringIO(text))
    got = [(c.name, c.stdin, c.stdin_once) for c in m.pods[0].containers]
    assert got == [("a", True, True), ("b", True, False), ("c", False, False)]
