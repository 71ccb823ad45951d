"""One container's life on the event loop: start, log, probe, exit, restart with back-off.

A :class:`ContainerRunner` is a small state machine driven by loop callbacks (process
exit, output, timers); it reports status changes through ``update`` and its final exit
(no restart coming) through ``finished``, and leaves the pod phase to its pod
(:mod:`podnet.dataplane.runtime.pods`). A generation number, bumped on every start, makes
callbacks of an earlier run (a late probe result) harmless.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from podnet.dataplane.images.image import Image, PrepareContext
from podnet.dataplane.images.store import hold
from podnet.dataplane.oci.launcher import (
    CRUN_ENV,
    OciLauncher,
    Overlay,
    Started,
    kill_container,
)
from podnet.dataplane.oci.security import CreateContainerConfigError, merge
from podnet.dataplane.oci.spec import Mount
from podnet.dataplane.runtime import probes
from podnet.dataplane.runtime.command import container_argv, container_env, host_argv
from podnet.dataplane.runtime.logs import LogBuffer
from podnet.dataplane.runtime.loop import Loop, Timer
from podnet.dataplane.runtime.proc import ProcWatch
from podnet.dataplane.runtime.spawn import Spawner, exit_code, signal_tree
from podnet.dataplane.runtime.state import (
    BACKOFF_RESET_AFTER,
    RUNNING,
    TERMINATED,
    WAITING,
    ContainerStatus,
    backoff_delay,
    should_restart,
)
from podnet.errors import PodnetError, PodRuntimeError
from podnet.model.objects import Container, Probe, SecurityContext
from podnet.paths import PODNET_ROOT

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
    # "pod: what happened" lines for the operator (a restart), as kubelet's Events
    on_event: Callable[[str], None] | None = None
    # containers run by an OCI runtime (crun) when set; else plain processes
    oci: OciLauncher | None = None
    pod_security: SecurityContext | None = None
    pid_namespace: str | None = None  # shareProcessNamespace: the pod's, by path
    mounts: tuple[Mount, ...] = ()  # extra binds for every container (the DNS records)
    # per container name: its volumeMounts' binds (podnet.dataplane.volumes), and
    # what must be done before each start of one (pod key, name: its subPath binds)
    container_mounts: tuple[tuple[str, tuple[Mount, ...]], ...] = ()
    before_start: Callable[[str, str], None] | None = None


class ContainerRunner:
    def __init__(
        self,
        loop: Loop,
        cfg: RunConfig,
        container: Container,
        image: Image,
        log: LogBuffer,
        update: Callable[[ContainerStatus], None],
        finished: Callable[[int], None],
        *,
        init: bool = False,
    ) -> None:
        self.loop, self.cfg, self.container, self.image, self.log = loop, cfg, container, image, log
        self._update, self._finished, self._init = update, finished, init
        self.status = ContainerStatus(name=container.name, init=init)
        self._watch: ProcWatch | None = None
        self._gen = 0
        self._consecutive = 0
        self._timers: list[Timer] = []
        self.stopping = False
        self.done = False  # no process running and none coming
        # the write end of a ``stdin: true`` container's stdin pipe, for attach -i:
        # open while its process runs, each run gets a new pipe (docker's OpenStdin)
        self._stdin: int | None = None
        # a ``tty: true`` container's pty master (crun's console) while it runs, and the
        # attach clients its raw output goes to (called on the loop's thread; None: the end)
        self._tty: int | None = None
        self._stdin_closed = False  # stdinOnce with a terminal: input refused after
        self._tty_clients: dict[int, Callable[[bytes | None], None]] = {}
        self._next_client = 0
        self.started: Started | None = None  # the OCI run in progress
        self._held: int | None = None  # a real image's hold (images.store.hold)
        self._probe_killed = False  # this run was killed by its liveness/startup probe
        self._prober: probes.Prober | None = None  # this run's probes

    def _signal(self, proc: subprocess.Popen[bytes], sig: int) -> None:
        if self.cfg.oci is not None and sig == signal.SIGKILL:
            kill_container(proc)
        signal_tree(proc, sig)

    # --- helpers -----------------------------------------------------------------
    def _set(self, **changes: object) -> None:
        self.status = replace(self.status, **changes)  # type: ignore[arg-type]
        self._update(self.status)

    def _later(self, delay: float, cb: Callable[[], None]) -> None:
        self._timers = [t for t in self._timers if not t.cancelled]
        self._timers.append(self.loop.call_later(delay, cb))

    def _cancel_timers(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers = []
        if self._prober is not None:
            self._prober.stop()

    def command(self) -> tuple[list[str], dict[str, str], str | None]:
        """Final host argv, env and cwd of this container (image files prepared)."""
        env = container_env(self.image, self.container, base=self.cfg.base_env)
        argv = host_argv(self.image, container_argv(self.image, self.container, env))
        if self.image.prepare is not None:
            d = self.private_dir()
            d.mkdir(parents=True, exist_ok=True)
            ctx = PrepareContext(self.cfg.pod_key, self.container.name, d)
            argv, extra = self.image.prepare(ctx, argv)
            env.update(extra)
        return argv, env, self.container.working_dir

    def private_dir(self) -> Path:
        return self.cfg.state_dir / self.container.name

    def _oci_command(
        self, oci: OciLauncher, argv: list[str], env: dict[str, str], cwd: str | None
    ) -> tuple[list[str], dict[str, str], str | None]:
        """The same container as an OCI bundle: crun's argv, crun's env, no cwd.

        A real image (``image.rootfs``) gets an overlay root for this run, mounted in
        the pod's mount namespace first (a short command through the spawner)."""
        if self.cfg.before_start is not None:  # may raise CreateContainerConfigError
            self.cfg.before_start(self.cfg.pod_key, self.container.name)
        cid = oci.new_id(self.container.name)
        overlay = None
        if self.image.rootfs is not None:
            overlay = Overlay(self.image.rootfs, oci.bundle_dir(self.private_dir(), cid))
        terminal = self.container.tty
        if terminal:  # containerd's CRI sets it for a container with a tty (WithTTY)
            env = {**env, "TERM": "xterm"}
        config = oci.config(
            self.image,
            argv,
            env,
            cwd,
            terminal=terminal,
            security=merge(self.cfg.pod_security, self.container.security_context),
            private_dir=self.private_dir() if self.image.prepare is not None else None,
            mounts=(
                *self.cfg.mounts,
                *dict(self.cfg.container_mounts).get(self.container.name, ()),
            ),
            pid_namespace=self.cfg.pid_namespace,
            overlay=overlay,
        )
        if overlay is not None:
            # the image's files stay while the container runs (podnet image rm waits)
            self._held = hold(self.image)
            try:
                overlay.make_dirs()
                self._in_pod(overlay.mount_argv(), "mount the image's overlay")
            except BaseException:
                os.close(self._held)
                self._held = None
                raise
        self.started, run_argv = oci.prepare(self.private_dir(), cid, config, overlay)
        return run_argv, {**CRUN_ENV, **oci.binary.run_env()}, None

    def _in_pod(self, argv: list[str], what: str) -> None:
        """Run a short command in the pod's sandbox and wait for it (mount, umount)."""
        proc = self.cfg.spawner(
            self.cfg.pod_key, argv, dict(CRUN_ENV), None, subprocess.DEVNULL, subprocess.PIPE
        )
        _, err = proc.communicate(timeout=10)
        if proc.returncode != 0:
            raise PodRuntimeError(f"cannot {what}: {err.decode(errors='replace').strip()}")

    def _end_run(self) -> None:
        """The run is over: unmount its overlay, remove its bundle."""
        started, oci = self.started, self.cfg.oci
        self.started = None
        if self._held is not None:
            os.close(self._held)
            self._held = None
        if started is None or oci is None:
            return
        if started.overlay is not None:
            try:
                self._in_pod(started.overlay.umount_argv(), "unmount the image's overlay")
            except (PodnetError, OSError, subprocess.TimeoutExpired) as e:
                self.log.append(f"podnet: {e}")
        oci.finished(started)

    def _config_error(self, e: CreateContainerConfigError) -> None:
        """kubelet's CreateContainerConfigError: Waiting, nothing started, no restart
        (kubelet retries on its sync loop; the config cannot change under podnet)."""
        self.close_stdin()
        self.log.append(f"podnet: container {self.container.name}: {e}")
        self._set(state=WAITING, reason="CreateContainerConfigError", ready=False)

    # --- the main process ----------------------------------------------------------
    def start(self) -> None:
        if self.stopping:
            return
        self._gen += 1
        self.done = False
        started = self.loop.clock()
        self.log.new_instance(self.status.restart_count)
        stdin: int | None = None
        self._stdin_closed = False
        try:
            argv, env, cwd = self.command()
            if self.cfg.oci is not None:
                argv, env, cwd = self._oci_command(self.cfg.oci, argv, env, cwd)
            console = None if self.started is None else self.started.console
            if console is not None:
                # the process's stdio is its terminal; crun's own words go to the log
                proc = self.cfg.spawner(
                    self.cfg.pod_key, argv, env, cwd, subprocess.PIPE, subprocess.STDOUT
                )
                try:
                    self._tty = console.receive(proc)
                except PodnetError:
                    self._signal(proc, signal.SIGKILL)
                    proc.wait()
                    assert proc.stdout is not None
                    said = proc.stdout.read().decode(errors="replace").strip()
                    proc.stdout.close()
                    self._end_run()
                    raise PodRuntimeError(said or "the OCI runtime sent no terminal") from None
            elif self.container.stdin:
                stdin, self._stdin = os.pipe()
                proc = self.cfg.spawner(
                    self.cfg.pod_key, argv, env, cwd, subprocess.PIPE, subprocess.STDOUT, stdin
                )
            else:
                proc = self.cfg.spawner(
                    self.cfg.pod_key, argv, env, cwd, subprocess.PIPE, subprocess.STDOUT
                )
        except CreateContainerConfigError as e:
            self._config_error(e)
            return
        except (OSError, ValueError, PodnetError) as e:
            self.close_stdin()
            self.log.append(f"podnet: cannot start container {self.container.name}: {e}")
            self._set(state=TERMINATED, reason="StartError", exit_code=START_ERROR, ready=False)
            self._after_exit(START_ERROR, started)
            return
        finally:
            if stdin is not None:
                os.close(stdin)  # the child has its copy
        c, self._probe_killed = self.container, False
        ready = not self._init and c.readiness_probe is None and c.startup_probe is None
        startup = self._init or c.startup_probe is None
        self._set(
            state=RUNNING,
            reason="",
            exit_code=None,
            started=started,
            ready=ready,
            startup_done=startup,
        )
        self._watch = ProcWatch(
            self.loop,
            proc,
            lambda rc: self._exited(rc, started),
            self.log.append,
            tty=self._tty,
            on_chunk=self._to_clients,
        )
        if not self._init:
            self._start_probes()

    def _exited(self, returncode: int, started: float) -> None:
        watch = self._watch
        assert watch is not None
        # as when a container's init exits and its PID namespace goes: kill what is left
        self._signal(watch.proc, signal.SIGKILL)
        self._watch = None
        self._end_run()
        self.close_stdin()
        self._end_tty()
        code = exit_code(returncode)
        self._cancel_timers()
        reason = "Completed" if code == 0 else "Error"
        self._set(state=TERMINATED, reason=reason, exit_code=code, ready=False)
        self._after_exit(code, started)

    def _after_exit(self, code: int, started: float) -> None:
        # a probe's kill restarts unless the policy is Never (computePodActions)
        restart = should_restart(self.cfg.restart_policy, code, init=self._init) or (
            self._probe_killed and self.cfg.restart_policy != "Never"
        )
        if self.stopping or not restart:
            self.done = True
            self._finished(code)
            return
        if self.loop.clock() - started >= BACKOFF_RESET_AFTER * self.cfg.backoff_scale:
            self._consecutive = 0
        self._consecutive += 1
        # kubelet restarts a container's first crash at once (its back-off entry only
        # starts then), later ones after 10s, 20s, ... (kuberuntime_manager.go doBackOff)
        delay = backoff_delay(self._consecutive - 1, self.cfg.backoff_scale)
        self._set(state=WAITING, reason="CrashLoopBackOff", ready=False)
        if self.cfg.on_event is not None:
            when = "now" if delay == 0 else f"in {delay:g}s (back-off)"
            self.cfg.on_event(
                f"{self.cfg.pod_key}: container {self.container.name} exited {code}; "
                f"restarting {when}, restart {self.status.restart_count + 1}"
            )
        self._later(delay, self._restart)

    def _restart(self) -> None:
        self._set(restart_count=self.status.restart_count + 1)
        self.start()

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM the process group now, SIGKILL after the grace period (the pod's
        ``deletionGracePeriodSeconds`` when given, else the runtime's)."""
        self.stopping = True
        self._cancel_timers()
        watch = self._watch
        if watch is None:
            if not self.done:
                self.done = True
                self._finished(self.status.exit_code or 0)
            return
        self._signal(watch.proc, signal.SIGTERM)
        wait = self.cfg.grace if grace is None else grace
        self.loop.call_later(wait, lambda: self._signal(watch.proc, signal.SIGKILL))

    @property
    def running(self) -> bool:
        return self._watch is not None

    @property
    def runtime_pid(self) -> int | None:
        """The pid of the running container's OCI runtime process (``crun run``: the
        spawner starts it with no process in between), None when not running under one."""
        watch = self._watch
        return None if watch is None or self.cfg.oci is None else watch.proc.pid

    def pid_namespace(self) -> str | None:
        """The running container's own PID namespace as a path the OCI runtime can open
        (it runs in the cluster's PID namespace: ``/proc/<pid there>/ns/pid`` of the
        container's init, ``crun run``'s child); None when there is none to join (not
        running, not under the OCI runtime, or not started yet)."""
        runtime = self.runtime_pid
        if runtime is None:
            return None
        try:
            kids = Path(f"/proc/{runtime}/task/{runtime}/children").read_text().split()
            if not kids:
                return None
            status = Path(f"/proc/{kids[0]}/status").read_text()
        except OSError:
            return None
        nspid = next((ln.split()[1:] for ln in status.splitlines() if ln.startswith("NSpid:")), [])
        # NSpid: this process's pid in each namespace from ours inwards; the one before
        # last is its pid in the cluster's namespace, the last (1) in its own
        return f"/proc/{nspid[-2]}/ns/pid" if len(nspid) >= 2 else None

    def stdin_writer(self) -> int | None:
        """A new fd writing to the running process's stdin (the caller closes it), or
        None: no ``stdin: true``, or closed after a ``stdinOnce`` attach. With a
        terminal, the pty master."""
        if self._tty is not None:
            stdin = self.container.stdin and not self._stdin_closed
            return os.dup(self._tty) if stdin else None
        return None if self._stdin is None else os.dup(self._stdin)

    def close_stdin(self) -> None:
        """Our end of the stdin pipe: the process reads EOF once attach ends too. A
        terminal has no end of input to give (Ctrl-D is the line discipline's): later
        attaches get no input, as a closed stdin would give them none."""
        self._stdin_closed = True
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None

    # --- the terminal (tty: true) ----------------------------------------------------
    @property
    def has_tty(self) -> bool:
        return self._tty is not None

    def tty_fd(self) -> int | None:
        """A new fd of the pty master, for window sizes (the caller closes it)."""
        return None if self._tty is None else os.dup(self._tty)

    def add_tty_client(self, client: Callable[[bytes | None], None]) -> int:
        """``client`` gets the terminal's output from now on, then None at its end."""
        self._next_client += 1
        self._tty_clients[self._next_client] = client
        return self._next_client

    def remove_tty_client(self, token: int) -> None:
        self._tty_clients.pop(token, None)

    def _to_clients(self, data: bytes | None) -> None:
        for token, client in list(self._tty_clients.items()):
            try:
                client(data)
            except Exception:  # a client gone wrong must not stop the container's log
                self._tty_clients.pop(token, None)

    def _end_tty(self) -> None:
        """The run ended: attached clients see the end; the master goes."""
        self._to_clients(None)
        self._tty_clients.clear()
        if self._tty is not None:
            os.close(self._tty)
            self._tty = None

    # --- probes (probes.Prober: kubelet's prober workers) ---------------------------
    def _start_probes(self) -> None:
        c = self.container
        if c.readiness_probe is None and c.liveness_probe is None and c.startup_probe is None:
            return
        gen = self._gen
        self._prober = probes.Prober(
            self.loop,
            c,
            restart=self.cfg.restart_policy != "Never",
            alive=lambda: gen == self._gen and self._watch is not None,
            spawn=self._spawn_check,
            kill_check=lambda proc: self._signal(proc, signal.SIGKILL),
            set_ready=lambda ready: self._set(ready=ready),
            set_started=lambda: self._set(
                startup_done=True, ready=self.status.ready or c.readiness_probe is None
            ),
            event=lambda *e: self._set(
                probe_events=(*self.status.probe_events[-7:], probes.next_event(*e))
            ),
            kill=self._kill_for_probe,
            created=self._created,
        )
        self._prober.start()

    def _created(self) -> bool:
        """The OCI runtime has made the container (its state file: crun's ``status``,
        runc's ``state.json``): an exec can enter it."""
        oci, run = self.cfg.oci, self.started
        if oci is None or run is None:
            return True
        state = "status" if oci.binary.is_crun else "state.json"
        return (oci.binary.root / run.container_id / state).exists()

    def _kill_for_probe(self, grace: float | None) -> None:
        """kuberuntime killContainer: SIGTERM, SIGKILL after the grace (the probe's
        terminationGracePeriodSeconds, else the pod's, else the runtime's); the exit
        then restarts it as restartPolicy says."""
        watch = self._watch
        if watch is None:
            return
        self._probe_killed = True
        self._signal(watch.proc, signal.SIGTERM)
        wait = self.cfg.grace if grace is None else grace
        self._later(wait, lambda: self._signal(watch.proc, signal.SIGKILL))

    def _spawn_check(self, probe: Probe) -> subprocess.Popen[bytes] | None:
        argv = probes.check_argv(probe, self.container, self.cfg.probe_host)
        if argv is None:
            return None
        if probe.exec_command is not None:
            env = container_env(self.image, self.container, base=self.cfg.base_env)
            argv = host_argv(self.image, argv)
            if self.cfg.oci is not None and self.started is not None:
                cwd = self.container.working_dir or "/"
                argv = self.cfg.oci.exec_argv(self.started, argv, env, cwd)
                env = dict(CRUN_ENV)
        else:
            # the helper is podnet's own module: make it importable from any cwd
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": PODNET_ROOT}
            if probe.grpc_port is not None:  # grpcio's log lines are not the probe's output
                env["GRPC_VERBOSITY"] = "NONE"
        try:
            return self.cfg.spawner(
                self.cfg.pod_key, argv, env, None, subprocess.PIPE, subprocess.STDOUT
            )
        except (OSError, PodnetError):
            return None
