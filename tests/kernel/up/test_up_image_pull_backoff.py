"""An image that cannot be had, as kubelet handles it: ErrImagePull, ImagePullBackOff,
then Running once the image is there (pkg/kubelet/images/image_manager.go and the pod
worker's retry of a failed sync); and a pull that hangs delays no other pod.

``kubectl get pods -w`` (1.37) records every STATUS the pod goes through, as a user
watching it would see them. The image is built offline (as test_images_cache does:
umoci, Debian's static busybox, skopeo to a docker-archive) and loaded with ``podnet
image load --name nosuchimage:1.0`` while ``podnet up`` runs; both use one cache
(``PODNET_IMAGE_CACHE``), never the machine's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, eventually, kubectl_path, podnet_up
from support.live import require_live

from podnet.cli.main import main

pytestmark = pytest.mark.kernel

IMAGE = "nosuchimage:1.0"
SLEEPER = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: '{image}'
    command: [/bin/busybox, sleep, '3600']
"""


BUSYBOX = Path("/bin/busybox")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker-archive of an image holding only /bin/busybox, made with no network."""
    for tool in ("umoci", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not BUSYBOX.is_file():
        pytest.skip("no /bin/busybox (busybox-static)")
    tmp = tmp_path_factory.mktemp("pull-image")
    layout, bundle, out = tmp / "layout", tmp / "bundle", tmp / "image.tar"
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", f"{layout}:1.0")
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:1.0", str(bundle))
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, bundle / "rootfs" / "bin" / "busybox")
    _run("umoci", "repack", "--image", f"{layout}:1.0", str(bundle))
    _run("skopeo", "copy", "-q", f"oci:{layout}:1.0", f"docker-archive:{out}:{IMAGE}")
    return out


@pytest.fixture
def up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpCluster]:
    require_live()
    monkeypatch.setenv("PODNET_IMAGE_CACHE", str(tmp_path / "cache"))
    with podnet_up(tmp_path) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@dataclass
class Watch:
    """``kubectl get pods -w --no-headers``: the STATUS column of every row, per pod."""

    proc: subprocess.Popen[str]
    seen: dict[str, list[str]] = field(default_factory=dict)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            cols = line.split()
            if len(cols) >= 3:
                self.seen.setdefault(cols[0], []).append(cols[2])

    def statuses(self, pod: str) -> list[str]:
        return list(self.seen.get(pod, []))


@pytest.fixture
def watch(up: UpCluster) -> Iterator[Watch]:
    env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(up.kubeconfig.parent)}
    argv = [str(kubectl_path(KUBECTL_VERSIONS[-1])), "get", "pods", "-w", "--no-headers"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    w = Watch(proc)
    reader = threading.Thread(target=w.read, daemon=True)
    reader.start()
    yield w
    proc.terminate()
    proc.wait(timeout=10)
    reader.join(timeout=5)
    assert proc.stdout is not None
    proc.stdout.close()


def _waiting(up: UpCluster, pod: str) -> dict[str, Any]:
    obj = up.kubectl(KUBECTL_VERSIONS[-1]).json("get", "pod", pod)
    statuses = (obj.get("status") or {}).get("containerStatuses") or [{}]
    waiting: dict[str, Any] = (statuses[0].get("state") or {}).get("waiting") or {}
    return waiting


def _in_order(seen: list[str], wanted: list[str]) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


def test_unknown_image_backs_off_then_runs_once_loaded(
    up: UpCluster,
    watch: Watch,
    archive: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    k.ok("apply", "-f", "-", stdin=SLEEPER.format(name="nosuch", image=IMAGE))
    eventually(
        lambda: _in_order(watch.statuses("nosuch"), ["ErrImagePull", "ImagePullBackOff"]),
        30,
        "kubectl get pods -w showing ErrImagePull, then ImagePullBackOff",
    )
    waiting = _waiting(up, "nosuch")
    assert waiting.get("reason") == "ImagePullBackOff", waiting
    assert f'Back-off pulling image "{IMAGE}"' in waiting["message"]
    table = k.ok("get", "pod", "nosuch", "--no-headers").split()
    assert table[:3] == ["nosuch", "0/1", "ImagePullBackOff"], table
    pod = k.json("get", "pod", "nosuch")
    assert pod["status"]["phase"] == "Pending" and "reason" not in pod["status"], pod["status"]

    events = k.ok("get", "events", "--field-selector", "involvedObject.name=nosuch")
    assert f'Pulling image "{IMAGE}"' in events, events
    assert f'Failed to pull image "{IMAGE}"' in events, events
    assert f'Back-off pulling image "{IMAGE}"' in events, events
    assert "Error: ErrImagePull" in events and "Error: ImagePullBackOff" in events, events

    # the image under that name in the cache `podnet up` uses: the next retry runs it
    cache = os.environ["PODNET_IMAGE_CACHE"]
    args = ["image", "--cache", cache, "load", "--name", IMAGE, str(archive)]
    assert main(args) == 0
    assert "nosuchimage:1.0" in capsys.readouterr().out
    eventually(
        lambda: "Running" in watch.statuses("nosuch"),
        30,
        "pod nosuch Running at the retry after the image was loaded",
    )
    assert _in_order(watch.statuses("nosuch"), ["ErrImagePull", "ImagePullBackOff", "Running"])
    table = k.ok("get", "pod", "nosuch", "--no-headers").split()
    assert table[:3] == ["nosuch", "1/1", "Running"], table
    pod = k.json("get", "pod", "nosuch")
    assert "waiting" not in pod["status"]["containerStatuses"][0]["state"], pod["status"]


def test_a_hung_pull_delays_no_other_pod(up: UpCluster, watch: Watch) -> None:
    """A registry that accepts and never answers: its pod waits in ContainerCreating
    while a pod applied with it runs; once the registry is gone the pull fails."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # never accepted: skopeo waits for an answer
    slow = f"127.0.0.1:{hung.getsockname()[1]}/podnet-test/slow:1.0"
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    try:
        manifests = SLEEPER.format(name="slow", image=slow) + "---\n"
        manifests += SLEEPER.format(name="quick", image="busybox:1.36")
        k.ok("apply", "-f", "-", stdin=manifests)
        eventually(
            lambda: "Running" in watch.statuses("quick"),
            30,
            "pod quick Running while the other pod's pull hangs",
        )
        table = k.ok("get", "pod", "slow", "--no-headers").split()
        assert table[:3] == ["slow", "0/1", "ContainerCreating"], table
    finally:
        hung.close()  # connections refused: the pull fails
    eventually(
        lambda: _waiting(up, "slow").get("reason") in ("ErrImagePull", "ImagePullBackOff"),
        30,
        "pod slow waiting in ErrImagePull once its registry is gone",
    )
    events = k.ok("get", "events", "--field-selector", "involvedObject.name=slow")
    assert f'Failed to pull image "{slow}"' in events, events
    # a pod waiting for its image goes at once when deleted (no sandbox to tear down)
    k.ok("delete", "pod", "slow", "--timeout=20s", timeout=30)
    assert k("get", "pod", "slow").rc != 0
