"""What a container runs: Kubernetes' command/args rules and ``$(VAR)`` expansion (pure).

"Define a Command and Arguments for a Container"
(kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/):
``command`` replaces the image's ENTRYPOINT and ``args`` its CMD; with only ``args`` the
image's ENTRYPOINT runs with those args; with only ``command`` the image's CMD is
ignored; with neither, ENTRYPOINT + CMD. ``$(VAR_NAME)`` in command and args is replaced
by the container's environment variable, ``$$`` escapes a ``$``, and a reference to an
undefined variable is left as written (kubelet: third_party/forked/golang/expansion
``expand.go``). Env values may reference variables defined *earlier* in the list and
the Service variables (kubelet ``makeEnvironmentVariables``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from podnet.dataplane.images.image import Image
from podnet.errors import ImageError
from podnet.model.objects import Container, Service


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion of one string."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:  # unterminated: kept verbatim
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            out.append(env[name] if name in env else text[i : end + 1])
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def service_env(services: Sequence[Service], namespace: str) -> dict[str, str]:
    """The variables kubelet injects for the Services a pod may see (enableServiceLinks).

    kubelet ``getServiceEnvVarMap`` + pkg/kubelet/envvars ``FromServices``: for each
    Service with a ClusterIP in the pod's namespace, plus ``default/kubernetes`` for
    every pod, ``<NAME>_SERVICE_HOST`` / ``_SERVICE_PORT`` (first port) /
    ``_SERVICE_PORT_<PORTNAME>``, and the Docker-links ones ``<NAME>_PORT=tcp://IP:PORT``,
    ``<NAME>_PORT_<P>_<PROTO>`` (+ ``_PROTO``, ``_PORT``, ``_ADDR``). Names upper-cased,
    ``-`` -> ``_``.
    """
    env: dict[str, str] = {}
    for svc in services:
        if svc.namespace != namespace and not (
            svc.namespace == "default" and svc.name == "kubernetes"
        ):
            continue
        ip = svc.cluster_ip
        if not ip or ip == "None" or not svc.ports:
            continue
        prefix = svc.name.upper().replace("-", "_")
        first = svc.ports[0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first.port)
        env[f"{prefix}_PORT"] = f"{first.protocol.lower()}://{ip}:{first.port}"
        for p in svc.ports:
            if p.name:
                env[f"{prefix}_SERVICE_PORT_{p.name.upper().replace('-', '_')}"] = str(p.port)
            link = f"{prefix}_PORT_{p.port}_{p.protocol.upper()}"
            env[link] = f"{p.protocol.lower()}://{ip}:{p.port}"
            env[f"{link}_PROTO"] = p.protocol.lower()
            env[f"{link}_PORT"] = str(p.port)
            env[f"{link}_ADDR"] = ip
    return env


def container_env(
    image: Image,
    container: Container,
    *,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Image ENV, then ``base`` (Service variables, HOSTNAME), then the container's env.

    Each container value is expanded against what precedes it, as kubelet does.
    """
    env = dict(image.env)
    env.update(base or {})
    for name, value in container.env:
        env[name] = expand(value, env)
    return env


def container_argv(image: Image, container: Container, env: Mapping[str, str]) -> list[str]:
    """The argv as written in the image/pod, after the rules above and expansion."""
    if container.command:
        argv = [*container.command, *container.args]
    elif container.args:
        argv = [*image.entrypoint, *container.args]
    else:
        argv = [*image.entrypoint, *image.cmd]
    argv = [expand(a, env) for a in argv]
    if not argv:
        raise ImageError(
            f"container {container.name!r}: image {image.name!r} has no entrypoint or cmd "
            "and the container sets no command"
        )
    return argv


def host_argv(image: Image, argv: Sequence[str]) -> list[str]:
    """Map the image's program at ``argv[0]`` to the host program that implements it.

    A program mapped to ``()`` is a pass-through wrapper (nginx's entrypoint script, which
    ends in ``exec "$@"``): it is dropped and the next word is mapped instead.
    """
    rest = list(argv)
    for _ in range(4):
        if not rest:
            break
        prog = image.program(rest[0])
        if prog is None:
            return rest
        if prog:
            return [*prog, *rest[1:]]
        rest = rest[1:]
    if not rest:
        raise ImageError(f"image {image.name!r}: entrypoint wrapper given no command")
    return rest
