"""The seed's pitfalls, live: what a user sees when they fall into them.

* A pod IP written into a client (``examples/seed/pitfall-pod-ip.yaml``): the address
  is in node-1's pod range but no pod has it, so the connection fails ("No route to
  host": node-1 finds no neighbour for it), where the Service name would have worked.
* The Service of the seed's "Syntax" section (``examples/seed/service.yaml``) sends
  port 80 to targetPort 8080, but nginx listens on 80: the endpoint exists (the pod is
  Ready), so the connection reaches the pod and is refused there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.live import require_live, run_cli, write_manifest
from support.paths import REPO

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed"


def test_pod_ip_literal_fails() -> None:
    require_live()
    res = run_cli(
        "run",
        "-f",
        str(SEED / "pitfall-pod-ip.yaml"),
        "--nodes",
        "2",
        "--timeout",
        "60",
    )
    assert res.rc == 1, res.err
    out = " ".join(res.pod_lines("default/pod-client"))
    assert "10.244.1.5" in out and "No route to host" in out, out
    assert "default/pod-client/client exited 1" in res.err


def test_target_port_mismatch_is_refused(tmp_path: Path) -> None:
    require_live()
    pods = write_manifest(
        tmp_path,
        (SEED / "pod-to-service.yaml").read_text().split("---\napiVersion: v1\nkind: Service")[0],
        "pods.yaml",
    )
    res = run_cli("run", "-f", str(pods), "-f", str(SEED / "service.yaml"), "--timeout", "60")
    assert res.rc == 1, res.err
    out = " ".join(res.pod_lines("default/pod-a"))
    assert "Connection refused" in out, out
