"""Containers as processes: start a pod's containers, track them, stop them.

kubelet's job, cut down to what networking needs: init containers run first, one at a
time, each to a zero exit ("Init Containers": kubernetes.io/docs/concepts/workloads/
pods/init-containers/); then every app container starts, each a process tree started
through the :class:`~podnet.dataplane.runtime_spawn.Spawner` seam (inside the pod's
namespaces in a live cluster), restarted per ``restartPolicy`` with back-off
(:mod:`podnet.dataplane.runtime_state`), its output kept as its log and streamed to a
callback, its readiness decided by its readinessProbe (or by running, without one).

Readiness changes are reported through ``on_ready(pod_key, ready)`` so the orchestrator
can recompute endpoints; every status change through ``on_status(PodStatus)``. Stopping
a pod signals the process groups the runtime created - never anything found by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from podnet.dataplane.images import ImageRegistry
from podnet.dataplane.runtime_container import ContainerRunner, RunConfig
from podnet.dataplane.runtime_logs import LogBuffer, LogSink
from podnet.dataplane.runtime_spawn import Spawner
from podnet.dataplane.runtime_state import (
    FAILED,
    TERMINATED,
    WAITING,
    ContainerStatus,
    PodStatus,
    pod_phase,
)
from podnet.errors import PodnetError
from podnet.model.objects import Pod

ReadyCallback = Callable[[str, bool], None]
StatusCallback = Callable[[PodStatus], None]


class PodRuntimeError(PodnetError):
    """A pod cannot be started or found (duplicate start, unknown pod)."""


@dataclass
class _PodRun:
    pod: Pod
    stop: threading.Event
    runners: dict[str, ContainerRunner]
    init_names: tuple[str, ...]
    app_started: bool = False
    ready: bool = False
    thread: threading.Thread | None = None


class Runtime:
    """Runs pods' containers as processes; one instance per cluster."""

    def __init__(
        self,
        images: ImageRegistry,
        spawner: Spawner,
        state_dir: Path,
        *,
        on_log: LogSink | None = None,
        on_ready: ReadyCallback | None = None,
        on_status: StatusCallback | None = None,
        backoff_scale: float = 1.0,
        grace: float = 10.0,
    ) -> None:
        self.images, self.spawner, self.state_dir = images, spawner, state_dir
        self.on_log, self.on_ready, self.on_status = on_log, on_ready, on_status
        self.backoff_scale, self.grace = backoff_scale, grace
        self._pods: dict[str, _PodRun] = {}
        self._lock = threading.RLock()

    def start_pod(self, pod: Pod, env: Mapping[str, str] | None = None) -> None:
        """Start ``pod``'s containers in the background.

        ``env`` is added to every container before its own env (Service variables,
        :func:`~podnet.dataplane.runtime_command.service_env`). Unknown images fail
        here, before any process starts.
        """
        with self._lock:
            if pod.key in self._pods:
                raise PodRuntimeError(f"pod {pod.key} is already running")
        images = {
            c.name: self.images.resolve(c.image) for c in (*pod.init_containers, *pod.containers)
        }
        base = {"HOSTNAME": pod.hostname or pod.name, **(env or {})}
        cfg = RunConfig(
            pod_key=pod.key,
            restart_policy=pod.restart_policy,
            spawner=self.spawner,
            state_dir=self.state_dir / pod.namespace / pod.name,
            base_env=base,
            probe_host=pod.ip or "127.0.0.1",
            backoff_scale=self.backoff_scale,
            grace=self.grace,
        )
        run = _PodRun(pod, threading.Event(), {}, tuple(c.name for c in pod.init_containers))
        many = len(pod.containers) + len(pod.init_containers) > 1
        for c in (*pod.init_containers, *pod.containers):
            prefix = f"{pod.key}/{c.name}" if many else pod.key
            log = LogBuffer(prefix, self.on_log)
            init = c.name in run.init_names

            def update(_s: ContainerStatus, key: str = pod.key) -> None:
                self._changed(key)

            run.runners[c.name] = ContainerRunner(
                cfg, c, images[c.name], log, update, run.stop, init=init
            )
        run.thread = threading.Thread(target=self._run_pod, args=(run,), daemon=True)
        with self._lock:
            self._pods[pod.key] = run
        run.thread.start()

    def _run_pod(self, run: _PodRun) -> None:
        for name in run.init_names:
            code = run.runners[name].run()
            if code != 0 or run.stop.is_set():
                self._changed(run.pod.key)
                return  # the pod failed (policy Never) or was stopped
        run.app_started = True
        threads = [
            threading.Thread(target=run.runners[c.name].run, daemon=True)
            for c in run.pod.containers
        ]
        for t in threads:
            t.start()
        self._changed(run.pod.key)
        for t in threads:
            t.join()

    def _changed(self, key: str) -> None:
        with self._lock:
            run = self._pods.get(key)
            if run is None:
                return
            status = self._status(run)
            flip = status.ready != run.ready
            run.ready = status.ready
        if self.on_status is not None:
            self.on_status(status)
        if flip and self.on_ready is not None:
            self.on_ready(key, status.ready)

    def _status(self, run: _PodRun) -> PodStatus:
        init = tuple(run.runners[n].status for n in run.init_names)
        app = tuple(run.runners[c.name].status for c in run.pod.containers)
        phase = pod_phase(init, app, app_started=run.app_started)
        if run.stop.is_set() and phase not in (FAILED,):
            app = tuple(_stopped(s) for s in app)
        return PodStatus(run.pod.key, phase, init, app)

    def status(self, key: str) -> PodStatus:
        with self._lock:
            run = self._pods.get(key)
            if run is None:
                raise PodRuntimeError(f"pod {key} is not running")
            return self._status(run)

    def logs(self, key: str, container: str | None = None) -> list[str]:
        """The kept log lines of one container (the first app container by default)."""
        with self._lock:
            run = self._pods.get(key)
        if run is None:
            raise PodRuntimeError(f"pod {key} is not running")
        name = container or run.pod.containers[0].name
        if name not in run.runners:
            raise PodRuntimeError(f"pod {key} has no container {name!r}")
        return run.runners[name].log.lines()

    def pods(self) -> list[str]:
        with self._lock:
            return sorted(self._pods)

    def stop_pod(self, key: str) -> None:
        """Stop every container of the pod (SIGTERM, SIGKILL after the grace period)."""
        with self._lock:
            run = self._pods.get(key)
        if run is None:
            return
        run.stop.set()
        killers = [threading.Thread(target=r.kill, daemon=True) for r in run.runners.values()]
        for t in killers:
            t.start()
        for t in killers:
            t.join()
        if run.thread is not None:
            run.thread.join(timeout=self.grace + 5)
        was_ready = run.ready
        with self._lock:
            self._pods.pop(key, None)
        if was_ready and self.on_ready is not None:
            self.on_ready(key, False)

    def close(self) -> None:
        """Stop every pod (concurrently, so N pods take one grace period, not N)."""
        threads = [threading.Thread(target=self.stop_pod, args=(k,)) for k in self.pods()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def _stopped(s: ContainerStatus) -> ContainerStatus:
    if s.state == WAITING:
        return replace(s, state=TERMINATED, reason="Stopped", ready=False)
    return s
