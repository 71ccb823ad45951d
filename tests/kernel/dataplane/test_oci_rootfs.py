"""A real image's rootfs under crun: an overlay per run on the shared unpacked image.

The image is made here (a static busybox in a directory, as an unpacked OCI image
is), added to a live cluster's images, and run with its own entrypoint, workdir and
env: it sees its own files and the pod's /etc/hosts, writes go to the run's upper
layer (the unpacked image is never written), and nothing is left mounted after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.live import require_live
from support.paths import PYTHONPATH

pytestmark = pytest.mark.kernel

CHILD = r"""
import json, sys
from dataclasses import replace
from pathlib import Path
import podnet.live.cluster as lc
from podnet.dataplane.images.image import Image
from podnet.manifests.files import load_paths

rootfs = Path(sys.argv[2])
image = Image(
    name="mini", entrypoint=("/bin/sh", "-c"), cmd=(sys.argv[3],),
    env=(("PATH", "/bin"), ("GREETING", "from-image")), rootfs=rootfs, workdir="/work",
)
real = lc.default_registry
lc.default_registry = lambda d: (lambda r: replace(r, images={**r.images, "mini": image}))(real(d))
lines = []
cluster = lc.LiveCluster(load_paths([sys.argv[1]]), on_log=lambda p, l: lines.append(l))
with cluster:
    state = cluster.start()
    pods = [p for p in state.pods if p.namespace == "default"]
    cluster.start_pods(pods)
    done = lambda: cluster.runtime.status("default/mini").phase in ("Succeeded", "Failed")
    cluster.runtime.run_until(done, 30)
    print(json.dumps({"lines": lines, "phase": cluster.runtime.status("default/mini").phase}))
"""

SCRIPT = (
    'echo "$GREETING"; pwd; cat /etc/image-file; grep -c mini /etc/hosts;'
    " echo new > /etc/image-file && cat /etc/image-file; ls /usr 2>&1 | head -1"
)

MANIFEST = """apiVersion: v1
kind: Pod
metadata: {name: mini}
spec:
  restartPolicy: Never
  containers: [{name: c, image: example.com/mini:1.0}]
"""


def _rootfs(root: Path) -> None:
    (root / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "cat", "grep", "echo", "pwd", "ls", "head"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc").mkdir()
    (root / "etc" / "image-file").write_text("shipped\n")
    (root / "work").mkdir()
    (root.parent / "meta.json").write_text("{}")  # as in the image cache (store.hold)


def test_image_rootfs_runs_on_an_overlay(tmp_path: Path) -> None:
    require_live()
    root = tmp_path / "rootfs"
    _rootfs(root)
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(MANIFEST)
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(manifest), str(root), SCRIPT],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        cwd="/",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["phase"] == "Succeeded", out
    assert out["lines"][:5] == ["from-image", "/work", "shipped", "1", "new"], out
    assert "No such file" in out["lines"][5], out  # no host /usr in a real image
    assert (root / "etc" / "image-file").read_text() == "shipped\n"  # lower untouched
    with open("/proc/self/mountinfo") as f:
        assert str(tmp_path) not in f.read()
