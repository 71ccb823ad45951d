"""Which ports a pod serves: what the connectivity matrix probes per destination.

A pod serves the ports its containers declare, the targetPorts of the Services that
select it (resolved on this pod, as the EndpointSlice controller resolves named
targetPorts per pod), and the ports its image is known to listen on even when the
manifest declares none (containerPort is informational in Kubernetes: "Not specifying
a port here DOES NOT prevent that port from being exposed", core/v1 types.go).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from podnet.model.objects import Container, ContainerPort, Pod, Service
from podnet.model.selectors import matches_map

Port = tuple[int, str]  # (number, protocol)

# Images whose default command listens on a known port, keyed by image name without
# registry, repository path or tag (the images' Dockerfiles EXPOSE these).
KNOWN_IMAGE_PORTS: Mapping[str, tuple[Port, ...]] = {
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


def image_name(image: str) -> str:
    """``docker.io/library/nginx:1.25`` -> ``nginx``; digests and tags dropped."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def _flag(argv: Sequence[str], name: str, default: str) -> str:
    """Value of a Go-style flag ``--name=v`` / ``--name v`` / ``-name=v`` (last wins)."""
    value = default
    for i, a in enumerate(argv):
        for prefix in (f"--{name}", f"-{name}"):
            if a == prefix and i + 1 < len(argv) and "=" not in a:
                value = argv[i + 1]
            elif a.startswith(prefix + "="):
                value = a.split("=", 1)[1]
    return value


def _int(text: str, default: int) -> int:
    return int(text) if text.isdigit() else default


def _agnhost_ports(c: Container) -> tuple[Port, ...]:
    """Where agnhost's subcommands listen, from their flags (defaults from upstream
    test/images/agnhost: serve-hostname --port 9376 --tcp/--udp/--http; netexec
    --http-port 8080 --udp-port 8081; porter: one port per SERVE_*PORT_<N> env var)."""
    argv = [*c.command, *c.args]
    if "serve-hostname" in argv:
        port = _int(_flag(argv, "port", "9376"), 9376)
        out: list[Port] = []
        tcp = _flag(argv, "tcp", "false") != "false" or "--tcp" in argv
        udp = _flag(argv, "udp", "false") != "false" or "--udp" in argv
        http = _flag(argv, "http", "true") != "false"
        if tcp or http:
            out.append((port, "TCP"))
        if udp:
            out.append((port, "UDP"))
        return tuple(out)
    if "netexec" in argv:
        ports: list[Port] = [(_int(_flag(argv, "http-port", "8080"), 8080), "TCP")]
        udp_port = _flag(argv, "udp-port", "8081")
        if udp_port.isdigit():
            ports.append((int(udp_port), "UDP"))
        return tuple(ports)
    if "porter" in argv:
        found: list[Port] = []
        for name, _ in c.env:
            for prefix, proto in (
                ("SERVE_PORT_", "TCP"),
                ("SERVE_TLS_PORT_", "TCP"),
                ("SERVE_SCTP_PORT_", "SCTP"),
            ):
                if name.startswith(prefix) and name[len(prefix) :].isdigit():
                    found.append((int(name[len(prefix) :]), proto))
        return tuple(found)
    return ()


def image_ports(c: Container) -> tuple[Port, ...]:
    """Ports ``c`` listens on without declaring them: its image's, or agnhost's flags."""
    if image_name(c.image) == "agnhost":
        return _agnhost_ports(c)
    return KNOWN_IMAGE_PORTS.get(image_name(c.image), ())


def container_ports(pod: Pod) -> tuple[ContainerPort, ...]:
    """Declared ports first (with their names), then image ports not declared; stable."""
    out = list(pod.all_ports())
    seen = {(p.container_port, p.protocol) for p in out}
    for c in pod.containers:
        for port, proto in image_ports(c):
            if (port, proto) not in seen:
                seen.add((port, proto))
                out.append(ContainerPort(port, proto))
    return tuple(out)


def serves(pod: Pod, port: int, protocol: str) -> bool:
    return any(p.container_port == port and p.protocol == protocol for p in container_ports(pod))


def _service_ports(pod: Pod, services: Sequence[Service]) -> list[Port]:
    out: list[Port] = []
    for svc in services:
        if svc.namespace != pod.namespace or svc.selector is None or svc.type == "ExternalName":
            continue
        if not matches_map(svc.selector, pod.labels):
            continue
        for sp in svc.ports:
            if isinstance(sp.target_port, int):
                out.append((sp.target_port, sp.protocol))
            else:
                number = pod.named_port(sp.target_port, sp.protocol)
                if number is not None:
                    out.append((number, sp.protocol))
    return out


def served_ports(pod: Pod, services: Sequence[Service]) -> tuple[Port, ...]:
    """Sorted, distinct ports of ``pod``; only Services of its namespace count."""
    ports: set[Port] = {(p.container_port, p.protocol) for p in container_ports(pod)}
    ports.update(_service_ports(pod, services))
    return tuple(sorted(ports))


def served_ports_by_pod(
    pods: Sequence[Pod], services: Sequence[Service]
) -> dict[str, tuple[Port, ...]]:
    """``served_ports`` for many pods; Services are matched only within a namespace."""
    by_ns: dict[str, list[Service]] = {}
    for svc in services:
        by_ns.setdefault(svc.namespace, []).append(svc)
    return {p.key: served_ports(p, by_ns.get(p.namespace, [])) for p in pods}
