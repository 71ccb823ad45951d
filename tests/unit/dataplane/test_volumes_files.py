"""The AtomicWriter, the volume payloads and the downward API values (pure or on a tmp
directory): upstream's pkg/volume/util/atomic_writer.go, configmap/secret MakePayload,
pkg/fieldpath and pkg/api/v1/resource."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from podnet.dataplane.volumes import atomic
from podnet.dataplane.volumes.atomic import FileProjection, PayloadError
from podnet.dataplane.volumes.fields import FieldError, field_value, format_map, resource_value
from podnet.dataplane.volumes.pod import PodVolumes, VolumeRefused, refused
from podnet.dataplane.volumes.sources import MountError, payload
from podnet.dataplane.volumes.subpath import SubPathError, check, safe_open

Obj = dict[str, Any]
CM: Obj = {"data": {"a": "1", "b": "2"}, "binaryData": {"bin": base64.b64encode(b"\0").decode()}}
SECRET: Obj = {"data": {"pw": base64.b64encode(b"s3cr3t").decode()}}
POD: Obj = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u-1",
        "labels": {"b": "2", "a": 'x"y'},
        "annotations": {"note": "n"},
    },
    "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "250m"}}}]},
}


def lookup(kind: str, name: str) -> Obj | None:
    return {("ConfigMap", "cm"): CM, ("Secret", "s"): SECRET}.get((kind, name))


def test_atomic_write_swaps_data_and_keeps_user_links(tmp_path: Path) -> None:
    assert atomic.write(tmp_path, {"a": FileProjection(b"1"), "d/x": FileProjection(b"x")})
    first = os.readlink(tmp_path / "..data")
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert (tmp_path / "d" / "x").read_bytes() == b"x"
    assert not atomic.write(tmp_path, {"a": FileProjection(b"1"), "d/x": FileProjection(b"x")})
    assert atomic.write(tmp_path, {"a": FileProjection(b"2", 0o400)})
    second = os.readlink(tmp_path / "..data")
    assert second != first and not (tmp_path / first).exists()  # the old payload went
    assert (tmp_path / "a").read_bytes() == b"2"
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o400
    assert not (tmp_path / "d").exists()  # a name of the old payload only
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == ["a"]


@pytest.mark.parametrize("bad", ["/abs", "../up", "a/../b", "..hidden", ""])
def test_atomic_write_refuses_paths_leaving_the_volume(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PayloadError):
        atomic.write(tmp_path / "v", {bad: FileProjection(b"")})


def test_configmap_payload_all_keys_items_modes_and_optional() -> None:
    vol = {"name": "v", "configMap": {"name": "cm", "defaultMode": 0o600}}
    got = payload(vol, POD, lookup)
    assert got == {
        "a": FileProjection(b"1", 0o600),
        "b": FileProjection(b"2", 0o600),
        "bin": FileProjection(b"\0", 0o600),
    }
    items = {"name": "cm", "items": [{"key": "a", "path": "sub/one", "mode": 0o400}]}
    assert payload({"configMap": items}, POD, lookup) == {"sub/one": FileProjection(b"1", 0o400)}
    with pytest.raises(MountError, match='configmap "gone" not found'):
        payload({"configMap": {"name": "gone"}}, POD, lookup)
    assert payload({"configMap": {"name": "gone", "optional": True}}, POD, lookup) == {}
    missing = {"name": "cm", "items": [{"key": "zz", "path": "z"}]}
    with pytest.raises(MountError, match="non-existent config key: zz"):
        payload({"configMap": missing}, POD, lookup)


def test_secret_payload_is_decoded_with_the_default_mode() -> None:
    assert payload({"secret": {"secretName": "s"}}, POD, lookup) == {
        "pw": FileProjection(b"s3cr3t", 0o644)
    }
    with pytest.raises(MountError, match='secret "t" not found'):
        payload({"secret": {"secretName": "t"}}, POD, lookup)


def test_downward_and_projected_payloads() -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "one", "fieldRef": {"fieldPath": "metadata.labels['b']"}},
        {
            "path": "cpu",
            "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu", "divisor": "1m"},
        },
    ]
    got = payload({"downwardAPI": {"items": items}}, POD, lookup)
    assert got["labels"].data == b'a="x\\"y"\nb="2"'
    assert got["one"].data == b"2" and got["cpu"].data == b"250"
    proj = {
        "defaultMode": 0o440,
        "sources": [
            {"configMap": {"name": "cm", "items": [{"key": "a", "path": "a"}]}},
            {"secret": {"name": "s"}},
            {"serviceAccountToken": {"path": "token"}},  # no TokenRequest: left out
            {
                "downwardAPI": {
                    "items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                }
            },
        ],
    }
    got = payload({"projected": proj}, POD, lookup)
    assert sorted(got) == ["a", "ns", "pw"]
    assert {p.mode for p in got.values()} == {0o440}


def _token_pod(pod_sc: Obj, *users: int | None) -> Obj:
    containers = [
        {"name": f"c{i}", **({} if u is None else {"securityContext": {"runAsUser": u}})}
        for i, u in enumerate(users)
    ]
    return {**POD, "spec": {"securityContext": pod_sc, "containers": containers}}


@pytest.mark.parametrize(
    ("pod_sc", "users", "owner", "mode"),
    [
        ({}, (None,), None, 0o644),  # nobody named: the volume's defaultMode, root's
        ({"runAsUser": 1000}, (None, None), 1000, 0o600),  # FsUserFrom: one user
        ({}, (1000, 1000), 1000, 0o600),
        ({}, (1000, 2000), None, 0o644),  # two users: no FsUser
        ({"runAsUser": 1000}, (None, 2000), None, 0o644),
        ({"fsGroup": 5}, (None,), None, 0o600),  # then 0640 by SetVolumeOwnership
    ],
)
def test_the_token_file_is_the_pods_user_and_0600(
    pod_sc: Obj, users: tuple[int | None, ...], owner: int | None, mode: int
) -> None:
    """projected.go: mode 0600 when FsUser or FsGroup, the file's owner FsUser."""
    proj = {"sources": [{"serviceAccountToken": {"path": "token"}}]}
    got = payload({"projected": proj}, _token_pod(pod_sc, *users), lookup, lambda *_: "t")
    assert (got["token"].owner, got["token"].mode) == (owner, mode)


def test_fields_and_resources() -> None:
    assert field_value(POD, "metadata.uid") == "u-1"
    assert field_value(POD, "metadata.annotations") == 'note="n"'
    assert field_value(POD, "status.podIP", {"status.podIP": "10.0.0.5"}) == "10.0.0.5"
    with pytest.raises(FieldError):
        field_value(POD, "spec.nope")
    assert format_map({}) == ""
    c: Obj = {"resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "1500m"}}}
    assert resource_value(c, "limits.memory", "1Mi") == "64"
    assert resource_value(c, "requests.cpu") == "2"  # ceil, as upstream
    assert resource_value(c, "requests.memory") == "0"
    assert int(resource_value(c, "limits.cpu")) == os.cpu_count()  # the node's
    with pytest.raises(FieldError):
        resource_value(c, "limits.gpu")


def test_hostpath_and_unknown_kinds_are_refused(tmp_path: Path) -> None:
    pod = {**POD, "spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}
    assert "hostPath volumes are forbidden" in (refused(pod) or "")
    with pytest.raises(VolumeRefused):
        PodVolumes(tmp_path, pod).setup(lookup)
    pvc = {**POD, "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]}}
    assert refused(pvc) is None  # waits, as without a provisioner, never Failed
    with pytest.raises(MountError, match='volume "d" : persistentvolumeclaim "c" not found'):
        PodVolumes(tmp_path, pvc).setup(lookup)
    nfs = {**POD, "spec": {"volumes": [{"name": "n", "nfs": {"server": "x", "path": "/"}}]}}
    with pytest.raises(MountError, match="nfs volumes are not supported"):
        PodVolumes(tmp_path, nfs).setup(lookup)
    assert not (tmp_path / "ns_p_u-1" / "v" / "h").exists()  # nothing made for it


def test_pod_volumes_setup_mounts_and_teardown(tmp_path: Path) -> None:
    spec: Any = {
        "volumes": [
            {"name": "cfg", "configMap": {"name": "cm"}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {"name": "late", "configMap": {"name": "late"}},
        ],
        "containers": [
            {
                "name": "c",
                "volumeMounts": [
                    {"name": "cfg", "mountPath": "/etc/cfg"},
                    {"name": "tmp", "mountPath": "/tmp"},
                    {"name": "cfg", "mountPath": "/etc/a", "subPath": "a"},
                ],
            }
        ],
    }
    vols = PodVolumes(tmp_path, {**POD, "spec": spec})
    with pytest.raises(MountError, match='volume "late" : configmap "late" not found'):
        vols.setup(lookup)
    spec["volumes"] = spec["volumes"][:3]
    vols = PodVolumes(tmp_path, {**POD, "spec": spec})
    in_pod = vols.setup(lookup)
    assert [c.argv[:4] for c in in_pod] == [("mount", "-t", "tmpfs", "-o")]
    assert "size=1048576" in in_pod[0].argv[4]
    assert (vols.path("tmp").stat().st_mode & 0o777) == 0o777
    staged: list[Any] = []
    mounts = vols.mounts(spec["containers"][0], "python3", staged.append)
    assert [(m.destination, "ro" in m.options) for m in mounts] == [
        ("/etc/cfg", True),  # a configMap is always read-only
        ("/tmp", False),
        ("/etc/a", True),
    ]
    assert mounts[2].source == str(vols.dir / "s" / "c" / "2")
    assert staged[0].argv[-3:] == (str(vols.path("cfg")), "a", mounts[2].source)
    CM["data"] = {"a": "new", "b": "2"}
    try:
        assert vols.refresh(lookup) == ["cfg"]
        assert (vols.path("cfg") / "a").read_text() == "new"
    finally:
        CM["data"] = {"a": "1", "b": "2"}
    vols.teardown()
    assert not vols.dir.exists()


def test_fs_group_owns_the_volumes(tmp_path: Path) -> None:
    """kubelet's SetVolumeOwnership for fsGroup (pkg/volume/volume_linux.go): every file,
    directory and link of a volume in that group, files readable by it (a read-only
    volume: mode | 0440, so a 0400 secret is 0440), directories setgid; an emptyDir
    02777 in that group. Without fsGroup nothing changes hands."""
    if os.geteuid() != 0:
        pytest.skip("chown to another group needs root")
    spec: Any = {
        "securityContext": {"fsGroup": 2345},
        "volumes": [
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
            {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a", "path": "d/a"}]}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory"}},
        ],
        "containers": [{"name": "c"}],
    }
    vols = PodVolumes(tmp_path, {**POD, "spec": spec})
    in_pod = vols.setup(lookup)
    assert "mode=2777,gid=2345" in in_pod[0].argv[4]  # the tmpfs's root
    pw = (vols.path("sec") / "pw").stat()
    assert (pw.st_gid, pw.st_mode & 0o7777) == (2345, 0o440)
    cfg = vols.path("cfg")
    for p in [cfg, cfg / "..data", cfg / "d", cfg / "d" / "a"]:
        assert p.stat().st_gid == 2345, p
    for link in [cfg / "..data", cfg / "d"]:
        assert link.lstat().st_gid == 2345, link
    assert (cfg / "d").stat().st_mode & 0o7777 == 0o2755
    assert (cfg / "d" / "a").stat().st_mode & 0o7777 == 0o644 | 0o440
    tmp = vols.path("tmp").stat()
    assert (tmp.st_gid, tmp.st_mode & 0o7777) == (2345, 0o2777)
    assert vols.refresh(lookup) == []  # the modes it gave compare equal: no rewrite
    token = {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}
    spec["volumes"].append(token)
    spec["securityContext"]["runAsUser"] = 1000
    vols = PodVolumes(tmp_path, {**POD, "spec": spec})
    vols.token = lambda *_: "jwt"
    vols.setup(lookup)
    t = (vols.path("tok") / "t").stat()
    assert (t.st_uid, t.st_gid, t.st_mode & 0o7777) == (1000, 2345, 0o640)
    assert vols.refresh(lookup) == []
    spec["volumes"].pop()
    del spec["securityContext"]["runAsUser"]
    vols.teardown()
    del spec["securityContext"]
    plain = PodVolumes(tmp_path, {**POD, "spec": spec})
    plain.setup(lookup)
    pw = (plain.path("sec") / "pw").stat()
    assert (pw.st_gid, pw.st_mode & 0o7777) == (0, 0o400)
    assert plain.path("tmp").stat().st_mode & 0o7777 == 0o777


def test_subpath_is_checked_and_opened_without_following_links(tmp_path: Path) -> None:
    base = tmp_path / "vol"
    (base / "d").mkdir(parents=True)
    (base / "link-out").symlink_to("/etc")
    (base / "link-in").symlink_to("d")
    assert check(str(base), "link-in") == "d"
    for bad in ("link-out", "../x", "/etc"):
        with pytest.raises(SubPathError):
            check(str(base), bad)
    fd = safe_open(str(base), "new/deeper")  # missing: made, as kubelet does
    os.close(fd)
    assert (base / "new" / "deeper").is_dir()
    with pytest.raises(SubPathError):  # a link swapped in after the check
        os.close(safe_open(str(base), "link-in"))


def test_kube_api_access_without_a_token_source_never_waits() -> None:
    """`podnet run`'s registry adds the kube-api-access volume but issues no tokens and
    publishes no kube-root-ca.crt: the volume holds what there is, the pod does not
    wait; with a token source the ConfigMap is required again, as upstream."""
    proj = {
        "sources": [
            {"serviceAccountToken": {"path": "token"}},
            {
                "configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                    ]
                }
            },
        ]
    }
    got = payload({"projected": proj}, POD, lookup)
    assert got == {"namespace": FileProjection(b"ns", 0o644)}

    def token(pod: Obj, audience: str, seconds: int) -> str:
        return f"t-{pod['metadata']['uid']}-{audience}-{seconds}"

    with pytest.raises(MountError, match=r'configmap "kube-root-ca\.crt" not found'):
        payload({"projected": proj}, POD, lookup, token)
    del proj["sources"][1]
    got = payload({"projected": proj}, POD, lookup, token)
    assert got["token"].data == b"t-u-1--3600"
