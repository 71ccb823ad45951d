"""The pod side of ``kubectl exec``, ``attach`` and ``port-forward`` (kubelet's
streaming server, pkg/kubelet/cri/streaming, reduced to calls on the API server's loop).

exec (the container runtime's exec: containerd ``execInternal``, runc ``exec``): the
command runs as ``crun exec`` in the container (its namespaces, root, user,
capabilities and seccomp filter), started in the pod's sandbox like the container, with
the container's environment and working directory and the image's programs
(:meth:`Runtime.exec_command`); crun runs from a sealed in-memory copy of itself
(:func:`podnet.dataplane.execs.sealed_program`), so it does not copy and start itself a
second time for each exec. With a tty under crun, crun makes the terminal in the
container (``process.terminal``, its master sent on a console socket,
:mod:`podnet.dataplane.oci.console`): the command leads a session there whose
controlling terminal it is, so a shell has job control, as with containerd; without
crun (process mode) podnet's own pty (``setsid --ctty``). TERM=xterm as containerd sets
it; resizes go to the master (TIOCSWINSZ, the kernel sends SIGWINCH); without a tty,
pipes. The one exec behind ``kubectl exec`` and ``podnet exec`` is :func:`start_exec`.
Output is read with ``add_reader`` on the caller's event loop, the exit seen through a
pidfd; no thread per session.

port-forward (containerd ``portForward``): a socket made inside the pod's network
namespace by a short-lived thread (:func:`podnet.dataplane.netns.socket_in`; a socket
keeps its namespace), connected to localhost there: nothing changes on the host and
nothing listens in the pod.

attach: the container's output from now on (its log, followed). With ``-i``, input
goes to the stdin pipe the runtime keeps for a container with ``stdin: true``
(:meth:`Runtime.attach_stdin`); one without is refused as kubelet refuses it, and with
``stdinOnce`` the pipe is closed when the first attach's input ends (the process
reads EOF), as the Container spec describes. A container with ``tty: true`` has a
terminal from its start (crun's console, :mod:`podnet.dataplane.oci.console`): attach
then gets the terminal's raw output from now on (a prompt has no newline to wait for),
writes input to it and honours resizes (:class:`TerminalAttached`); as with kubelet,
output written before the attach is only in the log (kubectl says "If you don't see a
command prompt, try pressing enter.").
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import termios
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from podnet.apiserver.errors import ApiError, bad_request, not_found
from podnet.dataplane import execs, netns
from podnet.dataplane.oci.console import ConsoleSocket
from podnet.dataplane.oci.launcher import kill_container
from podnet.dataplane.runtime.spawn import exit_code, signal_tree
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import NotSupportedError, PodnetError, PodRuntimeError
from podnet.live.cluster import LiveCluster
from podnet.live.kubelet import Kubelet
from podnet.live.kubelet_status import PodRecord

CHUNK = 32 * 1024
HIGH_WATER = 16  # chunks queued before the fd is left unread (the client is slow)
CONNECT_TIMEOUT = 5.0  # seconds for a loopback connect inside the pod
KILL_WAIT = 5.0  # seconds kill() waits to see the SIGKILLed process exit
PF_BUFFER = 1 << 20  # port-forward read buffer (the 64 KiB default pauses the socket often)


class _Output:
    """Chunks read from one non-blocking fd on the loop until EOF. EIO is EOF too: a
    pty master reads EIO once every slave is closed. Owns (and closes) the fd."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop, self._fd = loop, fd
        self._chunks: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._reading = True
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._ready)

    def _ready(self) -> None:
        try:
            data = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self._chunks.append(data)
        if len(self._chunks) >= HIGH_WATER:
            self._loop.remove_reader(self._fd)
            self._reading = False
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        if self._fd >= 0:
            if self._reading:
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._wake()

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                data = self._chunks.popleft()
                if not self._reading and self._fd >= 0:
                    self._loop.add_reader(self._fd, self._ready)
                    self._reading = True
                yield data
                continue
            if self._fd < 0:
                return
            self._waiter = self._loop.create_future()
            await self._waiter


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Input:
    """Writes to a non-blocking fd from the loop (waiting for room when full). After
    the reader went away (EPIPE, EIO) input is dropped, as a runtime drops it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int | None) -> None:
        self._loop, self._fd = loop, fd
        self._room: asyncio.Future[None] | None = None
        if fd is not None:
            os.set_blocking(fd, False)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._fd is not None:
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:
                self._room = self._loop.create_future()
                fd, room = self._fd, self._room
                self._loop.add_writer(fd, _resolve, room)
                try:
                    await room
                finally:
                    with contextlib.suppress(ValueError, OSError):
                        self._loop.remove_writer(fd)
                continue
            except OSError:
                self.close()
                return
            view = view[n:]

    def close(self) -> None:
        if self._fd is None:
            return
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
            self._loop.remove_writer(self._fd)
        os.close(self._fd)
        self._fd = None


class PodProcess:
    """An :class:`~podnet.apiserver.http.podstreams.ExecSession` over one process
    started in a pod: its fds on the loop, its exit through a pidfd."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        proc: subprocess.Popen[bytes],
        *,
        stdin: int | None,
        stdout: int,
        stderr: int | None,
        master: int | None,
    ) -> None:
        self._loop, self._proc = loop, proc
        self._in = _Input(loop, stdin)
        self._out = _Output(loop, stdout)
        self._err = None if stderr is None else _Output(loop, stderr)
        self._tty = master is not None
        self._master: int | None = master  # a tty's, for resizes (stdout reads a dup)
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(proc.pid)
        loop.add_reader(self._pidfd, self._reap)

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        code = exit_code(self._proc.wait())
        self._in.close()  # nobody reads it any more
        if self._master is not None:  # no more resizes; the output's dup stays open
            os.close(self._master)
            self._master = None
        if not self._exited.done():
            self._exited.set_result(code)

    async def write_stdin(self, data: bytes) -> None:
        await self._in.write(data)

    async def close_stdin(self) -> None:
        # With a tty there is no end of input to give (one pty both ways); a client's
        # Ctrl-D arrives as data and the line discipline makes it EOF.
        if not self._tty:
            self._in.close()

    def stdout(self) -> AsyncIterator[bytes]:
        return self._out.chunks()

    async def _nothing(self) -> AsyncIterator[bytes]:
        return
        yield b""  # pragma: no cover  (makes this an async generator)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._nothing() if self._err is None else self._err.chunks()

    async def resize(self, width: int, height: int) -> None:
        _set_size(self._master, width, height)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def kill(self) -> None:
        """SIGKILL the process's group (what it forked too), reap it, close every fd.
        Under crun the command's group is crun's child's (crun cannot pass SIGKILL on;
        with a terminal it leads a session of its own in the container): that first."""
        kill_container(self._proc)
        signal_tree(self._proc, signal.SIGKILL)
        # SIGKILL is certain but not instant (a task in uninterruptible sleep): the
        # pidfd reader stays and reaps it whenever it goes; never block the loop.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), timeout=KILL_WAIT)
        self._in.close()
        self._out.close()
        if self._err is not None:
            self._err.close()
        if self._master is not None:
            os.close(self._master)
            self._master = None


async def start_exec(
    cluster: LiveCluster,
    key: str,
    container: str,
    command: Sequence[str],
    *,
    stdin: bool,
    tty: bool,
) -> PodProcess:
    """Start ``command`` in ``container`` of pod ``key``: the one exec of podnet, behind
    ``kubectl exec`` (:class:`PodStreamer`) and ``podnet exec`` (the endpoint of
    :mod:`podnet.live.exec`). :class:`PodRuntimeError` when the container is not running."""
    runtime = cluster.runtime
    assert runtime is not None and cluster.sandbox is not None
    argv, env, cwd, console = runtime.exec_command(key, container, command, tty=tty)
    # the OCI runtime's binary, to run from a sealed copy; a runtime with no OCI launcher
    # (process mode, the test support's host runtime) runs the image's programs
    launcher = getattr(runtime, "oci", None)
    oci: str | None = launcher.binary.path if launcher is not None else None
    loop = asyncio.get_running_loop()
    if console is not None:
        return await loop.run_in_executor(
            None, _start_console, cluster.sandbox, loop, key, argv, env, console, stdin, oci
        )
    return await loop.run_in_executor(
        None, _start, cluster.sandbox, loop, key, argv, env, cwd, stdin, tty, oci
    )


def _sealed(argv: list[str], oci: str | None) -> tuple[list[str], dict[str, Any]]:
    """``argv`` of the OCI runtime (``crun exec``) run from its sealed in-memory copy
    (:func:`podnet.dataplane.execs.sealed_program`: crun then skips re-executing
    itself from a copy it would make first), with the Popen arguments that pass that
    copy's fd. Anything else, or where no copy can be made, as it was."""
    if oci is None or not argv or argv[0] != oci:
        return argv, {}
    fd = execs.sealed_program(oci)
    if fd is None:
        return argv, {}
    # /proc/self: nsenter runs it after entering the pod's mount namespace, whose
    # /proc is the cluster PID namespace's, where nsenter runs
    return [f"/proc/self/fd/{fd}", *argv[1:]], {"pass_fds": (fd,)}


def _start_console(
    sandbox: Sandbox,
    loop: asyncio.AbstractEventLoop,
    key: str,
    argv: list[str],
    env: dict[str, str],
    console: ConsoleSocket,
    stdin: bool,
    oci: str | None = None,
) -> PodProcess:
    """``crun exec`` with a terminal crun makes in the container (a new session there,
    the pty its controlling terminal: job control works, as with containerd); the
    master comes over the console socket. crun's own stdio is not the command's."""
    ours: list[int] = []
    try:
        null = subprocess.DEVNULL
        argv, fds = _sealed(argv, oci)
        proc = sandbox.spawn(
            key,
            argv,
            env=env,
            stdin=null,
            stdout=null,
            stderr=null,
            start_new_session=True,
            **fds,
        )
        try:
            master = console.receive(proc)
        except BaseException:
            signal_tree(proc, signal.SIGKILL)
            proc.wait()
            raise
        ours.append(master)
        out = os.dup(master)
        ours.append(out)
        writer = os.dup(master) if stdin else None
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        console.close()
    return PodProcess(loop, proc, stdin=writer, stdout=out, stderr=None, master=master)


def _start(
    sandbox: Sandbox,
    loop: asyncio.AbstractEventLoop,
    key: str,
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    stdin: bool,
    tty: bool,
    oci: str | None = None,
) -> PodProcess:
    """Start the process (a blocking fork in the sandbox's spawner thread)."""
    argv, fds = _sealed(argv, oci)
    ours: list[int] = []  # our ends, closed if the start fails
    theirs: list[int] = []  # the child's ends, closed once it has them
    try:
        if tty:
            setsid = shutil.which("setsid")
            if setsid is None:
                raise NotSupportedError("setsid (util-linux) is not installed")
            master, slave = os.openpty()
            ours.append(master)
            theirs.append(slave)
            out = os.dup(master)
            ours.append(out)
            writer = os.dup(master) if stdin else None
            if writer is not None:
                ours.append(writer)
            # setsid: not a group leader yet (no start_new_session), so it does not
            # fork; the pid stays the command's, leading a session whose
            # controlling terminal is the pty (TIOCSCTTY on its stdin).
            proc = sandbox.spawn(
                key,
                [setsid, "--ctty", *argv],
                cwd=cwd,
                env={**env, "TERM": "xterm"},
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=False,
                **fds,
            )
            streams: dict[str, Any] = {
                "stdin": writer,
                "stdout": out,
                "stderr": None,
                "master": master,
            }
        else:
            child_in: int = subprocess.DEVNULL
            writer = None
            if stdin:
                child_in, writer = os.pipe()
                theirs.append(child_in)
                ours.append(writer)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            ours += [out_r, err_r]
            theirs += [out_w, err_w]
            proc = sandbox.spawn(
                key,
                argv,
                cwd=cwd,
                env=env,
                stdin=child_in,
                stdout=out_w,
                stderr=err_w,
                start_new_session=True,
                **fds,
            )
            streams = {"stdin": writer, "stdout": out_r, "stderr": err_r, "master": None}
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return PodProcess(loop, proc, **streams)


class PodStreamer:
    """exec, attach and port-forward into the pods the kubelet runs."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    # -- finding the pod and container (the API server's and kubelet's errors) ---------
    def _running(self, namespace: str, name: str) -> PodRecord:
        obj, rec = self.kubelet.pod_record(namespace, name)
        if obj is None and rec is None:
            raise not_found("", "pods", name)
        if rec is None or not rec.placed or rec.terminating:
            if obj is not None and not (obj.get("spec") or {}).get("nodeName"):
                # pkg/registry/core/pod/strategy.go streamLocation
                raise bad_request(f"pod {name} does not have a host assigned")
            raise bad_request(f"pod {name} is not running")
        return rec

    @staticmethod
    def _container(rec: PodRecord, container: str | None) -> str:
        """strategy.go streamLocation: the only container by default, else a name that
        exists (kubectl picks its default container before asking)."""
        pod = rec.pod
        if container is None:
            if len(pod.containers) != 1:
                names = " ".join(c.name for c in pod.containers)
                raise bad_request(
                    f"a container name must be specified for pod {pod.name}, "
                    f"choose one of: [{names}]"
                )
            return pod.containers[0].name
        every = (*pod.init_containers, *pod.containers, *rec.ephemeral)  # kubectl debug's too
        if container not in {c.name for c in every}:
            raise bad_request(f"container {container} is not valid for pod {pod.name}")
        return container

    # -- exec -------------------------------------------------------------------------
    async def exec(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        command: Sequence[str],
        stdin: bool,
        tty: bool,
    ) -> PodProcess:
        rec = self._running(namespace, name)
        cname = self._container(rec, container)
        if not command:
            raise bad_request("you must specify at least one command for the container")
        try:
            return await start_exec(
                self.kubelet.cluster, rec.pod.key, cname, command, stdin=stdin, tty=tty
            )
        except PodRuntimeError:
            # kubelet GetExec (kubelet_pods.go): no running container of that name
            raise bad_request(f'container not found ("{cname}")') from None

    # -- attach -----------------------------------------------------------------------
    async def attach(
        self, namespace: str, name: str, *, container: str | None, stdin: bool, tty: bool
    ) -> Attached | TerminalAttached:
        rec = self._running(namespace, name)
        cname = self._container(rec, container)
        spec: dict[str, Any] = next(
            (
                c
                for c in (
                    *((rec.obj.get("spec") or {}).get("containers") or []),
                    *((rec.obj.get("spec") or {}).get("ephemeralContainers") or []),
                )
                if c.get("name") == cname
            ),
            {},
        )
        if stdin and not spec.get("stdin"):
            # kubectl attach -i needs a container started with stdin (kubelet GetAttach)
            raise bad_request(
                f"container {cname} in pod {name} was not started with stdin: true; "
                "attach without -i to follow its output"
            )
        loop = asyncio.get_running_loop()
        if spec.get("tty") is True:
            attached = self._attach_terminal(loop, rec, cname, stdin=stdin, spec=spec)
            if attached is not None:
                return attached
        stop = threading.Event()
        primed = asyncio.Event()

        def started() -> None:  # on the follow's thread, once the log was first read
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(primed.set)

        try:
            chunks = self.kubelet.follow_logs(
                namespace, name, cname, tail=0, cancelled=stop.is_set, started=started
            )
        except ApiError:
            raise bad_request(f'container not found ("{cname}")') from None
        if not stdin:
            return Attached(loop, chunks, stop)
        runtime = self.kubelet.cluster.runtime
        assert runtime is not None
        key = rec.pod.key
        try:
            # None: a stdinOnce container whose stdin an earlier attach closed; input is
            # dropped then, as a closed stdin drops it
            writer = runtime.attach_stdin(key, cname)
        except PodnetError:
            raise bad_request(f'container not found ("{cname}")') from None
        once = spec.get("stdinOnce") is True
        return Attached(
            loop,
            chunks,
            stop,
            stdin=_Input(loop, writer),
            primed=primed,
            stdin_ended=(lambda: runtime.close_stdin(key, cname)) if once else None,
        )

    def _attach_terminal(
        self,
        loop: asyncio.AbstractEventLoop,
        rec: PodRecord,
        cname: str,
        *,
        stdin: bool,
        spec: dict[str, Any],
    ) -> TerminalAttached | None:
        runtime = self.kubelet.cluster.runtime
        assert runtime is not None
        key = rec.pod.key
        attached = TerminalAttached(loop)
        try:
            got = runtime.attach_terminal(key, cname, attached.feed, stdin=stdin)
        except PodnetError:
            raise bad_request(f'container not found ("{cname}")') from None
        if got is None:  # no terminal after all (process mode): follow the log
            return None
        token, master, writer = got
        once = spec.get("stdinOnce") is True

        def detach() -> None:
            runtime.detach_terminal(key, cname, token)

        def stdin_ended() -> None:
            runtime.close_stdin(key, cname)

        attached.connect(master, writer, detach, stdin_ended if once and stdin else None)
        return attached

    # -- port-forward -----------------------------------------------------------------
    async def port_forward(
        self, namespace: str, name: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to localhost:``port`` in the pod's network namespace: IPv4
        first, then IPv6 (containerd's portForward). ConnectionRefusedError when
        nothing listens (the HTTP side reports it on the stream's error channel)."""
        if not 0 < port < 65536:
            raise bad_request(f"invalid port {port}")
        rec = self._running(namespace, name)
        sandbox = self.kubelet.cluster.sandbox
        assert sandbox is not None
        try:
            path = f"/proc/{sandbox.pod_pid(rec.pod.key)}/ns/net"
        except PodnetError:
            raise bad_request(f"pod {name} is not running") from None
        try:
            return await self._connect(path, socket.AF_INET, "127.0.0.1", port)
        except ConnectionRefusedError as refused:
            try:
                return await self._connect(path, socket.AF_INET6, "::1", port)
            except OSError:  # refused too, or no IPv6 in the pod: the first answer
                raise refused from None

    @staticmethod
    async def _connect(
        path: str, family: int, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, netns.socket_in, path, family)
        try:
            sock.setblocking(False)
            # TimeoutError (an OSError) if something holds the SYN
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), CONNECT_TIMEOUT)
            return await asyncio.open_connection(sock=sock, limit=PF_BUFFER)
        except BaseException:
            sock.close()
            raise


def _set_size(master: int | None, width: int, height: int) -> None:
    """A terminal's new window size, on its pty master (the kernel sends SIGWINCH)."""
    if master is not None and width > 0 and height > 0:
        size = struct.pack("HHHH", height, width, 0, 0)
        with contextlib.suppress(OSError):
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)


class _Queued:
    """What both attaches share: output chunks that another thread queues on the loop
    (:meth:`_put`, None ends them, and the session), one output stream (no stderr),
    and input whose end calls ``stdin_ended`` (stdinOnce)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stdin: _Input | None = None,
        stdin_ended: Callable[[], None] | None = None,
    ) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._done: asyncio.Future[int] = loop.create_future()
        self._in, self._stdin_ended = stdin, stdin_ended

    def _put(self, data: bytes | None) -> None:
        """From another thread: one chunk, or None at the end."""
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._queue.put_nowait, data)

    async def write_stdin(self, data: bytes) -> None:
        if self._in is not None:
            await self._in.write(data)

    async def close_stdin(self) -> None:
        self._end_stdin()

    def _end_stdin(self, *, ended: bool = True) -> None:
        if self._in is None:
            return
        self._in.close()
        self._in = None
        if ended and self._stdin_ended is not None:
            self._stdin_ended()

    async def stdout(self) -> AsyncIterator[bytes]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk
        self._finish()

    async def stderr(self) -> AsyncIterator[bytes]:
        return
        yield b""  # pragma: no cover  (makes this an async generator)

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        return await asyncio.shield(self._done)

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(0)


class Attached(_Queued):
    """``attach``: the container's output from now on, read by a thread (the log follow
    blocks) and handed to the loop; ``wait`` ends with the output. With ``stdin``, input
    is written once the follow has begun (``primed``), so no reply is lost; its end
    calls ``stdin_ended`` (stdinOnce)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        chunks: Iterator[bytes],
        stop: threading.Event,
        *,
        stdin: _Input | None = None,
        primed: asyncio.Event | None = None,
        stdin_ended: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(loop, stdin, stdin_ended)
        self._primed = primed
        self._stop = stop  # the follow polls it: the thread ends soon after kill()

        def pump() -> None:
            try:
                for chunk in chunks:
                    if self._stop.is_set():
                        break
                    loop.call_soon_threadsafe(self._queue.put_nowait, chunk)
            finally:
                self._put(None)

        threading.Thread(target=pump, name="attach-follow", daemon=True).start()

    async def write_stdin(self, data: bytes) -> None:
        if self._in is not None and self._primed is not None:
            await self._primed.wait()
        await super().write_stdin(data)

    async def kill(self) -> None:
        self._stop.set()
        self._end_stdin()
        self._finish()


class TerminalAttached(_Queued):
    """``attach`` to a container's terminal: its raw output from now on, handed over by
    the runtime's thread (:meth:`feed`); input and window sizes go to the pty master.
    ``wait`` ends when the run does (the terminal's end), as kubelet's attach ends
    with the container."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._master: int | None = None
        self._detach: Callable[[], None] | None = None

    def feed(self, data: bytes | None) -> None:
        """Called on the runtime's loop thread for each chunk, None at the end."""
        self._put(data)

    def connect(
        self,
        master: int,
        writer: int | None,
        detach: Callable[[], None],
        stdin_ended: Callable[[], None] | None,
    ) -> None:
        self._master, self._detach, self._stdin_ended = master, detach, stdin_ended
        self._in = None if writer is None else _Input(self._loop, writer)

    async def resize(self, width: int, height: int) -> None:
        _set_size(self._master, width, height)

    async def kill(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None
        self._end_stdin(ended=False)  # the client went away: no end of input given
        if self._master is not None:
            os.close(self._master)
            self._master = None
        self._finish()
