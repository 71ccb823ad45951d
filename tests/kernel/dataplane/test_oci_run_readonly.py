"""Each container's ``crun run`` starts from a read-only bind of crun in its pod's mount
namespace (``OciLauncher(read_only_run=True)``, ``Sandbox.pod_binds``), so crun skips
copying and re-executing itself (its CVE-2019-5736 defence accepts a binary on a
read-only mount): the run's exe is that bind, never a memfd copy; the bind is read-only
and shows crun in the pod; on the host the path is an empty file nobody runs.

The cluster runs in a child process of its own (one sandbox per process).
"""

from __future__ import annotations

import sys

import pytest
from support.sandbox import require_kernel, run_json_child

pytestmark = pytest.mark.kernel

SCRIPT = """
import json, os, pathlib, sys, tempfile, time
from podnet.dataplane.sandbox import threadns
from podnet.live.cluster import LiveCluster
from podnet.manifests.files import load_paths

d = tempfile.mkdtemp()
m = pathlib.Path(d) / "m.yaml"
m.write_text("".join(
    "---\\napiVersion: v1\\nkind: Pod\\nmetadata: {name: p%d}\\n"
    "spec:\\n  containers: [{name: c, image: busybox, command: [sleep, '300']}]\\n" % i
    for i in range(2)))
out = {}
with LiveCluster(load_paths([str(m)]), nodes=1) as c:
    st = c.start()
    oci = c.runtime.oci
    out["run_path"] = oci.binary.run_path
    out["crun"] = oci.binary.path
    c.start_pods([p for p in st.pods if p.name in ("p0", "p1")])
    root = str(oci.binary.root)
    runs = {}
    for _ in range(200):
        for e in os.listdir("/proc"):
            if not e.isdigit():
                continue
            try:
                argv = open(f"/proc/{e}/cmdline", "rb").read().split(b"\\0")[:-1]
                kids = open(f"/proc/{e}/task/{e}/children").read().split()
                exe = os.readlink(f"/proc/{e}/exe")
                env = open(f"/proc/{e}/environ", "rb").read().split(b"\\0")
            except OSError:
                continue
            if root.encode() in argv and b"run" in argv and kids:
                runs[e] = {"argv0": argv[0].decode(), "exe": exe,
                           "env": [x.decode() for x in env if x.startswith(b"_LIBCONTAINER")]}
        if len(runs) >= 2:
            break
        time.sleep(0.05)
    out["runs"] = list(runs.values())
    pause = c.sandbox.pod_pid("default/p0")
    crun_ino = os.stat(out["crun"]).st_ino
    def look():
        with threadns.entered(pause):
            s = os.stat(out["run_path"])
            ro = bool(os.statvfs(out["run_path"]).f_flag & os.ST_RDONLY)
            try:
                os.open(out["run_path"], os.O_WRONLY)
                w = "opened"
            except OSError as e:
                w = e.errno
        return {"same_inode": s.st_ino == crun_ino, "ro": ro, "write": w}
    out["in_pod"] = c.sandbox.batch([look])[0]
    out["host_size"] = os.stat(out["run_path"]).st_size
print(json.dumps(out))
"""


def test_crun_run_starts_from_a_read_only_bind_not_a_copy() -> None:
    require_kernel()
    out = run_json_child([sys.executable, "-c", SCRIPT])
    if out["run_path"] is None:
        pytest.skip("not crun as root: crun run copies itself as before")
    assert len(out["runs"]) == 2
    for run in out["runs"]:
        assert run["argv0"] == out["run_path"] == run["exe"]  # not "/memfd:crun_cloned..."
        assert run["env"] == ["_LIBCONTAINER_CLONED_BINARY=1"]
    # in the pod: crun itself, on a read-only mount; a writer is refused (ETXTBSY, 26,
    # while a run executes it, which the kernel checks first; EROFS, 30, after)
    assert out["in_pod"]["same_inode"] and out["in_pod"]["ro"]
    assert out["in_pod"]["write"] in (26, 30)
    assert out["host_size"] == 0  # on the host only the empty mount point
