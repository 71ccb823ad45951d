"""securityContext and shareProcessNamespace, honoured by the crun path (kernel).

One ``podnet run``: a pod per securityContext case printing what it got (its ids, its
capabilities, no-new-privileges, seccomp mode, whether it may write), a pod that
``runAsNonRoot`` without a user (refused before start: CreateContainerConfigError, as
kubelet), and a shareProcessNamespace pod whose second container sees the first's
processes while a pod of its own sees only itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.live import require_live, run_cli, write_manifest

pytestmark = pytest.mark.kernel

PROBE = (
    'echo "ids=$(id -u):$(id -g)"; grep -e CapEff -e NoNewPrivs -e Seccomp: /proc/self/status;'
    ' touch /tmp/x 2>/dev/null; echo "tmp=$?"; ip link set lo down 2>/dev/null; echo "lo=$?"'
)


def _pod(name: str, sc: dict[str, object], pod_sc: dict[str, object] | None = None) -> str:
    spec: dict[str, object] = {
        "restartPolicy": "Never",
        "containers": [
            {"name": "c", "image": "busybox", "command": ["sh", "-c", PROBE], "securityContext": sc}
        ],
    }
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


SHARED = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "shared", "labels": {"app": "shared"}},
    "spec": {
        "shareProcessNamespace": True,
        "restartPolicy": "Never",
        "containers": [
            {"name": "a", "image": "busybox", "command": ["sh", "-c", "exec sleep 4242"]},
            {
                "name": "b",
                "image": "busybox",
                "command": ["sh", "-c", "sleep 1; echo seen=$(ps -o args | grep -c [4]242)"],
            },
        ],
    },
}
ALONE = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "alone"},
    "spec": {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "command": ["sh", "-c", "sleep 1; echo seen=$(ps -o args | grep -c [4]242)"],
            }
        ],
    },
}


def _status(lines: list[str]) -> dict[str, str]:
    out = {}
    for ln in lines:
        key, sep, value = ln.partition("=") if "=" in ln else ln.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_security_context_and_shared_pid_namespace(tmp_path: Path) -> None:
    require_live()
    docs = [
        _pod(
            "user",
            {
                "runAsGroup": 3000,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            {"runAsUser": 1000},
        ),
        _pod("readonly", {"readOnlyRootFilesystem": True}),
        _pod("netadmin", {"capabilities": {"add": ["NET_ADMIN"]}}),
        _pod("privileged", {"privileged": True}),
        _pod("nonroot", {"runAsNonRoot": True}),
        json.dumps(SHARED),
        json.dumps(ALONE),
    ]
    manifest = write_manifest(tmp_path, "\n---\n".join(docs))
    res = run_cli("run", "-f", str(manifest), "--timeout", "8", "--logs", "all", timeout=90)
    user = _status(res.pod_lines("default/user"))
    assert user["ids"] == "1000:3000", res.out + res.err
    assert int(user["CapEff"], 16) == 0 and user["NoNewPrivs"] == "1"
    assert user["tmp"] == "0" and user["lo"] != "0"  # its own writable /tmp; no NET_ADMIN
    ro = _status(res.pod_lines("default/readonly"))
    assert ro["ids"] == "0:0" and ro["tmp"] != "0" and ro["Seccomp"] == "2"
    net = _status(res.pod_lines("default/netadmin"))
    assert net["lo"] == "0" and int(net["CapEff"], 16) >> 12 & 1  # its own pod's lo only
    priv = _status(res.pod_lines("default/privileged"))
    assert priv["Seccomp"] == "0" and int(priv["CapEff"], 16) >> 21 & 1  # SYS_ADMIN
    assert priv["NoNewPrivs"] == "0"
    nonroot = " ".join(res.pod_lines("default/nonroot"))
    assert "runAsNonRoot" in nonroot and "ids=" not in nonroot, nonroot
    assert res.pod_lines("default/shared/b") == ["seen=1"], res.out
    assert res.pod_lines("default/alone") == ["seen=0"], res.out
