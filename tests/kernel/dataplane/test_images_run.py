"""``podnet run`` of a pod whose image was loaded: the image's own ENTRYPOINT and CMD
run inside its own root filesystem (the OCI runtime path of ``dataplane/oci``).

The image is the one the cache tests build offline (umoci, Debian's static busybox):
ENTRYPOINT ``["/bin/busybox", "cat"]``, CMD ``["/srv/greeting"]``, a file only its
rootfs has. Printing the greeting proves the container ran the image's program in the
image's filesystem, with WorkingDir, Env and User from its config.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.live import require_live, run_cli
from test_images_cache import NAME, Built, built  # noqa: F401 (the module fixture)

from podnet.dataplane.images.store import ImageStore

pytestmark = pytest.mark.kernel

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: bb}}
spec:
  restartPolicy: Never
  containers:
  - name: greet
    image: {image}
  - name: env
    image: {image}
    command: [/bin/busybox, sh, -c, 'echo "$GREETING from $(/bin/busybox pwd)"']
  - name: who
    image: {image}
    command: [/bin/busybox, sh, -c, 'echo "$(/bin/busybox id -u):$(/bin/busybox id -g)"']
"""


def test_run_uses_the_images_own_entrypoint(
    built: Built,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_live()
    cache = tmp_path / "cache"
    monkeypatch.setenv("PODNET_IMAGE_CACHE", str(cache))
    ImageStore(cache).import_image(f"oci:{built.layout}:1.0", [NAME])
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format(image=NAME))
    res = run_cli("run", "-f", str(pod), "--logs", "all", "--timeout", "60")
    assert res.rc == 0, res.err
    assert res.pod_lines("default/bb/greet") == ["hello from the image"], res.out
    assert res.pod_lines("default/bb/env") == ["hello from /srv"], res.out
    assert res.pod_lines("default/bb/who") == ["1000:1000"], res.out  # the image's User
