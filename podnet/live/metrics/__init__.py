"""The running containers' processes for the metrics scraper
(:mod:`podnet.apiserver.metrics.scraper`): kubelet's part of what cAdvisor does, the
list of containers to measure.

Each container runs as ``crun run ... <id>`` (or runc) in the foreground, the
container's init its child: the tree under that process is the container (crun's own
waiting costs nothing measurable). The runtime knows that process's pid (it spawned it);
the runtime's state file holds only the init's pid as the sandbox's PID namespace
numbers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from podnet.apiserver.metrics.scraper import Running


class ContainerPids:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster  # a LiveCluster

    def __call__(self) -> Sequence[Running]:
        runtime = self.cluster.runtime
        if runtime is None or runtime.oci is None:
            return []
        out: list[Running] = []
        for (key, name), pid in runtime.oci_run_pids().items():
            namespace, _, pod = key.partition("/")
            out.append(Running(namespace, pod, name, pid))
        return out
