"""The running containers' processes for the metrics scraper
(:mod:`podnet.apiserver.metrics.scraper`): kubelet's part of what cAdvisor does, the
list of containers to measure.

Each container runs as ``crun run ... <id>`` (or runc) in the foreground, the
container's init its child: the tree under that process is the container (crun's own
waiting costs nothing measurable). The runtime's state file holds the init's pid only
as the sandbox's PID namespace numbers it, so the ``run`` process is found by its
argv instead (its state root and the container id, unique per run), once per id: an id
is never reused for another run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from podnet.apiserver.metrics.scraper import Running


class ContainerPids:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster  # a LiveCluster
        self._pids: dict[str, int] = {}

    def __call__(self) -> Sequence[Running]:
        runtime = self.cluster.runtime
        if runtime is None or runtime.oci is None:
            return []
        running = runtime.oci_containers()
        ids = {e["id"] for cs in running.values() for e in cs.values()}
        if ids - self._pids.keys():
            found = run_processes(str(runtime.oci.binary.root))
            self._pids = {
                i: self._pids.get(i) or found[i] for i in ids if i in found or i in self._pids
            }
        else:
            self._pids = {i: p for i, p in self._pids.items() if i in ids}
        out: list[Running] = []
        for key, containers in running.items():
            namespace, _, pod = key.partition("/")
            for name, entry in containers.items():
                pid = self._pids.get(entry["id"])
                if pid:
                    out.append(Running(namespace, pod, name, pid))
        return out


def run_processes(root: str) -> dict[str, int]:
    """Container id -> pid of the OCI runtime's ``run`` process under state root ``root``."""
    marker = root.encode()
    out: dict[str, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and not argv[-1]:
            argv.pop()
        if len(argv) > 3 and marker in argv and b"run" in argv and argv[-2] != b"--root":
            out[argv[-1].decode(errors="replace")] = int(name)
    return out
