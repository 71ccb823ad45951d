"""Getting the probes into the pods: two ways to run :mod:`podnet.live.probe.prober`.

* ``thread`` (the default): one short-lived thread of podnet enters each source pod's
  network namespace in turn (``setns(CLONE_NEWNET)`` moves only the calling thread)
  and opens that pod's sockets there (a socket keeps the namespace it was created in),
  settling every socket of every pod under one ``selectors`` loop. A destination's
  probes start as soon as it is ready (:mod:`podnet.live.probe.gate`). No process.
* ``process``: one ``python -m podnet.live.probe.prober`` per source pod, started in the
  pod's net, UTS and mount namespaces through :meth:`Sandbox.spawn`, targets as JSON on
  stdin, once every destination is ready. Costs an interpreter start per pod, but runs
  from the pod's full context.

Both send the same packets from the same pod interface and source address. Each returns,
per planned probe with an address, ``(result, detail)``; ``None`` where the plan has no
address (no service).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from podnet.dataplane import netns
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import ClusterError, NotSupportedError
from podnet.live.probe.plan import Planned, by_source
from podnet.live.probe.prober import TRANSPORTS, Batch, Target
from podnet.paths import PODNET_ROOT

Results = list[tuple[str, str] | None]
Missing = Callable[[str], list[str]]  # destination pod -> what it still waits for
POLL = 0.01  # seconds between readiness checks


def _target(x: Planned) -> Target:
    assert x.address is not None
    return Target(x.address, x.address_port, x.protocol)


def _spread(plan: Sequence[Planned], got: dict[str, list[tuple[str, str]]]) -> Results:
    """Per-source result lists back into plan order."""
    cursor = dict.fromkeys(got, 0)
    out: Results = []
    for x in plan:
        if x.address is None:
            out.append(None)
            continue
        out.append(got[x.src][cursor[x.src]])
        cursor[x.src] += 1
    return out


def _fd_opener(sandbox: Sandbox) -> tuple[dict[str, int], Callable[[str], int]]:
    fds: dict[str, int] = {}

    def fd(src: str) -> int:
        if src not in fds:
            fds[src] = os.open(f"/proc/{sandbox.pod_pid(src)}/ns/net", os.O_RDONLY)
        return fds[src]

    return fds, fd


def run_in_thread(
    sandbox: Sandbox,
    plan: Sequence[Planned],
    timeout: float,
    missing: Missing,
    deadline: float,
    tick: Callable[[int], None] | None = None,
) -> tuple[Results, list[str]]:
    """Probe each destination as soon as it is ready, from one thread (see above)."""
    todo: dict[str, dict[str, list[int]]] = {}  # dst -> src -> plan indices
    for i, x in enumerate(plan):
        if x.address is not None:
            todo.setdefault(x.dst, {}).setdefault(x.src, []).append(i)
    index: dict[int, int] = {}  # plan index -> batch index
    not_ready: list[str] = []
    got: list[list[tuple[str, str]]] = []
    failure: list[BaseException] = []

    def work() -> None:
        # This thread's netns changes and it then exits: nothing else runs in it.
        batch = Batch(timeout)
        fds, fd = _fd_opener(sandbox)
        try:
            while todo or batch.busy:
                late = time.monotonic() >= deadline
                for dst in sorted(todo):
                    gaps = missing(dst)
                    if gaps and not late:
                        continue
                    not_ready.extend(gaps)
                    for src, idxs in sorted(todo.pop(dst).items()):
                        netns.setns(fd(src), netns.CLONE_NEWNET)
                        for i in idxs:
                            index[i] = batch.add(_target(plan[i]))
                batch.step(POLL if todo else timeout)
                if tick is not None:
                    tick(batch.settled)
            got.append(batch.results())
        except BaseException as e:  # re-raised in the caller's thread
            failure.append(e)
        finally:
            batch.close()
            for f in fds.values():
                os.close(f)

    thread = threading.Thread(target=work, name="podnet-probe")
    thread.start()
    thread.join()
    if failure:
        e = failure[0]
        if isinstance(e, OSError):
            raise NotSupportedError(f"cannot probe from the pods' namespaces: {e}") from e
        raise e
    results = got[0]
    return [results[index[i]] if i in index else None for i in range(len(plan))], not_ready


def wait_all(dsts: Sequence[str], missing: Missing, deadline: float) -> list[str]:
    """Poll until no destination misses anything, or ``deadline``; what is missing."""
    while True:
        gaps = [g for d in dsts for g in missing(d)]
        if not gaps or time.monotonic() >= deadline:
            return gaps
        time.sleep(POLL)


def run_in_processes(
    sandbox: Sandbox, plan: Sequence[Planned], timeout: float, missing: Missing, deadline: float
) -> tuple[Results, list[str]]:
    """Wait for every destination, then one prober process per source pod."""
    not_ready = wait_all(sorted({x.dst for x in plan if x.address}), missing, deadline)
    groups = by_source(plan)
    argv = [sys.executable, "-m", "podnet.live.probe.prober", "--timeout", str(timeout)]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": PODNET_ROOT}
    pipe = subprocess.PIPE
    procs = {
        src: sandbox.spawn(src, argv, env=env, stdin=pipe, stdout=pipe, stderr=pipe)
        for src in groups
    }

    def collect(src: str) -> list[tuple[str, str]]:
        proc = procs[src]
        targets = [
            {"ip": t.ip, "port": t.port, "protocol": t.protocol} for t in map(_target, groups[src])
        ]
        try:
            out, err = proc.communicate(json.dumps(targets).encode(), timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise ClusterError(f"the prober in {src} did not finish") from None
        if proc.returncode != 0:
            raise ClusterError(f"the prober in {src} failed: {err.decode(errors='replace')}")
        return [(str(r["result"]), str(r["detail"])) for r in json.loads(out)]

    with ThreadPoolExecutor(max_workers=max(1, min(32, len(procs)))) as pool:
        got = dict(zip(procs, pool.map(collect, procs), strict=True))
    return _spread(plan, got), not_ready


def run_probes(
    sandbox: Sandbox,
    plan: Sequence[Planned],
    timeout: float,
    missing: Missing,
    deadline: float,
    transport: str = "thread",
    tick: Callable[[int], None] | None = None,
) -> tuple[Results, list[str]]:
    """Results in plan order (``None``: no address) and what was not ready in time;
    ``tick(settled)`` is told how many probes are over as they finish (thread only)."""
    if transport == "process":
        return run_in_processes(sandbox, plan, timeout, missing, deadline)
    if transport == "thread":
        return run_in_thread(sandbox, plan, timeout, missing, deadline, tick)
    raise ValueError(f"transport must be one of {TRANSPORTS}")
