"""The cluster admin's policies through the API of `podnet up`, enforced on running pods
(issue 12: "enforced in run, probe and up"): examples/cluster-policies applied with
kubectl, in both API versions; monitoring -> tenant-a/api is allowed with no cluster
policy, denied once the Admin Pass hands it to the Baseline deny, allowed again when
the policies are deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.kube import Kubectl, eventually, podnet_up
from support.live import require_live
from support.paths import REPO

pytestmark = pytest.mark.kernel

EXAMPLE = REPO / "examples" / "cluster-policies"


def _fetch(kubectl: Kubectl, name: str, ip: str) -> str:
    """A new pod in `monitoring` fetching http://IP once (3 s bound); its final phase."""
    kubectl.ok(
        "run", name, "-n", "monitoring", "--image=busybox", "--restart=Never", "--",
        "sh", "-c", f"wget -qO- -T 3 http://{ip}",
    )  # fmt: skip
    # Not `timeout 3 wget`: sh execs its last command, busybox's timeout execs the
    # program in its own place, so wget is the container's pid 1, which the kernel
    # shields from SIGTERM (pid_namespaces(7)): it would hang on a dropped SYN, as in
    # any real cluster. wget's own -T is what the Kubernetes docs use.

    def phase() -> str | None:
        got = kubectl.json("get", "pod", name, "-n", "monitoring").get("status") or {}
        p = got.get("phase")
        return p if p in ("Succeeded", "Failed") else None

    found: str = eventually(phase, 30, f"{name} finished")
    return found


@pytest.mark.parametrize(
    "policies", [EXAMPLE / "admin-policies.yaml", EXAMPLE / "v1alpha2" / "cluster-policies.yaml"]
)
def test_cluster_policies_applied_to_running_pods(tmp_path: Path, policies: Path) -> None:
    require_live()
    with podnet_up(tmp_path, "--nodes", "2") as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", str(EXAMPLE / "app.yaml"))

        def api_ip() -> str | None:
            status = k.json("get", "pod", "api", "-n", "tenant-a").get("status") or {}
            return status.get("podIP") if status.get("phase") == "Running" else None

        ip: str = eventually(api_ip, 30, "tenant-a/api Running")
        assert _fetch(k, "before", ip) == "Succeeded"
        out = k.ok("apply", "-f", str(policies))
        assert "created" in out, out
        assert _fetch(k, "during", ip) == "Failed"  # Pass -> no NetworkPolicy -> Baseline Deny
        k.ok("delete", "-f", str(policies))
        assert _fetch(k, "after", ip) == "Succeeded"
        rc, err = up.stop()
    assert rc == 0, err
