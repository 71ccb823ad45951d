"""Containers started by an OCI runtime: one bundle per run, crun inside the pod.

For each start of a container the launcher writes a bundle (``config.json``, from
:mod:`.spec`) into the container's state directory and returns the runtime's ``run``
argv; the runtime's spawner starts it inside the pod's sandbox (its network, UTS, IPC
and mount namespaces), so crun's own mounts (the container's rootfs) are made in the
pause's mount namespace and vanish with it, and the container inherits the pod's
network. The container id is new on every start: the state a SIGKILLed crun leaves in
``--root`` can never collide, and lives in podnet's state directory.

Stopping: crun forwards SIGTERM to the container's init (pid 1 of its own PID
namespace, which ignores signals it has no handler for, as in every container
runtime). crun does not pass SIGKILL on (it cannot catch it), and a container's init
outlives a killed crun, so a SIGKILL goes to the container's init first: its death
takes its PID namespace with it.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podnet import jsonbytes
from podnet.dataplane import netns
from podnet.dataplane.images.image import Image
from podnet.dataplane.images.user import container_ids
from podnet.dataplane.oci import bpf, hostroot, seccomp
from podnet.dataplane.oci import caps as capsets
from podnet.dataplane.oci.console import ConsoleSocket
from podnet.dataplane.oci.crun import OciBinary, find
from podnet.dataplane.oci.security import CreateContainerConfigError, Security, resolve
from podnet.dataplane.oci.spec import ContainerConfig, Mount, bind, process_only, render
from podnet.errors import ImageError

# crun's own environment: it needs nothing of podnet's (the container's is in config.json)
CRUN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
_ids = itertools.count(1)
# seconds an exec's process FIFO waits for its crun at most (hand_over), and the
# longest pause between its polls
HANDOVER_TIMEOUT = 60.0
HANDOVER_POLL = 0.05


@dataclass(frozen=True)
class Overlay:
    """A real image's rootfs for one run: the shared unpacked image as the lower layer,
    upper and work directories of this run in podnet's state directory. Mounted in the
    pod's mount namespace (it vanishes with the pause), before crun starts."""

    lower: Path
    run_dir: Path

    @property
    def merged(self) -> Path:
        return self.run_dir / "rootfs"

    def make_dirs(self) -> None:
        for d in ("upper", "work", "rootfs"):
            (self.run_dir / d).mkdir(parents=True, exist_ok=True)

    def mount_argv(self) -> list[str]:
        upper, work = self.run_dir / "upper", self.run_dir / "work"
        opts = f"lowerdir={self.lower},upperdir={upper},workdir={work}"
        return ["mount", "-t", "overlay", "overlay", "-o", opts, str(self.merged)]

    def umount_argv(self) -> list[str]:
        return ["umount", "-l", str(self.merged)]


@dataclass(frozen=True)
class Started:
    """One run of a container: its id, bundle and config (for exec)."""

    container_id: str
    bundle: Path
    config: ContainerConfig
    overlay: Overlay | None = None  # a real image's root, unmounted when the run ends
    console: ConsoleSocket | None = None  # a terminal's: receives crun's pty master


class OciLauncher:
    """Per cluster: the runtime binary, its state root and the host-program root."""

    def __init__(
        self,
        state_dir: Path,
        *,
        binary: OciBinary | None = None,
        python_images: frozenset[str] = frozenset(),
        mount_points: tuple[str, ...] = (),
        read_only_run: bool = False,
    ) -> None:
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary or find(state_dir / "crun")
        self.binary.root.mkdir(parents=True, exist_ok=True)
        self.rootless = single_id_userns()
        # ``read_only_run``: every pod's mount namespace gets a read-only bind of crun
        # (:attr:`pod_binds`, for the sandbox to make), and ``crun run`` is started from
        # it (:attr:`OciBinary.run_path`). crun only, and only as root in the host's
        # user namespace (rootless, a bind the pause could not make would leave an
        # empty file to execute).
        self.pod_binds: tuple[tuple[str, str], ...] = ()
        if read_only_run and self.binary.is_crun and netns.in_initial_user_namespace():
            target = state_dir / "crun-run"
            target.touch(mode=0o755)
            self.pod_binds = ((self.binary.path, str(target)),)
            self.binary = replace(self.binary, run_path=str(target))
        # Console sockets by number in a short directory, not in the bundle: a unix
        # socket's path has 108 bytes (unix(7)), which a bundle path with pod and
        # container names outgrows (`kubectl run busybox-shell-1 -ti` did).
        self.sockets = state_dir / "s"
        self.sockets.mkdir(exist_ok=True)
        self.python_images = python_images
        self.mount_points = mount_points  # bound read-only into every container
        self.bounding = capsets.bounding()
        self.root = hostroot.make(state_dir, mount_points=mount_points)
        self._seccomp: dict[tuple[str, ...], tuple[dict[str, Any], str | None]] = {}
        self._lock = threading.Lock()

    def _profile(self, caps: tuple[str, ...]) -> tuple[dict[str, Any], str | None]:
        """Docker's profile for ``caps`` and its BPF, compiled once per cluster (:mod:`.bpf`)."""
        with self._lock:
            found = self._seccomp.get(caps)
            if found is None:
                profile = seccomp.profile(caps)
                found = self._seccomp[caps] = (profile, bpf.compile_profile(profile))
            return found

    def config(
        self,
        image: Image,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        *,
        security: Security,
        private_dir: Path | None = None,
        mounts: tuple[Mount, ...] = (),
        pid_namespace: str | None = None,
        overlay: Overlay | None = None,
        terminal: bool = False,
    ) -> ContainerConfig:
        """The container's config; raises :class:`CreateContainerConfigError` where
        kubelet would (runAsNonRoot). ``overlay``: a real image's root for this run."""
        sec = resolve(security, image_user=image.user)
        wanted = capsets.effective(sec.caps_add, sec.caps_drop, privileged=sec.privileged)
        caps = tuple(c for c in wanted if c in self.bounding)
        extra = [bind(p) for p in self.mount_points] + list(mounts)
        if private_dir is not None:  # the image's per-container files (nginx's config)
            extra.append(bind(str(private_dir), writable=True))
        profile, compiled = self._profile(caps)
        uid, gid, groups = sec.uid, sec.gid, sec.groups
        if overlay is not None:
            # user and group names resolved in the image's own /etc (containerd's CRI)
            try:
                ids = container_ids(
                    overlay.lower, image.user, security.run_as_user, security.run_as_group
                )
            except ImageError as e:
                raise CreateContainerConfigError(str(e)) from None
            uid, gid = ids.uid, ids.gid
            groups = tuple(dict.fromkeys((*ids.additional_gids, *sec.groups)))
        if overlay is not None:
            # a real image: its own files, the pod's hosts/resolv.conf/hostname, the
            # extra binds; its root writable unless readOnlyRootFilesystem
            root, readonly = str(overlay.merged), sec.read_only_root
            pod_files = tuple(bind(f) for f in hostroot.POD_FILES)
            all_mounts = (*pod_files, *extra)
        else:
            python = image.name in self.python_images
            root, readonly = str(self.root.root), True  # the shared skeleton
            all_mounts = self.root.mounts(
                python=python, readonly=sec.read_only_root, extra=tuple(extra)
            )
        unmapped = netns.unmapped_ids(uid, gid, groups)  # rootless: outside the subuid range
        if unmapped is not None:
            raise CreateContainerConfigError(unmapped)
        return ContainerConfig(
            args=tuple(argv),
            env=tuple(env.items()),
            root=root,
            cwd=cwd or image.workdir or "/",
            uid=uid,
            gid=gid,
            groups=groups,
            caps=caps,
            no_new_privileges=sec.no_new_privileges,
            seccomp=None if sec.privileged else profile,
            # the compiled filter is crun's annotation; runc reads the JSON profile
            seccomp_bpf=None if sec.privileged or not self.binary.is_crun else compiled,
            readonly_root=readonly,
            privileged=sec.privileged,
            mounts=all_mounts,
            pid_namespace=pid_namespace,
            rootless=self.rootless,
            terminal=terminal,
        )

    @staticmethod
    def new_id(name: str) -> str:
        return f"{_safe(name)}-{os.getpid()}-{next(_ids)}"

    def _socket_path(self) -> Path:
        return self.sockets / f"{next(_ids)}.sock"

    @staticmethod
    def bundle_dir(run_dir: Path, cid: str) -> Path:
        return run_dir / f"bundle-{cid}"

    def prepare(
        self, run_dir: Path, cid: str, cfg: ContainerConfig, overlay: Overlay | None = None
    ) -> tuple[Started, list[str]]:
        """Write the bundle under ``run_dir``; the argv that runs it (in the pod). A
        container with a terminal gets its console socket, listening from now on
        (``Started.console``: the caller receives the master once crun runs)."""
        bundle = self.bundle_dir(run_dir, cid)
        bundle.mkdir(parents=True, exist_ok=True)
        (bundle / "config.json").write_bytes(jsonbytes.dumps(render(cfg)))
        console = ConsoleSocket(self._socket_path()) if cfg.terminal else None
        started = Started(cid, bundle, cfg, overlay, console)
        path = None if console is None else console.path
        return started, self.binary.run_argv(bundle, cid, path)

    def exec_argv(
        self, started: Started, argv: list[str], env: dict[str, str], cwd: str
    ) -> list[str]:
        """``crun exec`` of ``argv`` in a running container, with its user, capabilities,
        no-new-privileges and (crun applies the container's) seccomp filter."""
        return self._exec(started, argv, env, cwd, None)

    def exec_terminal(
        self, started: Started, argv: list[str], env: dict[str, str], cwd: str
    ) -> tuple[list[str], ConsoleSocket]:
        """``crun exec`` of ``argv`` with a terminal of its own, made by crun in the
        container's devpts (the controlling terminal of a new session there, as
        containerd's exec with a tty): the master comes on the returned socket,
        listening already (the caller receives it once crun runs, then closes it)."""
        console = ConsoleSocket(self._socket_path())
        try:
            return self._exec(started, argv, env, cwd, console.path), console
        except BaseException:
            console.close()
            raise

    def _exec(
        self,
        started: Started,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        console: Path | None,
    ) -> list[str]:
        cfg = replace(
            started.config,
            args=tuple(argv),
            env=tuple(env.items()),
            cwd=cwd or "/",
            terminal=console is not None,  # never the container's own console
        )
        path = started.bundle / f"exec-{next(_ids)}.json"
        hand_over(path, jsonbytes.dumps(process_only(cfg)))
        return self.binary.exec_argv(path, started.container_id, console)

    @staticmethod
    def finished(started: Started) -> None:
        """The run is over: its bundle goes (crun removed its own state)."""
        if started.console is not None:
            started.console.close()
        shutil.rmtree(started.bundle, ignore_errors=True)


def hand_over(path: Path, data: bytes, timeout: float = HANDOVER_TIMEOUT) -> None:
    """Give ``data`` to the one process that opens ``path`` (``crun exec --process``)
    through a FIFO made there, removed as soon as that process has opened it: an exec
    leaves no file in the bundle (exec probes run one every period, for the
    container's whole life). A thread waits for the reader; without one within
    ``timeout`` (the exec never ran) or once the bundle is gone, the FIFO goes too.
    crun and runc both read the process file to its end (crun's read_all_file,
    runc's json decoder), so a pipe serves as a file does."""
    os.mkfifo(path, 0o600)
    threading.Thread(
        target=_write_fifo, args=(path, data, timeout), name="oci-exec-process", daemon=True
    ).start()


def _write_fifo(path: Path, data: bytes, timeout: float) -> None:
    end, pause = time.monotonic() + timeout, 0.001
    fd = -1
    try:
        while fd < 0:
            try:  # ENXIO until a reader has it open; polled: a blocked open() has no timeout
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > end:
                    return  # the bundle went (ENOENT), or no exec came
                time.sleep(pause)
                pause = min(pause * 2, HANDOVER_POLL)
        path.unlink(missing_ok=True)  # the reader holds it open: the name can go
        os.set_blocking(fd, True)
        view = memoryview(data)
        with contextlib.suppress(BrokenPipeError):  # the reader died: nothing to give
            while view:
                view = view[os.write(fd, view) :]
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def single_id_userns() -> bool:
    """Whether this process is in a user namespace that maps a single id (rootless
    podnet: uid 0 is the user who started it, nothing else is mapped)."""
    try:
        with open("/proc/self/uid_map") as f:
            rows = [ln.split() for ln in f if ln.strip()]
    except OSError:
        return False
    return sum(int(r[2]) for r in rows) <= 1


def container_pids(crun_pid: int) -> list[int]:
    """Host pids of crun's children: the container's init (and a transient helper)."""
    try:
        with open(f"/proc/{crun_pid}/task/{crun_pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def kill_container(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the container's init (and its session) that ``proc``, a ``crun run``,
    started: crun cannot pass SIGKILL on, and the init would outlive crun. The
    caller then signals crun itself; a catchable signal needs only that, crun
    forwards it to the container."""
    if proc.poll() is not None:
        return
    for pid in container_pids(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the container's init leads its own session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80]
