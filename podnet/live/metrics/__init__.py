"""The running containers' processes for the metrics scraper
(:mod:`podnet.apiserver.metrics.scraper`): kubelet's part of what cAdvisor does, the
list of containers to measure.

Each container runs as ``crun run ... <id>`` (or runc) in the foreground, the
container's init its child: the tree under that process is the container (crun's own
waiting costs nothing measurable). The runtime's state file holds the init's pid only
as the sandbox's PID namespace numbers it, so the ``run`` process is found by its
argv instead (its state root and the container id, unique per run), once per id: an id
is never reused for another run. A scan reads the argv only of processes it has not
read before (a scale-up starts hundreds of containers, one scan a second); that memory
is dropped every ``FORGET`` seconds, so a reused pid is read again within that time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from podnet.apiserver.metrics.scraper import Running

FORGET = 10.0


def _own_argv() -> list[bytes]:
    with open("/proc/self/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    return argv[:-1] if argv and not argv[-1] else argv


_OWN = _own_argv()


class ContainerPids:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster  # a LiveCluster
        self._pids: dict[str, int] = {}
        self._seen: set[int] = set()  # pids whose argv is not a run's
        self._forget_at = time.monotonic() + FORGET

    def __call__(self) -> Sequence[Running]:
        runtime = self.cluster.runtime
        if runtime is None or runtime.oci is None:
            return []
        running = runtime.oci_containers()
        ids = {e["id"] for cs in running.values() for e in cs.values()}
        if ids - self._pids.keys():
            if time.monotonic() >= self._forget_at:
                self._seen.clear()
                self._forget_at = time.monotonic() + FORGET
            found = run_processes(str(runtime.oci.binary.root), self._seen)
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


def run_processes(root: str, skip: set[int]) -> dict[str, int]:
    """Container id -> pid of the OCI runtime's ``run`` process under state root
    ``root``, among the processes not in ``skip``; the others read are added to it."""
    marker = root.encode()
    out: dict[str, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
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
        elif argv and argv != _OWN:  # empty or ours: a child not yet exec'd, read again
            skip.add(int(name))
    return out
