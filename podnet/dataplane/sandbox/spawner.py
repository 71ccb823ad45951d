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

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

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

    def stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join()
