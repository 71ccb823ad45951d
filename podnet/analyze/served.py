"""Which ports a pod serves: what the connectivity matrix probes per destination.

A pod serves the ports its containers declare, the targetPorts of the Services that
select it (resolved on this pod, as the EndpointSlice controller resolves named
targetPorts per pod), and the ports its image is known to listen on even when the
manifest declares none (containerPort is informational in Kubernetes: "Not specifying
a port here DOES NOT prevent that port from being exposed", core/v1 types.go).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from podnet.model.objects import Pod, Service
from podnet.model.selectors import matches_map

Port = tuple[int, str]  # (number, protocol)

# Images whose default command listens on a known port. Keyed by image name without
# registry, repository path or tag. Only images podnet can run or that are ubiquitous.
KNOWN_IMAGE_PORTS: Mapping[str, tuple[Port, ...]] = {
    "nginx": ((80, "TCP"),),
    "nginx-unprivileged": ((8080, "TCP"),),
    "httpd": ((80, "TCP"),),
}


def image_name(image: str) -> str:
    """``docker.io/library/nginx:1.25`` -> ``nginx``; digests and tags dropped."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def known_image_ports(image: str) -> tuple[Port, ...]:
    return KNOWN_IMAGE_PORTS.get(image_name(image), ())


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
    ports: set[Port] = {(p.container_port, p.protocol) for p in pod.all_ports()}
    for c in pod.containers:
        ports.update(known_image_ports(c.image))
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
