"""Image references, pull policy defaults and did-you-mean (pure functions)."""

from __future__ import annotations

import json
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from podnet.cli.image import human_size
from podnet.dataplane.images.image import ImageNotPresentError, InvalidImageNameError
from podnet.dataplane.images.reference import default_pull_policy, did_you_mean, parse
from podnet.dataplane.images.registry import ImageRegistry
from podnet.dataplane.images.sources import sources
from podnet.dataplane.images.store import ImageStore
from podnet.dataplane.images.tools import insecure
from podnet.errors import ImageError

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "full", "familiar"),
    [
        ("nginx", "docker.io/library/nginx", "nginx"),
        ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
        ("library/nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
        ("docker.io/nginx", "docker.io/library/nginx", "nginx"),
        ("index.docker.io/library/nginx", "docker.io/library/nginx", "nginx"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7", "bitnami/redis:7"),
        ("localhost/bb", "localhost/bb", "localhost/bb"),
        ("localhost:5000/a/bb:1", "localhost:5000/a/bb:1", "localhost:5000/a/bb:1"),
        ("127.0.0.1:5000/bb", "127.0.0.1:5000/bb", "127.0.0.1:5000/bb"),
        ("Registry/bb", "Registry/bb", "Registry/bb"),  # upper case: a host (normalize.go)
        (f"nginx@{DIGEST}", f"docker.io/library/nginx@{DIGEST}", f"nginx@{DIGEST}"),
        (f"nginx:1@{DIGEST}", f"docker.io/library/nginx:1@{DIGEST}", f"nginx:1@{DIGEST}"),
        (
            "registry.k8s.io/e2e-test-images/agnhost:2.47",
            "registry.k8s.io/e2e-test-images/agnhost:2.47",
            "registry.k8s.io/e2e-test-images/agnhost:2.47",
        ),
    ],
)
def test_parse_normalises_as_distribution_does(ref: str, full: str, familiar: str) -> None:
    r = parse(ref)
    assert str(r) == full
    assert r.familiar() == familiar


def test_tagged_adds_latest_only_without_tag_or_digest() -> None:
    assert str(parse("nginx").tagged()) == "docker.io/library/nginx:latest"
    assert str(parse("nginx:1").tagged()) == "docker.io/library/nginx:1"
    assert parse(f"nginx@{DIGEST}").tagged().tag is None


@pytest.mark.parametrize(
    "ref", ["", "NGINX", "nginx:bad tag", "nginx@sha256:xyz", "a//b", "nginx:", "-x"]
)
def test_invalid_references(ref: str) -> None:
    with pytest.raises(InvalidImageNameError) as exc:
        parse(ref)
    assert exc.value.reason == "InvalidImageName"


@pytest.mark.parametrize(
    ("ref", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("localhost:5000/bb", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/bb:1", "IfNotPresent"),
        (f"nginx@{DIGEST}", "IfNotPresent"),  # a digest: no default tag (ParseImageName)
        (f"nginx:latest@{DIGEST}", "Always"),
    ],
)
def test_default_pull_policy_is_kubernetes(ref: str, policy: str) -> None:
    assert default_pull_policy(ref) == policy


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("ngnix", "nginx"),
        ("nginix", "nginx"),
        ("busybx", "busybox"),
        ("bitnami/ngnix", "nginx"),
        ("agnhst", "agnhost"),
        ("postgres", None),
        ("nginx", None),  # itself is no suggestion
    ],
)
def test_did_you_mean(name: str, hint: str | None) -> None:
    known = ["agnhost", "busybox", "e2e-test-images/agnhost", "nginx", "podnet/dns", "python"]
    assert did_you_mean(name, known) == hint


@pytest.mark.parametrize(
    ("source", "yes"),
    [
        ("docker://127.0.0.1:5000/bb:1", True),
        ("docker://localhost:5000/bb:1", True),
        ("docker://localhost/bb:1", True),
        ("docker://[::1]:5000/bb:1", True),
        ("docker://docker.io/library/bb:1", False),
        ("docker://10.0.0.1:5000/bb:1", False),
        ("docker-archive:/tmp/x.tar", False),
    ],
)
def test_only_loopback_registries_are_plain_http(source: str, yes: bool) -> None:
    assert insecure(source) is yes


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0B"), (999, "999B"), (1982263, "1.98MB"), (5 * 10**9, "5GB")]
)
def test_human_size_as_crictl(size: int, text: str) -> None:
    assert human_size(size) == text


def test_never_names_the_image_and_suggests(tmp_path: Path) -> None:
    from podnet.dataplane.images.image import Image

    reg = ImageRegistry({"nginx": Image("nginx")}, store=ImageStore(tmp_path / "cache"))
    with pytest.raises(ImageNotPresentError) as exc:
        reg.resolve("ngnix:1", "Never")
    msg = str(exc.value)
    assert exc.value.reason == "ErrImageNeverPull"
    assert msg.startswith("unknown image 'ngnix:1'")
    assert "did you mean nginx?" in msg
    assert 'Container image "ngnix:1" is not present with pull policy of Never' in msg
    assert reg.resolve("nginx:1.25", "Never").name == "nginx"  # built-ins are present
    with pytest.raises(ImageError):
        reg.resolve("nginx", "Sometimes")
    assert not (tmp_path / "cache").exists()  # a lookup writes nothing


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, BytesIO(data))


def test_sources_tell_the_archive_kinds_apart(tmp_path: Path) -> None:
    manifest = [{"Config": "c.json", "RepoTags": ["a/b:1", "a/b:2"]}, {"Config": "d.json"}]
    _tar(tmp_path / "d.tar", {"manifest.json": json.dumps(manifest).encode()})
    got = sources(tmp_path / "d.tar")
    assert [(s.transport.rsplit(":", 1)[-1], s.names) for s in got] == [
        ("@0", ("a/b:1", "a/b:2")),
        ("@1", ()),
    ]
    index = {
        "manifests": [
            {"annotations": {"org.opencontainers.image.ref.name": "1.0"}},
            {"annotations": {"org.opencontainers.image.ref.name": "x/y:2"}},
            {
                "annotations": {
                    "org.opencontainers.image.ref.name": "3",
                    "io.containerd.image.name": "docker.io/x/z:3",
                }
            },
        ]
    }
    _tar(tmp_path / "o.tar", {"oci-layout": b"{}", "index.json": json.dumps(index).encode()})
    got = sources(tmp_path / "o.tar")
    assert [s.transport.startswith("oci-archive:") for s in got] == [True] * 3
    assert [s.names for s in got] == [(), ("x/y:2",), ("docker.io/x/z:3",)]
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text("{}")
    (layout / "index.json").write_text(json.dumps(index))
    assert sources(layout)[1].transport == f"oci:{layout}:x/y:2"
    _tar(tmp_path / "junk.tar", {"hello": b"x"})
    for bad in (tmp_path / "junk.tar", tmp_path / "missing", tmp_path):
        with pytest.raises(ImageError):
            sources(bad)
