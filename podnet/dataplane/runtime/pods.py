"""Containers as processes: start a pod's containers, track them, stop them.

kubelet's job, cut down to what networking needs: init containers run first, one at a
time, each to a zero exit ("Init Containers": kubernetes.io/docs/concepts/workloads/
pods/init-containers/); then every app container starts through the
:class:`~podnet.dataplane.runtime.spawn.Spawner` seam, is restarted per
``restartPolicy`` with back-off (:mod:`podnet.dataplane.runtime.state`), has its output
kept and streamed, and is ready per its readinessProbe (or while running, without one).

The owner drives the loop (:meth:`Runtime.step` / :meth:`Runtime.run_until`) or calls
:meth:`Runtime.start_background` once (:mod:`podnet.dataplane.runtime.loop`). Readiness
changes are reported through ``on_ready(pod_key, ready)``, every status change through
``on_status(PodStatus)``. Stopping a pod signals the process groups the runtime
created, never anything found by name. More: README.md here.
"""

from __future__ import annotations

import functools
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from podnet.dataplane.images.registry import ImageRegistry
from podnet.dataplane.oci.console import ConsoleSocket
from podnet.dataplane.oci.launcher import CRUN_ENV, OciLauncher, kill_container
from podnet.dataplane.oci.spec import Mount
from podnet.dataplane.runtime.command import container_env, host_argv
from podnet.dataplane.runtime.container import ContainerRunner, RunConfig
from podnet.dataplane.runtime.logs import LogBuffer, LogSink
from podnet.dataplane.runtime.loop import Loop
from podnet.dataplane.runtime.spawn import Spawner, Stream, signal_tree
from podnet.dataplane.runtime.state import (
    TERMINATED,
    WAITING,
    ContainerStatus,
    PodStatus,
    pod_phase,
)
from podnet.errors import PodRuntimeError
from podnet.model.objects import Container, Pod

ReadyCallback = Callable[[str, bool], None]
StatusCallback = Callable[[PodStatus], None]


@dataclass
class _PodRun:
    pod: Pod
    runners: dict[str, ContainerRunner] = field(default_factory=dict)
    init_names: tuple[str, ...] = ()
    app_started: bool = False
    ready: bool = False
    stopping: bool = False
    cfg: RunConfig | None = None
    log_dir: Path | None = None
    ephemeral: tuple[str, ...] = ()  # ephemeral containers started, in order


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
        on_event: Callable[[str], None] | None = None,
        backoff_scale: float = 1.0,
        grace: float = 10.0,
        loop: Loop | None = None,
        oci: OciLauncher | None = None,
    ) -> None:
        self.images, self.spawner, self.state_dir = images, spawner, state_dir
        self.oci = oci  # containers run by crun when set (the live cluster), else processes
        self.on_log, self.on_ready, self.on_status = on_log, on_ready, on_status
        self.on_event = on_event  # restarts, one line each (kubelet's Events)
        self.backoff_scale, self.grace = backoff_scale, grace
        self.loop = loop or Loop()
        self._pods: dict[str, _PodRun] = {}
        self._local = threading.local()  # .concurrent: see start_pod
        # a pod's volume binds per container (the kubelet's volume manager), under crun
        self.container_mounts: Callable[[Pod], Mapping[str, tuple[Mount, ...]]] | None = None
        self.before_container: Callable[[str, str], None] | None = None  # RunConfig's

    # --- driving -------------------------------------------------------------------
    def step(self, timeout: float = 0.1) -> None:
        self.loop.step(timeout)

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        return self.loop.run_until(done, timeout)

    def start_background(self) -> None:
        """Drive the loop from a thread of its own (only where threads may be created:
        on the host, or when the sandbox unshares its PID namespace in another thread).
        Callbacks then come from that thread; every public method takes the loop lock."""
        self.loop.start_background()

    # --- pods ----------------------------------------------------------------------
    def start_pod(
        self,
        pod: Pod,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        *,
        mounts: Sequence[Mount] = (),
        pid_namespace: str | None = None,
        concurrent: bool = False,
    ) -> None:
        """Start ``pod`` (:meth:`_start_pod`). ``concurrent``: other threads start pods
        meanwhile, and the loop lock is let go while each container's process forks
        (:meth:`_spawn`), so that their forks overlap."""
        with self.loop.lock:
            self._local.concurrent = concurrent
            try:
                self._start_pod(
                    pod, env, log_dir, mounts=tuple(mounts), pid_namespace=pid_namespace
                )
            finally:
                self._local.concurrent = False

    def _spawn(
        self,
        pod_key: str,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        stdout: Stream,
        stderr: Stream,
        stdin: Stream = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        """The containers' spawner. In a concurrent start the loop lock is let go for
        the fork: Popen waits until the child has exec'd, and under load that is a
        scheduler round, which a thousand pods paid one after another. A pod stopped
        meanwhile (its run gone or stopping) gets the process SIGKILLed at once, which
        its runner then sees exit: nothing outlives the stop."""
        if not getattr(self._local, "concurrent", False):
            return self.spawner(pod_key, argv, env, cwd, stdout, stderr, stdin)
        self.loop.lock.release()
        try:
            proc = self.spawner(pod_key, argv, env, cwd, stdout, stderr, stdin)
        finally:
            self.loop.lock.acquire()
        run = self._pods.get(pod_key)
        if run is None or run.stopping:
            if self.oci is not None:
                kill_container(proc)
            signal_tree(proc, signal.SIGKILL)
        return proc

    def _start_pod(
        self,
        pod: Pod,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        *,
        mounts: tuple[Mount, ...] = (),
        pid_namespace: str | None = None,
    ) -> None:
        """Start ``pod``: its first init container, or all app containers, now.

        ``env`` is added to every container before its own env (Service variables,
        :func:`~podnet.dataplane.runtime.command.service_env`). Unknown images fail
        here, before any process starts. With ``log_dir``, each container's output is
        also kept in files there (:class:`~podnet.dataplane.runtime.logs.LogBuffer`).
        Under an OCI runtime, ``mounts`` are bound into each container of the pod and
        ``pid_namespace`` (a path) is the pod's shared PID namespace.
        """
        if pod.key in self._pods:
            raise PodRuntimeError(f"pod {pod.key} is already running")
        all_containers = (*pod.init_containers, *pod.containers)
        images = {c.name: self.images.resolve(c.image) for c in all_containers}
        cfg = RunConfig(
            pod_key=pod.key,
            restart_policy=pod.restart_policy,
            spawner=self._spawn,
            state_dir=self.state_dir / pod.namespace / pod.name,
            base_env={"HOSTNAME": pod.hostname or pod.name, **(env or {})},
            probe_host=pod.ip or "127.0.0.1",
            backoff_scale=self.backoff_scale,
            grace=self.grace,
            on_event=self.on_event,
            oci=self.oci,
            pod_security=pod.security_context,
            pid_namespace=pid_namespace,
            mounts=mounts,
            container_mounts=tuple(self.container_mounts(pod).items())
            if self.container_mounts
            else (),
            before_start=self.before_container,
        )
        run = _PodRun(pod, init_names=tuple(c.name for c in pod.init_containers))
        run.cfg, run.log_dir = cfg, log_dir
        many = len(all_containers) > 1
        for c in all_containers:
            prefix = f"{pod.key}/{c.name}" if many else pod.key
            files = None if log_dir is None else log_dir / c.name
            log = LogBuffer(prefix, self.on_log, files=files)
            run.runners[c.name] = ContainerRunner(
                self.loop,
                cfg,
                c,
                images[c.name],
                log,
                functools.partial(self._container_changed, pod.key),
                functools.partial(self._finished, pod.key, c.name),
                init=c.name in run.init_names,
            )
        self._pods[pod.key] = run
        if run.init_names:
            run.runners[run.init_names[0]].start()
        else:
            self._start_apps(run)
        self._changed(pod.key)

    def add_ephemeral(self, key: str, container: Container, target: str | None = None) -> None:
        """Start an ephemeral container in the running pod ``key``: the pod's run
        configuration (sandbox, env, mounts, PID namespace, log files) as its other
        containers, never restarted (kuberuntime_manager.go ``computePodActions``
        starts each new one once; types.go: "Ephemeral containers ... will not be
        restarted"). Its log prefix is always ``pod/container``. With ``target``
        (``targetContainerName``) it joins that container's PID namespace, as
        kuberuntime_container.go does for a target (``NamespaceMode_TARGET``), unless the
        pod shares one PID namespace anyway. Raises
        :class:`PodRuntimeError` when the pod is not running or the name is taken, an
        :class:`~podnet.errors.ImageError` when its image cannot be had."""
        with self.loop.lock:
            run = self._run(key)
            if run.stopping or run.cfg is None:
                raise PodRuntimeError(f"pod {key} is stopping")
            if container.name in run.runners:
                raise PodRuntimeError(f"pod {key} already has a container {container.name!r}")
            image = self.images.resolve(container.image)
            cfg = replace(run.cfg, restart_policy="Never")
            if target is not None and cfg.pid_namespace is None:
                aim = run.runners.get(target)
                pidns = None if aim is None else aim.pid_namespace()
                if aim is not None and aim.running and pidns is None and cfg.oci is not None:
                    raise PodRuntimeError(f"container {target!r} has no PID namespace yet")
                cfg = replace(cfg, pid_namespace=pidns)
            files = None if run.log_dir is None else run.log_dir / container.name
            log = LogBuffer(f"{key}/{container.name}", self.on_log, files=files)
            runner = ContainerRunner(
                self.loop,
                cfg,
                container,
                image,
                log,
                functools.partial(self._container_changed, key),
                functools.partial(self._finished, key, container.name),
            )
            run.runners[container.name] = runner
            run.ephemeral = (*run.ephemeral, container.name)
            runner.start()
            self._changed(key)

    def _start_apps(self, run: _PodRun) -> None:
        run.app_started = True
        for c in run.pod.containers:
            run.runners[c.name].start()

    def _finished(self, key: str, name: str, code: int) -> None:
        """A container exited for good; an init container's success starts the next."""
        run = self._pods.get(key)
        if run is None or run.stopping or name not in run.init_names or code != 0:
            return
        i = run.init_names.index(name)
        if i + 1 < len(run.init_names):
            run.runners[run.init_names[i + 1]].start()
        else:
            self._start_apps(run)
            self._changed(key)

    def _container_changed(self, key: str, _status: ContainerStatus) -> None:
        self._changed(key)

    def _changed(self, key: str) -> None:
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
        if run.stopping:  # Terminating: out of every Service at once, as kubelet reports
            app = tuple(replace(_stopped(s), ready=False) for s in app)
        eph = tuple(run.runners[n].status for n in run.ephemeral)
        if run.stopping:
            eph = tuple(replace(_stopped(s), ready=False) for s in eph)
        phase = pod_phase(init, app, app_started=run.app_started)
        return PodStatus(run.pod.key, phase, init, app, eph)

    def status(self, key: str) -> PodStatus:
        with self.loop.lock:
            return self._status(self._run(key))

    def logs(self, key: str, container: str | None = None) -> list[str]:
        """The kept log lines of one container (the first app container by default)."""
        with self.loop.lock:
            run = self._run(key)
            name = container or run.pod.containers[0].name
            if name not in run.runners:
                raise PodRuntimeError(f"pod {key} has no container {name!r}")
            return run.runners[name].log.lines()

    def exec_command(
        self, key: str, container: str, argv: Sequence[str], *, tty: bool = False
    ) -> tuple[list[str], dict[str, str], str, ConsoleSocket | None]:
        """``argv`` as an ``exec`` in a running container must run: the image's program
        for ``argv[0]``, the container's environment (image ENV, HOSTNAME, Service
        variables, its own env) and working directory, as a runtime's exec inherits
        them from the container's process spec (runc ``exec``: the OCI process of the
        container, its ``args`` replaced). Raises :class:`PodRuntimeError` when the pod
        or the container is not running. Under crun the argv is a ``crun exec`` of the
        command (the container's user, capabilities and seccomp filter), to be started
        in the pod's sandbox like the container; with ``tty``, crun makes the terminal in
        the container and sends its master on the returned console socket (else None:
        the caller gives the command a terminal of its own)."""
        with self.loop.lock:
            runner = self._run(key).runners.get(container)
            if runner is None or not runner.running:
                raise PodRuntimeError(f"container {container!r} of pod {key} is not running")
            env = container_env(runner.image, runner.container, base=runner.cfg.base_env)
            if tty:  # as containerd sets it for an exec with a terminal
                env["TERM"] = "xterm"
            cwd = runner.container.working_dir or "/"
            if self.oci is not None and runner.started is not None:
                # crun exec: the container's namespaces, user, capabilities, seccomp
                program = host_argv(runner.image, argv)
                if tty:
                    run, console = self.oci.exec_terminal(runner.started, program, env, cwd)
                    return run, dict(CRUN_ENV), "/", console
                run = self.oci.exec_argv(runner.started, program, env, cwd)
                return run, dict(CRUN_ENV), "/", None
            return host_argv(runner.image, argv), env, cwd, None

    def oci_containers(self) -> dict[str, dict[str, dict[str, str]]]:
        """The running containers under the OCI runtime, pod key -> container name ->
        ``{"id", "bundle"}``, app containers in pod order: what another process needs
        for ``crun exec`` (``podnet exec``)."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        with self.loop.lock:
            for key, run in self._pods.items():
                for c in run.pod.containers:
                    started = run.runners[c.name].started
                    if started is not None and run.runners[c.name].running:
                        entry = {"id": started.container_id, "bundle": str(started.bundle)}
                        out.setdefault(key, {})[c.name] = entry
        return out

    def oci_run_pids(self) -> dict[tuple[str, str], int]:
        """(pod key, container name) -> pid of the running container's OCI runtime
        process (``crun run``, the container's init its child), app containers only."""
        out: dict[tuple[str, str], int] = {}
        with self.loop.lock:
            for key, run in self._pods.items():
                for c in run.pod.containers:
                    pid = run.runners[c.name].runtime_pid
                    if pid is not None:
                        out[key, c.name] = pid
        return out

    def attach_stdin(self, key: str, container: str) -> int | None:
        """An fd writing to the stdin of a running container (the caller closes it), or
        None when the runtime keeps none (no ``stdin: true``, or ``stdinOnce`` used up).
        Raises :class:`PodRuntimeError` when the container is not running."""
        with self.loop.lock:
            runner = self._run(key).runners.get(container)
            if runner is None or not runner.running:
                raise PodRuntimeError(f"container {container!r} of pod {key} is not running")
            return runner.stdin_writer()

    def pod(self, key: str) -> Pod | None:
        """The pod as started, while the runtime runs it."""
        with self.loop.lock:
            run = self._pods.get(key)
            return None if run is None else run.pod

    def attach_terminal(
        self, key: str, container: str, client: Callable[[bytes | None], None], *, stdin: bool
    ) -> tuple[int, int, int | None] | None:
        """Attach to a ``tty: true`` container's terminal: ``client`` gets its output
        from now on (on the loop's thread; None when the run ends). Returns the
        client's token, an fd of the pty master for window sizes and, with ``stdin``,
        one for input (None: no stdin, or stdinOnce used up); the caller closes both.
        None when the container has no terminal. Raises :class:`PodRuntimeError` when
        the container is not running."""
        with self.loop.lock:
            runner = self._run(key).runners.get(container)
            if runner is None or not runner.running:
                raise PodRuntimeError(f"container {container!r} of pod {key} is not running")
            master = runner.tty_fd()
            if master is None:
                return None
            writer = runner.stdin_writer() if stdin else None
            return runner.add_tty_client(client), master, writer

    def detach_terminal(self, key: str, container: str, token: int) -> None:
        with self.loop.lock:
            run = self._pods.get(key)
            runner = None if run is None else run.runners.get(container)
            if runner is not None:
                runner.remove_tty_client(token)

    def close_stdin(self, key: str, container: str) -> None:
        """Close the container's stdin until its next start (``stdinOnce``, the first
        attach session ended)."""
        with self.loop.lock:
            runner = self._run(key).runners.get(container)
            if runner is not None:
                runner.close_stdin()

    def pods(self) -> list[str]:
        with self.loop.lock:
            return sorted(self._pods)

    def _run(self, key: str) -> _PodRun:
        run = self._pods.get(key)
        if run is None:
            raise PodRuntimeError(f"pod {key} is not running")
        return run

    # --- stopping ----------------------------------------------------------------------
    def stop_pod(self, key: str, grace: float | None = None) -> None:
        """Stop every container of the pod (SIGTERM, SIGKILL after the grace period:
        ``grace`` seconds, the pod's deletionGracePeriodSeconds, or the runtime's)."""
        self._stop([key], grace)

    def close(self, grace: float | None = None) -> None:
        """Stop every pod at once (N pods take one grace period, not N): ``grace``
        seconds, else the runtime's."""
        self._stop(self.pods(), grace)
        self.loop.close()

    def _stop(self, keys: list[str], grace: float | None = None) -> None:
        wait = self.grace if grace is None else grace
        with self.loop.lock:
            runs = [self._pods[k] for k in keys if k in self._pods]
            for run in runs:
                run.stopping = True
                for r in run.runners.values():
                    r.stop(grace)
            runners = [r for run in runs for r in run.runners.values()]
            if runs:
                for run in runs:
                    self._changed(run.pod.key)  # Terminating: not ready any more
        # not under the lock: a background driver must be free to see the exits
        self.run_until(lambda: not any(r.running for r in runners), wait + 5)
        with self.loop.lock:
            for run in runs:
                was_ready = run.ready
                self._pods.pop(run.pod.key, None)
                for r in run.runners.values():
                    r.log.close()
                if was_ready and self.on_ready is not None:
                    self.on_ready(run.pod.key, False)


def _stopped(s: ContainerStatus) -> ContainerStatus:
    if s.state == WAITING:
        return replace(s, state=TERMINATED, reason="Stopped", ready=False)
    return s
