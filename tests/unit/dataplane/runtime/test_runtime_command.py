"""Kubernetes' command/args rules and $(VAR) expansion (podnet.dataplane.runtime.command).

Cases from "Define a Command and Arguments for a Container" and kubelet's expansion
tests (third_party/forked/golang/expansion/expand_test.go).
"""

from __future__ import annotations

import pytest

from podnet.dataplane.images.image import Image
from podnet.dataplane.runtime.command import (
    container_argv,
    container_env,
    expand,
    host_argv,
    service_env,
)
from podnet.errors import ImageError
from podnet.model.objects import Container, Service, ServicePort

ENV = {"VAR_A": "A", "VAR_B": "B", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_B)", "A-B"),
        ("$(EMPTY)x", "x"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$VAR_A", "$VAR_A"),
        ("$(VAR_A", "$(VAR_A"),
        ("trailing $", "trailing $"),
        ("$()", "$()"),
        ("no refs", "no refs"),
    ],
)
def test_expand(text: str, out: str) -> None:
    assert expand(text, ENV) == out


IMG = Image(name="img", entrypoint=("/ep",), cmd=("cmd1", "cmd2"))


@pytest.mark.parametrize(
    ("command", "args", "argv"),
    [
        ((), (), ["/ep", "cmd1", "cmd2"]),  # image defaults
        (("/c",), (), ["/c"]),  # command replaces ENTRYPOINT, CMD ignored
        ((), ("a1",), ["/ep", "a1"]),  # args replace CMD
        (("/c",), ("a1", "a2"), ["/c", "a1", "a2"]),
    ],
)
def test_command_and_args_rules(
    command: tuple[str, ...], args: tuple[str, ...], argv: list[str]
) -> None:
    c = Container(name="c", image="img", command=command, args=args)
    assert container_argv(IMG, c, {}) == argv


def test_args_are_expanded_from_env() -> None:
    c = Container(
        name="c",
        image="img",
        command=("echo", "$(GREETING) $(NAME)", "$$(NAME)"),
        env=(("GREETING", "hello"), ("NAME", "$(GREETING)-world")),
    )
    env = container_env(IMG, c)
    assert env["NAME"] == "hello-world"  # env may use earlier env
    assert container_argv(IMG, c, env) == ["echo", "hello hello-world", "$(NAME)"]


def test_no_entrypoint_no_command_is_an_error() -> None:
    with pytest.raises(ImageError):
        container_argv(Image(name="x"), Container(name="c", image="x"), {})


def test_host_argv_maps_programs_and_wrappers() -> None:
    img = Image(
        name="n",
        programs=(("/docker-entrypoint.sh", ()), ("nginx", ("/usr/sbin/nginx",))),
    )
    assert host_argv(img, ["/docker-entrypoint.sh", "nginx", "-g", "x"]) == [
        "/usr/sbin/nginx",
        "-g",
        "x",
    ]
    assert host_argv(img, ["/usr/local/bin/nginx"]) == ["/usr/sbin/nginx"]
    assert host_argv(img, ["sh", "-c", "true"]) == ["sh", "-c", "true"]
    with pytest.raises(ImageError):
        host_argv(img, ["/docker-entrypoint.sh"])


def test_container_env_precedence() -> None:
    img = Image(name="i", env=(("PATH", "/img"), ("A", "img")))
    c = Container(name="c", image="i", env=(("A", "mine"), ("PATH", "/mine:$(PATH)")))
    env = container_env(img, c, base={"A": "svc", "HOSTNAME": "p"})
    assert env == {"PATH": "/mine:/img", "A": "mine", "HOSTNAME": "p"}


def test_service_env() -> None:
    svcs = [
        Service("default", "my-service", cluster_ip="10.96.0.20",
                ports=(ServicePort(80, 8080, name="http"), ServicePort(443, 8443))),
        Service("default", "headless", cluster_ip="None", ports=(ServicePort(80, 80),)),
        Service("other", "elsewhere", cluster_ip="10.96.0.30", ports=(ServicePort(80, 80),)),
        Service("default", "kubernetes", cluster_ip="10.96.0.1",
                ports=(ServicePort(443, 6443, name="https"),)),
    ]  # fmt: skip
    env = service_env(svcs, "shop")
    assert env == {  # what kubelet gives every pod for the API server's Service
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
    }
    env = service_env(svcs, "default")
    assert env["MY_SERVICE_SERVICE_HOST"] == "10.96.0.20"
    assert env["MY_SERVICE_SERVICE_PORT"] == "80"
    assert env["MY_SERVICE_SERVICE_PORT_HTTP"] == "80"
    assert not any(k.startswith("HEADLESS") for k in env)
