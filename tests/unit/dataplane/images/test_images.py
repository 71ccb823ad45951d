"""Image references -> programs on this machine (podnet.dataplane.images.registry)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podnet.dataplane.images.image import normalize
from podnet.dataplane.images.nginx import render_config
from podnet.dataplane.images.registry import ImageRegistry, default_registry
from podnet.errors import ImageError, PodnetError


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("nginx", "nginx"),
        ("nginx:1.25", "nginx"),
        ("docker.io/library/nginx:1.25", "nginx"),
        ("nginx@sha256:" + "a" * 64, "nginx"),
        ("library/busybox", "busybox"),
        ("localhost:5000/busybox:latest", "busybox"),
        ("registry.k8s.io/e2e-test-images/agnhost:2.45", "e2e-test-images/agnhost"),
        ("NGINX", "nginx"),
        ("podnet/dns", "podnet/dns"),
    ],
)
def test_normalize(ref: str, name: str) -> None:
    assert normalize(ref) == name


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> ImageRegistry:
    return default_registry(tmp_path_factory.mktemp("images"), nginx_port=18080)


@pytest.mark.parametrize(
    ("ref", "image"),
    [
        ("docker.io/library/nginx:1.25", "nginx"),
        ("nginx@sha256:abc", "nginx"),
        ("busybox:1.36", "busybox"),
        ("registry.k8s.io/e2e-test-images/agnhost:2.45", "e2e-test-images/agnhost"),
        ("k8s.gcr.io/agnhost:2.2", "agnhost"),
        ("python:3.12-slim", "python"),
        ("podnet/dns:latest", "podnet/dns"),
    ],
)
def test_resolve_known(registry: ImageRegistry, ref: str, image: str) -> None:
    assert registry.resolve(ref).name == image


def test_unknown_image_is_a_podnet_error_naming_the_remedy(registry: ImageRegistry) -> None:
    with pytest.raises(ImageError) as exc:
        registry.resolve("redis:7")
    assert isinstance(exc.value, PodnetError)
    assert "PODNET_IMAGES" in str(exc.value)


def test_with_mapping_and_env(registry: ImageRegistry) -> None:
    reg = registry.with_mapping("docker.io/library/redis:7", "/usr/bin/true")
    assert reg.resolve("redis").entrypoint == ("/usr/bin/true",)
    reg2 = registry.with_env({"PODNET_IMAGES": "memcached=/bin/true, foo/bar=/bin/false"})
    assert reg2.resolve("memcached:1").entrypoint == ("/bin/true",)
    assert reg2.resolve("quay.io/foo/bar:1").entrypoint == ("/bin/false",)
    with pytest.raises(ImageError):
        registry.with_env({"PODNET_IMAGES": "nonsense"})
    with pytest.raises(ImageError):
        registry.resolve("redis")  # the original registry is unchanged


def test_busybox_applets_are_links_to_busybox(registry: ImageRegistry) -> None:
    if not os.path.exists("/bin/busybox"):
        pytest.skip("busybox not installed")
    bb = registry.resolve("busybox")
    assert bb.cmd == ("sh",)
    path = dict(bb.env)["PATH"]
    first = Path(path.split(":")[0])
    # the image's busybox: /bin/busybox with wget and nc renamed in its applet table,
    # which are wrapper scripts instead (builtin.RENAMED: -T and -z, as upstream)
    exe = str(first / "busybox")
    for applet in ("sh", "nslookup", "ping"):
        assert os.path.realpath(first / applet) == exe
    for wrapper in ("wget", "nc"):
        assert (first / wrapper).read_text().startswith(f"#!{exe} sh\n")
    assert bb.program("sh") == (exe, "sh")
    assert bb.program("/bin/sh") == (exe, "sh")
    assert bb.program("wget") == (str(first / "wget"),)


def test_agnhost_entrypoint(registry: ImageRegistry) -> None:
    ag = registry.resolve("registry.k8s.io/e2e-test-images/agnhost:2.45")
    assert ag.entrypoint == ("/agnhost",)
    prog = ag.program("/agnhost")
    assert prog is not None and prog[-2:] == ("-m", "podnet.dataplane.images.agnhost")


def test_nginx_config_is_self_contained(tmp_path: Path) -> None:
    text = render_config(tmp_path, 8080, root_user=False)
    assert "listen 8080;" in text
    assert f"pid {tmp_path / 'nginx.pid'};" in text
    assert "user " not in text
    assert "daemon" not in text  # comes from the image CMD's -g
    assert "user root;" in render_config(tmp_path, 80, root_user=True)
