"""Images that cannot be had, as ``podnet up`` reports them to kubectl.

kubelet's image manager (pkg/kubelet/images/image_manager.go) leaves such a container
waiting with reason ``ErrImagePull`` when the pull failed and ``ErrImageNeverPull`` when
the policy forbids pulling; the pod stays Pending and ``kubectl get pods`` shows the
reason as its STATUS. The message names the image and suggests a near name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, eventually, podnet_up
from support.live import require_live
from test_images_cache import NAME, Built, built  # noqa: F401 (the module fixture)

from podnet.cli.main import main

pytestmark = pytest.mark.kernel

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers: [{name: web, image: 'ngnix:1.25'}]
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  containers: [{name: db, image: 'redis:7', imagePullPolicy: Never}]
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    tmp = tmp_path_factory.mktemp("up-images")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PODNET_IMAGE_CACHE", str(tmp / "cache"))
        with podnet_up(tmp) as cluster:
            cluster.kubectl(KUBECTL_VERSIONS[-1]).ok("apply", "-f", "-", stdin=PODS)
            yield cluster
            rc, err = cluster.stop()
            assert rc == 0, err


def _waiting(up: UpCluster, pod: str) -> dict[str, Any]:
    obj = up.kubectl(KUBECTL_VERSIONS[-1]).json("get", "pod", pod)
    statuses = (obj.get("status") or {}).get("containerStatuses") or [{}]
    waiting: dict[str, Any] = (statuses[0].get("state") or {}).get("waiting") or {}
    return waiting


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_failed_pull_is_err_image_pull(up: UpCluster, version: str) -> None:
    # ErrImagePull after each failed pull, ImagePullBackOff between pulls (the kubelet)
    pulling = ("ErrImagePull", "ImagePullBackOff")
    waiting = eventually(
        lambda: (w := _waiting(up, "typo")).get("reason") in pulling and w,
        30,
        "pod typo waiting in ErrImagePull or ImagePullBackOff",
    )
    assert "'ngnix:1.25'" in waiting["message"] and "did you mean nginx?" in waiting["message"]
    table = up.kubectl(version).ok("get", "pod", "typo", "--no-headers").split()
    assert table[:2] == ["typo", "0/1"] and table[2] in pulling, table
    events = up.kubectl(version).ok("get", "events", "--field-selector", "involvedObject.name=typo")
    assert "ErrImagePull" in events


def test_never_is_err_image_never_pull(up: UpCluster) -> None:
    waiting = eventually(
        lambda: (w := _waiting(up, "never")).get("reason") == "ErrImageNeverPull" and w,
        30,
        "pod never waiting in ErrImageNeverPull",
    )
    expected = 'Container image "redis:7" is not present with pull policy of Never'
    assert expected in waiting["message"]


def test_an_image_loaded_while_up_runs_is_used(
    up: UpCluster,
    built: Built,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The cache is shared: a pod admitted after ``podnet image load`` gets the image
    (with ``Never``, so nothing but the cache can provide it) and runs its entrypoint."""
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    pod = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: loaded}}
spec:
  restartPolicy: Never
  containers: [{{name: c, image: '{NAME}', imagePullPolicy: Never}}]
"""
    cache = up.data_dir.parent / "cache"
    assert main(["image", "--cache", str(cache), "load", str(built.docker_archive)]) == 0
    assert capsys.readouterr().out == f"Loaded image: {NAME}\n"
    k.ok("apply", "-f", "-", stdin=pod)

    def started() -> dict[str, Any]:
        obj = k.json("get", "pod", "loaded")
        statuses = (obj.get("status") or {}).get("containerStatuses") or [{}]
        state: dict[str, Any] = statuses[0].get("state") or {}
        return state if ("terminated" in state or "running" in state) else {}

    state = eventually(started, 30, "pod loaded started from the cached image")
    assert "waiting" not in state
    # the image's own ENTRYPOINT/CMD in its own rootfs: a file only the image has
    logs = eventually(lambda: k.ok("logs", "loaded"), 30, "the loaded pod's output")
    assert logs == "hello from the image\n"
