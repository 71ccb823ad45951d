"""One container's life: start, capture output, probe readiness, restart with back-off.

A :class:`ContainerRunner` is driven by its pod (:mod:`podnet.dataplane.runtime`) in a
thread of its own; it reports every status change through ``update`` and never decides
the pod phase itself. Timing (back-off and probe periods) goes through a stop
:class:`threading.Event`, so stopping a pod interrupts any wait at once.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from podnet.dataplane import probes
from podnet.dataplane.images import Image, PrepareContext
from podnet.dataplane.runtime_command import container_argv, container_env, host_argv
from podnet.dataplane.runtime_logs import LogBuffer
from podnet.dataplane.runtime_spawn import Spawner, exit_code, kill_tree, signal_tree
from podnet.dataplane.runtime_state import (
    BACKOFF_RESET_AFTER,
    RUNNING,
    TERMINATED,
    WAITING,
    ContainerStatus,
    backoff_delay,
    should_restart,
)
from podnet.model.objects import Container, Probe

START_ERROR = 128  # what runc reports when the program cannot be executed


@dataclass(frozen=True)
class RunConfig:
    pod_key: str
    restart_policy: str
    spawner: Spawner
    state_dir: Path
    base_env: dict[str, str]
    probe_host: str  # the pod IP (or 127.0.0.1 on the host spawner)
    backoff_scale: float = 1.0
    grace: float = 10.0


class ContainerRunner:
    def __init__(
        self,
        cfg: RunConfig,
        container: Container,
        image: Image,
        log: LogBuffer,
        update: Callable[[ContainerStatus], None],
        stop: threading.Event,
        *,
        init: bool = False,
    ) -> None:
        self.cfg, self.container, self.image, self.log = cfg, container, image, log
        self._update, self._stop, self._init = update, stop, init
        self.status = ContainerStatus(name=container.name, init=init)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _set(self, **changes: object) -> None:
        self.status = replace(self.status, **changes)  # type: ignore[arg-type]
        self._update(self.status)

    def command(self) -> tuple[list[str], dict[str, str], str | None]:
        """Final host argv, env and cwd of this container (image files prepared)."""
        env = container_env(self.image, self.container, base=self.cfg.base_env)
        argv = host_argv(self.image, container_argv(self.image, self.container, env))
        if self.image.prepare is not None:
            d = self.cfg.state_dir / self.container.name
            d.mkdir(parents=True, exist_ok=True)
            ctx = PrepareContext(self.cfg.pod_key, self.container.name, d)
            argv, extra = self.image.prepare(ctx, argv)
            env.update(extra)
        return argv, env, self.container.working_dir

    def run(self) -> int:
        """Run (and restart) until the policy says stop or the pod stops; last exit code."""
        consecutive = 0
        while True:
            started = time.monotonic()
            code = self._run_once()
            if self._stop.is_set():
                return code
            if not should_restart(self.cfg.restart_policy, code, init=self._init):
                return code
            if time.monotonic() - started >= BACKOFF_RESET_AFTER * self.cfg.backoff_scale:
                consecutive = 0
            consecutive += 1
            self._set(state=WAITING, reason="CrashLoopBackOff", ready=False)
            if self._stop.wait(backoff_delay(consecutive, self.cfg.backoff_scale)):
                return code
            self._set(restart_count=self.status.restart_count + 1)

    def _run_once(self) -> int:
        try:
            argv, env, cwd = self.command()
            proc = self.cfg.spawner(
                self.cfg.pod_key, argv, env, cwd, subprocess.PIPE, subprocess.STDOUT
            )
        except (OSError, ValueError) as e:
            self.log.append(f"podnet: cannot start container {self.container.name}: {e}")
            self._set(state=TERMINATED, reason="StartError", exit_code=START_ERROR, ready=False)
            return START_ERROR
        with self._lock:
            self._proc = proc
        assert proc.stdout is not None
        reader = threading.Thread(target=self.log.pump, args=(proc.stdout,), daemon=True)
        reader.start()
        probe = self.container.readiness_probe
        self._set(
            state=RUNNING,
            reason="",
            exit_code=None,
            started=time.monotonic(),
            ready=probe is None and not self._init,
        )
        done = threading.Event()
        if probe is not None and not self._init:
            threading.Thread(target=self._probe_loop, args=(done,), daemon=True).start()
        if self._stop.is_set():  # stop() raced with the start
            kill_tree(proc, self.cfg.grace)
        code = exit_code(proc.wait())
        # like the kernel tearing down a container's pid namespace when its init exits:
        # whatever the main process left behind in its group goes too
        signal_tree(proc, signal.SIGKILL)
        done.set()
        reader.join(timeout=2.0)
        with self._lock:
            self._proc = None
        reason = "Completed" if code == 0 else "Error"
        self._set(state=TERMINATED, reason=reason, exit_code=code, ready=False)
        return code

    def kill(self) -> None:
        """Terminate the running process tree (the stop event is already set)."""
        with self._lock:
            proc = self._proc
        if proc is not None:
            kill_tree(proc, self.cfg.grace)

    def _probe_loop(self, done: threading.Event) -> None:
        probe = self.container.readiness_probe
        assert probe is not None
        state = probes.ProbeState()
        if done.wait(probe.initial_delay_seconds):
            return
        while not done.is_set():
            ok = self._check(probe)
            if done.is_set():
                return
            new = probes.observe(probe, state, ok)
            if new.ready != state.ready:
                self._set(ready=new.ready)
            state = new
            if done.wait(probe.period_seconds):
                return

    def _check(self, probe: Probe) -> bool:
        argv = probes.check_argv(probe, self.container, self.cfg.probe_host)
        if argv is None:
            return False
        if probe.exec_command is not None:
            env = container_env(self.image, self.container, base=self.cfg.base_env)
            argv = host_argv(self.image, argv)
        else:
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        try:
            proc = self.cfg.spawner(
                self.cfg.pod_key, argv, env, None, subprocess.DEVNULL, subprocess.DEVNULL
            )
        except OSError:
            return False
        # the tcp/http helper enforces timeoutSeconds itself; allow for its start-up
        slack = 0.0 if probe.exec_command is not None else 2.0
        try:
            return proc.wait(timeout=probe.timeout_seconds + slack) == 0
        except subprocess.TimeoutExpired:
            kill_tree(proc, 0.0)
            return False
