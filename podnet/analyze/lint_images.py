"""Ports a container serves: the ones it declares, plus the ones its image is known for.

``containerPort`` is informational in Kubernetes ("Not specifying a port here DOES NOT
prevent that port from being exposed", core/v1 types.go Container.Ports), so the seed's
``nginx`` pod serves port 80 without declaring it. A short table of well-known images
fills that gap for lint (``target-port-unmatched``), diff and the report.
"""

from __future__ import annotations

from podnet.model.objects import Container, ContainerPort, Pod

# image basename (no registry, no tag) -> ports it listens on by default
KNOWN_IMAGE_PORTS: dict[str, tuple[tuple[int, str], ...]] = {
    "nginx": ((80, "TCP"),),
    "nginx-unprivileged": ((8080, "TCP"),),
    "httpd": ((80, "TCP"),),
    "caddy": ((80, "TCP"), (443, "TCP")),
    "redis": ((6379, "TCP"),),
    "postgres": ((5432, "TCP"),),
    "mysql": ((3306, "TCP"),),
    "mariadb": ((3306, "TCP"),),
    "memcached": ((11211, "TCP"),),
    "mongo": ((27017, "TCP"),),
    "rabbitmq": ((5672, "TCP"),),
    "coredns": ((53, "UDP"), (53, "TCP")),
    "echoserver": ((8080, "TCP"),),
}


def image_basename(image: str) -> str:
    """``registry.k8s.io/e2e-test-images/agnhost:2.45`` -> ``agnhost``."""
    name = image.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].split(":", 1)[0].lower()


def _agnhost_ports(c: Container) -> tuple[tuple[int, str], ...]:
    """agnhost's subcommands listen where their flags say (defaults from its source)."""
    argv = [*c.command, *c.args]
    if "netexec" in argv:
        http, udp = 8080, 8081
        for a in argv:
            if a.startswith("--http-port="):
                http = int(a.split("=", 1)[1]) if a.split("=", 1)[1].isdigit() else http
            if a.startswith("--udp-port="):
                udp = int(a.split("=", 1)[1]) if a.split("=", 1)[1].isdigit() else udp
        return ((http, "TCP"), (udp, "UDP"))
    if "serve-hostname" in argv:
        return ((9376, "TCP"),)
    return ()


def image_ports(c: Container) -> tuple[tuple[int, str], ...]:
    base = image_basename(c.image)
    if base == "agnhost":
        return _agnhost_ports(c)
    return KNOWN_IMAGE_PORTS.get(base, ())


def served_ports(pod: Pod) -> tuple[ContainerPort, ...]:
    """Declared ports first, then image defaults not already declared; stable order."""
    out = list(pod.all_ports())
    seen = {(p.container_port, p.protocol) for p in out}
    for c in pod.containers:
        for port, proto in image_ports(c):
            if (port, proto) not in seen:
                seen.add((port, proto))
                out.append(ContainerPort(port, proto))
    return tuple(out)


def serves(pod: Pod, port: int, protocol: str) -> bool:
    return any(p.container_port == port and p.protocol == protocol for p in served_ports(pod))
