"""A pod whose sandbox died: kubelet's ``SandboxChanged`` path, the decisions and the watch.

pkg/kubelet/kuberuntime/kuberuntime_manager.go ``computePodActions``: a pod whose sandbox
is not ready (``podSandboxChanged``) is killed (``KillPod``: every container, with the
pod's grace period) and, unless it must not run again, gets a new sandbox
(``CreateSandbox``: a new network namespace, a new IP from its node's podCIDR through
CNI) in which all its containers start again, init containers first; ``SyncPod`` then
records the Event ``SandboxChanged`` "Pod sandbox changed, it will be killed and
re-created.". A pod with ``restartPolicy: Never`` whose containers already ran gets
no new sandbox ("Should not restart the pod, just return": ``!shouldRestartOnFailure(pod)
&& attempt != 0 && len(podStatus.ContainerStatuses) != 0``); nor does an ``OnFailure``
pod whose containers all succeeded (``containersToStart`` empty). Each container of
the new sandbox counts one restart more than its last run
(kuberuntime_container.go ``startContainer``: ``restartCount = containerStatus.RestartCount
+ 1`` of the exited container).

:class:`SandboxWatch` is the kubelet's pod lifecycle event generator for sandboxes: a
pidfd per pod sandbox (its holder process) in the runtime's loop, so a death is seen at
once, as evented PLEG hears it from the runtime rather than at the next relist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
from collections.abc import Callable, Iterable

from podnet.dataplane.runtime.loop import pidfd
from podnet.dataplane.runtime.state import TERMINATED, WAITING, ContainerStatus, PodStatus
from podnet.live.cluster import LiveCluster

SANDBOX_CHANGED = "Pod sandbox changed, it will be killed and re-created."


def should_recreate(restart_policy: str, status: PodStatus | None) -> bool:
    """Whether a pod whose sandbox died gets a new one (``computePodActions``)."""
    ran = status is not None and any(
        c.started is not None or c.state != WAITING or c.restart_count
        for c in (*status.init_containers, *status.containers)
    )
    if restart_policy == "Never" and ran:
        return False
    if restart_policy == "OnFailure" and status is not None and status.containers:
        succeeded = [c.state == TERMINATED and c.exit_code == 0 for c in status.containers]
        return not all(succeeded)
    return True


def next_restarts(status: PodStatus | None, base: dict[str, int]) -> dict[str, int]:
    """The restart count each container of a new sandbox starts from: its last run's
    count (``status``, as the API showed it, ``base`` already added) plus one for a
    container that ran; the runtime counts from 0 again in the new sandbox."""
    if status is None:
        return dict(base)
    out = dict(base)
    for c in (*status.init_containers, *status.containers):
        ran = c.started is not None or c.state != WAITING
        out[c.name] = c.restart_count + (1 if ran else 0)
    return out


def shifted(status: PodStatus, base: dict[str, int]) -> PodStatus:
    """``status`` with each container's restart count raised by its ``base``."""
    if not base:
        return status

    def shift(cs: tuple[ContainerStatus, ...]) -> tuple[ContainerStatus, ...]:
        return tuple(
            dataclasses.replace(c, restart_count=c.restart_count + base.get(c.name, 0)) for c in cs
        )

    return dataclasses.replace(
        status,
        init_containers=shift(status.init_containers),
        containers=shift(status.containers),
    )


class SandboxWatch:
    """Calls ``on_died(pod_key, pid)`` (on the runtime loop's thread: it must only
    hand the work on) when a watched pod's sandbox holder exits while the sandbox
    still names it: one podnet removes itself is gone from ``Sandbox.pids`` first."""

    def __init__(self, cluster: LiveCluster, on_died: Callable[[str, int], None]) -> None:
        self.cluster, self.on_died = cluster, on_died
        self._fds: dict[int, tuple[str, int]] = {}  # pid -> (pod key, pidfd)
        self._lock = threading.Lock()
        self._closed = False

    def add(self, keys: Iterable[str]) -> None:
        """Watch the current sandboxes of the pods ``keys``."""
        sandbox, runtime = self.cluster.sandbox, self.cluster.runtime
        if sandbox is None or runtime is None:
            return
        pids = sandbox.pids()
        loop = runtime.loop
        with loop.lock, self._lock:
            if self._closed:
                return
            for key in keys:
                pid = pids.get(f"pod/{key}")
                if pid is None or pid in self._fds:
                    continue
                fd = pidfd(pid)
                if fd is None:  # a kernel before 5.3: not watched
                    continue
                self._fds[pid] = (key, fd)
                loop.add_reader(fd, functools.partial(self._exited, pid))

    def _exited(self, pid: int) -> None:
        assert self.cluster.runtime is not None and self.cluster.sandbox is not None
        with self._lock:
            found = self._fds.pop(pid, None)
        if found is None:
            return
        key, fd = found
        self.cluster.runtime.loop.remove_reader(fd)
        os.close(fd)
        if self.cluster.sandbox.pids().get(f"pod/{key}") == pid:
            self.on_died(key, pid)

    def close(self) -> None:
        """Stop watching (the kubelet stops; the cluster may live on)."""
        runtime = self.cluster.runtime
        # the loop's lock first, as add() and a callback (_exited) take them
        with runtime.loop.lock if runtime is not None else contextlib.nullcontext(), self._lock:
            self._closed = True
            for _, fd in self._fds.values():
                if runtime is not None:
                    runtime.loop.remove_reader(fd)
                os.close(fd)
            self._fds.clear()
