"""A cluster whose pods are this machine, for :class:`podnet.live.exec.ExecEndpoint`:
its runtime knows a few pods and answers ``exec_command`` as the real one does (the
argv, the container's env, a cwd; :class:`PodRuntimeError` for a container that does
not run), its sandbox starts the process on the host (as ``host_spawner`` does). So
``podnet exec`` runs in-process through the real endpoint, streams and
:func:`podnet.live.kubelet_streams.start_exec`, with real processes and fds."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any, cast

from podnet.errors import PodRuntimeError
from podnet.live.cluster import LiveCluster
from podnet.model.objects import Container, Pod


class HostRuntime:
    def __init__(self, pods: Sequence[Pod]) -> None:
        self.pods = {p.key: p for p in pods}

    def pod(self, key: str) -> Pod | None:
        return self.pods.get(key)

    def exec_command(
        self, key: str, container: str, argv: Sequence[str], *, tty: bool = False
    ) -> tuple[list[str], dict[str, str], str, None]:
        pod = self.pods.get(key)
        if pod is None or container not in {c.name for c in pod.containers}:
            raise PodRuntimeError(f"container {container!r} of pod {key} is not running")
        env = {"PATH": "/usr/bin:/bin", "POD": key, "CONTAINER": container}
        return list(argv), env, "/", None  # no console: start_exec makes the pty


class HostSandbox:
    def spawn(
        self, pod_key: str, argv: Sequence[str], *, cwd: str | None = None, **popen: Any
    ) -> subprocess.Popen[bytes]:
        del pod_key
        return subprocess.Popen(list(argv), cwd=cwd, **popen)


class HostCluster:
    def __init__(self, pods: Sequence[Pod]) -> None:
        self.runtime = HostRuntime(pods)
        self.sandbox = HostSandbox()

    def as_live(self) -> LiveCluster:
        """Typed as the real one: the endpoint uses ``runtime`` and ``sandbox`` only."""
        return cast(LiveCluster, self)


def pod(key: str, *containers: str) -> Pod:
    namespace, name = key.split("/")
    return Pod(
        name=name,
        namespace=namespace,
        labels={},
        containers=tuple(Container(name=c, image="busybox") for c in containers),
    )
