"""One thread that starts every process of the cluster, inside its PID namespace.

Why a thread: unshare(CLONE_NEWPID) changes only the *calling thread's*
``pid_ns_for_children``, and a thread whose children go to another PID namespace may no
longer create threads (clone(2): CLONE_THREAD is refused with EINVAL "when the calling
process's pid_ns_for_children differs from its own PID namespace"). Doing the unshare
in the main thread would forbid podnet threads for the cluster's whole life. So a
dedicated thread unshares, and every cluster process (the init first: the first child
becomes pid 1) is started from it; the rest of podnet, main thread included, keeps
creating threads and short-lived commands normally.

The thread also anchors PR_SET_PDEATHSIG: the init's death signal fires when the thread
that spawned it exits, and this thread lives exactly as long as the sandbox.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from podnet.dataplane import netns

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "Future[Any]"] | None


class Spawner:
    """Run callables on a thread that has unshared a new PID namespace for children."""

    def __init__(self, setup: Callable[[], None]) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._loop, args=(setup, ready), name="podnet-cluster-spawner", daemon=True
        )
        self._thread.start()
        ready.result()  # re-raises the setup's error here
        self._pidns_fd = -1  # opened at the first map(): the link works once pid 1 exists

    def _loop(self, setup: Callable[[], None], ready: Future[None]) -> None:
        try:
            setup()
        except BaseException as e:
            ready.set_exception(e)
            return
        ready.set_result(None)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, result = job
            try:
                result.set_result(fn())
            except BaseException as e:
                result.set_exception(e)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the spawner thread and return its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            return fn()
        if not self._thread.is_alive():
            raise RuntimeError("the cluster spawner has stopped")
        result: Future[T] = Future()
        self._jobs.put((fn, result))
        return result.result()

    def map(self, fns: Sequence[Callable[[], T]], parallel: int = 4) -> list[T | BaseException]:
        """Run ``fns`` on ``parallel`` throw-away threads whose children also go to the
        cluster PID namespace (setns(2) to it is allowed: it is a child of ours).

        Returns each result or the exception it raised, in order, so a caller can clean
        up the successes of a partly failed batch. Creating many namespaces is kernel
        work that runs in parallel on several CPUs; one thread would serialise it.
        """
        if self._pidns_fd < 0:
            self._pidns_fd = self.call(_open_pid_for_children)
        results: list[T | BaseException] = [RuntimeError("not run")] * len(fns)
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(fns)):
            todo.put(i)

        def work() -> None:
            try:
                netns.setns(self._pidns_fd, netns.CLONE_NEWPID)
            except OSError as e:
                while not todo.empty():
                    results[todo.get()] = e
                return
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = fns[i]()
                except BaseException as e:
                    results[i] = e

        workers = [threading.Thread(target=work, name=f"podnet-spawn-{n}") for n in range(parallel)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return results

    def stop(self) -> None:
        if self._pidns_fd >= 0:
            os.close(self._pidns_fd)
            self._pidns_fd = -1
        if self._thread.is_alive():
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join()


def _open_pid_for_children() -> int:
    """An fd of the PID namespace this thread's children go to (Linux >= 4.12).

    Only valid once a first child (the cluster init) lives in it: before that the
    ``pid_for_children`` link does not resolve.
    """
    return os.open(
        f"/proc/self/task/{threading.get_native_id()}/ns/pid_for_children",
        os.O_RDONLY | os.O_CLOEXEC,
    )
