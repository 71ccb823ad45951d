"""Small builders for controller tests (model objects directly, no YAML)."""

from __future__ import annotations

from typing import Any

from podnet.model.objects import Container, ContainerPort, Manifests, Pod, Service, ServicePort


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    namespace: str = "default",
    ports: tuple[ContainerPort, ...] = (),
    **kw: Any,  # any other field of the object, passed through
) -> Pod:
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels or {},
        containers=(Container(name="c", image="busybox", ports=ports),),
        **kw,
    )


def svc(
    name: str,
    selector: dict[str, str] | None = None,
    ports: tuple[ServicePort, ...] = (ServicePort(port=80, target_port=80),),
    namespace: str = "default",
    **kw: Any,  # any other field of the object, passed through
) -> Service:
    return Service(
        namespace=namespace,
        name=name,
        selector=selector,
        ports=ports,
        **kw,
    )


def seed() -> Manifests:
    """The seed example: pod-a (client), pod-b (app=my-app) behind my-service:80."""
    return Manifests(
        pods=(pod("pod-a", {"app": "client"}), pod("pod-b", {"app": "my-app"})),
        services=(svc("my-service", {"app": "my-app"}),),
    )
