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

Many processes at once (a thousand containers of a scale-up) go through :meth:`Spawner.batch`
instead: a short-lived thread of its own joins the cluster's PID namespace for its children
(setns(2) with ``CLONE_NEWPID`` changes only the calling thread's ``pid_ns_for_children``,
like the unshare) and starts each process itself. Handing every ``Popen`` to the spawner
thread and back cost two thread wake-ups per process, each a wait for the GIL and a core
under load: more than the fork and exec.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from podnet.dataplane import netns
from podnet.dataplane.sandbox import threadns

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "Future[Any]"] | None


class Spawner:
    """Run callables on a thread that has unshared a new PID namespace for children."""

    def __init__(self, setup: Callable[[], None]) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._local = threading.local()  # .inline: a batch thread (see batch)
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
        if threading.current_thread() is self._thread or getattr(self._local, "inline", False):
            return fn()
        if not self._thread.is_alive():
            raise RuntimeError("the cluster spawner has stopped")
        result: Future[T] = Future()
        self._jobs.put((fn, result))
        return result.result()

    def on_batch_thread(self) -> bool:
        """Whether the caller is a thread of :meth:`batch` (children go to the cluster's
        PID namespace, and the thread starts processes only)."""
        return bool(getattr(self._local, "inline", False))

    def batch(self, pid_namespace: str, fns: Sequence[Callable[[], T]]) -> list[T]:
        """Run each of ``fns`` on a new thread of its own, all at once, whose children go
        to ``pid_namespace`` (the cluster's, ``/proc/<init>/ns/pid``) and where
        :meth:`call` runs inline; their results, or the first error once all are done.
        They must start no thread there (clone(2) refuses ``CLONE_THREAD`` once a
        thread's children go to another PID namespace)."""
        results: list[Future[T]] = [Future() for _ in fns]

        def work(fn: Callable[[], T], result: Future[T]) -> None:
            try:
                fd = os.open(pid_namespace, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    netns.setns(fd, netns.CLONE_NEWPID)
                finally:
                    os.close(fd)
                self._local.inline = True
                result.set_result(fn())
            except BaseException as e:
                result.set_exception(e)
            finally:
                threadns.forget()  # what its spawns kept open, if any

        workers = [
            threading.Thread(target=work, args=(fn, r), name="podnet-cluster-batch", daemon=True)
            for fn, r in zip(fns, results, strict=True)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return [r.result() for r in results]

    def stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join()
