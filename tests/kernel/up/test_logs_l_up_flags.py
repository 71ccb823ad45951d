"""``kubectl logs --limit-bytes`` and ``--since-time`` against ``podnet up`` (kubectl
1.37): the limit counts the bytes written (timestamps included) and ends a follow,
``sinceTime`` drops older lines, as kubelet's ReadLogs
(pkg/kubelet/kuberuntime/logs/logs.go); the API server's checks are
pkg/apis/core/validation ValidatePodLogOptions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

OUT = "".join(f"line-{i} of the log\n" for i in range(1, 6))
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: said}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'for i in 1 2 3 4 5; do echo "line-$i of the log"; done; exec sleep 3600']
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("logs-l")) as cluster:
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok("apply", "-f", "-", stdin=POD)
        k.ok("wait", "--for=condition=Ready", "pod/said", "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def test_limit_bytes(up: UpCluster) -> None:
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    assert k.ok("logs", "said") == OUT
    assert k.ok("logs", "said", "--limit-bytes=20") == OUT[:20]
    stamped = k.ok("logs", "said", "--timestamps")
    assert k.ok("logs", "said", "--timestamps", "--limit-bytes=20") == stamped[:20]
    assert len(stamped) > 40 and stamped[:20].startswith("20"), stamped
    # a follow ends at the limit though the container still runs
    got = k("logs", "-f", "said", "--limit-bytes=30", timeout=15)
    assert (got.rc, got.out) == (0, OUT[:30]), got


def test_since_time(up: UpCluster) -> None:
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    assert k.ok("logs", "said", "--since-time=2030-01-01T00:00:00Z") == ""
    assert k.ok("logs", "said", "--since-time=2020-01-01T00:00:00Z") == OUT
    assert k.ok("logs", "said", "--since-time=2020-01-01T00:00:00Z", "--tail=1") == OUT[-18:]


def test_the_api_server_checks_the_options(up: UpCluster) -> None:
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    base = "/api/v1/namespaces/default/pods/said/log"
    got = k("get", "--raw", f"{base}?limitBytes=0")
    assert got.rc != 0 and "limitBytes: Invalid value: 0: must be greater than 0" in got.err, got
    got = k("get", "--raw", f"{base}?sinceSeconds=5&sinceTime=2020-01-01T00:00:00Z")
    assert "at most one of `sinceTime` or `sinceSeconds` may be specified" in got.err, got
    got = k("get", "--raw", f"{base}?sinceTime=yesterday")
    assert got.rc != 0 and "sinceTime" in got.err, got
