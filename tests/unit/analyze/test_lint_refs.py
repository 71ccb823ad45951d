"""Host references found in container commands, args and env (podnet.analyze.lint.refs)."""

from __future__ import annotations

import pytest

from podnet.analyze.lint.refs import pod_refs
from podnet.model.objects import Container, Pod

Ref = tuple[str, int | None, str]
A80: Ref = ("a", 80, "TCP")


def refs(
    command: tuple[str, ...] = (), args: tuple[str, ...] = (), env: tuple[tuple[str, str], ...] = ()
) -> list[tuple[str, int | None, str]]:
    pod = Pod("default", "p", {}, (Container("c", "busybox", command, args, env),))
    return [(r.host, r.port, r.protocol) for r in pod_refs(pod)]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("sh", "-c", "wget -qO- http://my-service"), [("my-service", 80, "TCP")]),
        (("sh", "-c", "wget -qO- http://10.244.1.5"), [("10.244.1.5", 80, "TCP")]),
        (("sh", "-c", "curl -s https://api.shop:8443/x"), [("api.shop", 8443, "TCP")]),
        (("sh", "-c", "nc -zv -w 2 db.data 5432"), [("db.data", 5432, "TCP")]),
        (("sh", "-c", "nc -u -w1 dns 53"), [("dns", 53, "UDP")]),
        (("sh", "-c", "nslookup my-servce"), [("my-servce", None, "UDP")]),
        (("ping", "-c", "1", "web"), [("web", None, "UDP")]),
        (("/agnhost", "connect", "web.shop:80", "--timeout=1s"), [("web.shop", 80, "TCP")]),
        (("sh", "-c", "wget -qO- api:8080/health"), [("api", 8080, "TCP")]),
        (("sh", "-c", "wget -q http://localhost:8080 && echo ok"), []),
        (("sleep", "3600"), []),
        (("sh", "-c", "nc -lk -p 8080 -e cat"), []),
        (("nc", "-l", "8080"), []),
        (("sh", "-c", "wget -O /tmp/x 1234"), []),
        (
            ("sh", "-c", "while true; do\n  wget -qO- http://a/\n  sleep 1\ndone"),
            [("a", 80, "TCP")],
        ),
        (("sh", "-c", "echo 'unbalanced"), []),
    ],
)
def test_command_refs(
    command: tuple[str, ...], expected: list[tuple[str, int | None, str]]
) -> None:
    assert refs(command) == expected


def test_args_without_command_are_read() -> None:
    assert refs(args=("wget", "http://web:8080/")) == [("web", 8080, "TCP")]


def test_env_urls_host_ports_and_named_hosts() -> None:
    env = (
        ("DATABASE_URL", "postgres://db.data:5432/shop"),
        ("CACHE_ADDR", "cache.data:6379"),
        ("DB_HOST", "postgres"),
        ("GREETING", "hello"),
        ("PORT", "8080"),
    )
    assert refs(("sleep", "1"), env=env) == [
        ("db.data", 5432, "TCP"),
        ("cache.data", 6379, "TCP"),
        ("postgres", None, "TCP"),
    ]


def test_fields_point_into_the_manifest() -> None:
    pod = Pod(
        "default",
        "p",
        {},
        (Container("c", "busybox", ("sleep", "1"), env=(("X_URL", "http://a"),)),),
        init_containers=(Container("i", "busybox", ("wget", "http://b")),),
    )
    assert [(r.field, r.host) for r in pod_refs(pod)] == [
        ("spec.initContainers[0].command", "b"),
        ("spec.containers[0].env[0].value", "a"),
    ]
