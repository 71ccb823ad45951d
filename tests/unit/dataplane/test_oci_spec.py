"""OCI config generation, capabilities, seccomp and securityContext rules (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podnet.dataplane.oci import caps, seccomp, spec
from podnet.dataplane.oci.security import CreateContainerConfigError, merge, resolve
from podnet.manifests.convert import to_security
from podnet.model.objects import SecurityContext


@pytest.mark.parametrize(
    ("add", "drop", "has", "lacks"),
    [
        ((), (), {"CAP_NET_RAW", "CAP_CHOWN"}, {"CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_MKNOD"}),
        (("NET_ADMIN",), (), {"CAP_NET_ADMIN"}, {"CAP_SYS_ADMIN"}),
        ((), ("ALL",), set(), {"CAP_CHOWN", "CAP_NET_RAW"}),
        (("NET_BIND_SERVICE",), ("ALL",), {"CAP_NET_BIND_SERVICE"}, {"CAP_CHOWN"}),
        (("ALL",), ("CHOWN",), {"CAP_SYS_ADMIN", "CAP_BPF"}, {"CAP_CHOWN"}),
        (("net_raw",), ("NET_RAW",), set(), {"CAP_NET_RAW"}),  # drop wins over add
    ],
)
def test_capabilities_as_containerd(
    add: tuple[str, ...], drop: tuple[str, ...], has: set[str], lacks: set[str]
) -> None:
    got = set(caps.effective(add, drop))
    assert has <= got and not (lacks & got)


def test_default_caps_and_privileged() -> None:
    default = caps.effective()
    assert len(default) == 13 and "CAP_MKNOD" not in default
    assert caps.effective(privileged=True) == caps.ALL


def test_unknown_capability_is_an_error() -> None:
    with pytest.raises(caps.CapabilityError):
        caps.effective(("FLY",))


def _allowed(profile: dict[str, Any]) -> set[str]:
    return {
        n
        for r in profile["syscalls"]
        if r["action"] == "SCMP_ACT_ALLOW" and "args" not in r
        for n in r["names"]
    }


def test_seccomp_blocks_namespace_calls_without_sys_admin() -> None:
    p = seccomp.profile(caps.effective(), machine="x86_64")
    allowed = _allowed(p)
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1
    for call in ("mount", "umount2", "unshare", "setns", "bpf", "chroot", "ptrace", "clone3"):
        assert (call in allowed) == (call in {"chroot", "ptrace"}), call
    clone = [r for r in p["syscalls"] if r["names"] == ["clone"]]
    assert clone[0]["args"][0]["value"] == seccomp.CLONE_NAMESPACE_FLAGS
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in p["syscalls"]


def test_seccomp_with_sys_admin_allows_mount() -> None:
    p = seccomp.profile(caps.effective(("SYS_ADMIN",)), machine="x86_64")
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= _allowed(p)
    assert not any(r["names"] == ["clone3"] for r in p["syscalls"] if "errnoRet" in r)


def _cfg(**kw: Any) -> spec.ContainerConfig:
    base: dict[str, Any] = {"args": ("sh",), "env": (("PATH", "/bin"),), "root": "/r"}
    return spec.ContainerConfig(**{**base, **kw})


def test_render_namespaces_paths_and_mounts() -> None:
    doc = spec.render(_cfg(caps=("CAP_KILL",), seccomp={"defaultAction": "x"}))
    assert doc["linux"]["namespaces"] == [{"type": "pid"}, {"type": "mount"}]
    assert "/proc/kcore" in doc["linux"]["maskedPaths"]
    assert "/proc/sys" in doc["linux"]["readonlyPaths"]
    dests = [m["destination"] for m in doc["mounts"]]
    assert dests[:6] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"]
    assert "ro" in doc["mounts"][5]["options"]
    assert doc["process"]["capabilities"]["bounding"] == ["CAP_KILL"]
    assert doc["process"]["noNewPrivileges"] is True
    assert doc["process"]["env"] == ["PATH=/bin"]
    assert doc["linux"]["seccomp"] == {"defaultAction": "x"}
    assert "resources" not in doc["linux"]  # no cgroups


def test_render_shared_pid_namespace_and_privileged() -> None:
    doc = spec.render(_cfg(pid_namespace="/proc/7/ns/pid", privileged=True, seccomp={"a": 1}))
    assert doc["linux"]["namespaces"][0] == {"type": "pid", "path": "/proc/7/ns/pid"}
    assert "maskedPaths" not in doc["linux"] and "seccomp" not in doc["linux"]
    assert "rw" in doc["mounts"][5]["options"]


def test_security_merge_and_non_root() -> None:
    pod = SecurityContext(run_as_user=1000, run_as_non_root=True, supplemental_groups=(5,))
    merged = merge(pod, SecurityContext(run_as_group=3000, read_only_root_filesystem=True))
    r = resolve(merged)
    assert (r.uid, r.gid, r.groups, r.read_only_root) == (1000, 3000, (5,), True)
    # fsGroup first, then supplementalGroups (kubelet determineEffectiveSecurityContext)
    with_fs = SecurityContext(run_as_user=1000, supplemental_groups=(5, 6), fs_group=2000)
    assert resolve(merge(with_fs, None)).groups == (2000, 5, 6)
    with pytest.raises(CreateContainerConfigError):
        resolve(merge(SecurityContext(run_as_non_root=True), None))
    with pytest.raises(CreateContainerConfigError):
        resolve(SecurityContext(run_as_non_root=True), image_user="nginx")
    assert resolve(SecurityContext(run_as_non_root=True), image_user="101:101").uid == 101
    assert resolve(SecurityContext(allow_privilege_escalation=False)).no_new_privileges
    assert not resolve(SecurityContext(allow_privilege_escalation=True)).no_new_privileges
    assert not resolve(SecurityContext(privileged=True)).no_new_privileges


def test_security_context_from_manifest() -> None:
    sc = to_security(
        {
            "runAsUser": 1000,
            "runAsNonRoot": True,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        }
    )
    assert sc == SecurityContext(
        run_as_user=1000,
        run_as_non_root=True,
        caps_add=("NET_ADMIN",),
        caps_drop=("ALL",),
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
    )
    assert to_security(None) is None and to_security({}) is None


def test_profile_compiles_to_bpf_once() -> None:
    import base64

    from podnet.dataplane.oci import bpf

    data = bpf.compile_profile(seccomp.profile(caps.effective(), machine="x86_64"))
    if data is None:
        pytest.skip("libseccomp is not installed")
    raw = base64.b64decode(data)
    assert len(raw) % 8 == 0 and len(raw) > 8 * 100  # struct sock_filter is 8 bytes
    wider = bpf.compile_profile(seccomp.profile(caps.effective(("SYS_ADMIN",)), machine="x86_64"))
    assert wider is not None and wider != data


def test_missing_runtime_is_a_clear_error(tmp_path: Path) -> None:
    from podnet.dataplane.oci import crun
    from podnet.errors import NotSupportedError

    with pytest.raises(NotSupportedError, match="apt-get install crun"):
        crun.find(tmp_path, {crun.ENV_VAR: str(tmp_path / "no-such-runtime")})
    found = crun.find(tmp_path, {crun.ENV_VAR: "/bin/true"})
    assert found.run_argv(tmp_path / "b", "id")[-4:] == [
        "run",
        "--bundle",
        str(tmp_path / "b"),
        "id",
    ]


def test_run_from_a_read_only_bind_skips_crun_copying_itself(tmp_path: Path) -> None:
    from dataclasses import replace

    from podnet.dataplane.oci import crun

    plain = crun.OciBinary("/usr/bin/crun", tmp_path)
    assert plain.run_argv(tmp_path / "b", "id")[0] == "/usr/bin/crun" and plain.run_env() == {}
    ro = replace(plain, run_path="/state/oci/crun-run")
    argv = ro.run_argv(tmp_path / "b", "id")
    assert argv[0] == "/state/oci/crun-run" and argv[1:] == plain.run_argv(tmp_path / "b", "id")[1:]
    assert ro.run_env() == {"_LIBCONTAINER_CLONED_BINARY": "1"}
    # exec keeps the binary's own path: it is run outside the pods too (podnet exec)
    assert ro.exec_argv(tmp_path / "p", "id")[0] == "/usr/bin/crun"
