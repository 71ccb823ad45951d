"""Getting the probes into the pods: two ways to run :mod:`podnet.live.prober`.

* ``thread`` (the default): one short-lived thread of podnet enters each source pod's
  network namespace in turn (``setns(CLONE_NEWNET)`` moves only the calling thread),
  starts that pod's connections there - a socket keeps the namespace it was created
  in - and then settles every socket of every pod under one ``selectors`` loop. No
  process is started, so 9 pods probe in about one timeout.
* ``process``: one ``python -m podnet.live.prober`` per source pod, started inside the
  pod (its net, UTS and mount namespaces) through :meth:`Sandbox.spawn`, all at once,
  targets as JSON on stdin. Costs an interpreter start per pod (~0.1 s of CPU each),
  but is the way to run it from a pod's full context.

Both give the same results for the same network: the packets leave the same pod
interface with the same source address. Each returns, per planned probe with an
address, ``(result, detail)``; ``None`` where the plan has no address (no service).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from podnet.dataplane import netns
from podnet.dataplane.images_builtin import PODNET_ROOT
from podnet.dataplane.sandbox import Sandbox
from podnet.errors import ClusterError, NotSupportedError
from podnet.live.probe_plan import Planned, by_source
from podnet.live.prober import Batch, Target

TRANSPORTS = ("thread", "process")
Results = list[tuple[str, str] | None]


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


def run_in_thread(sandbox: Sandbox, plan: Sequence[Planned], timeout: float) -> Results:
    groups = by_source(plan)
    got: dict[str, list[tuple[str, str]]] = {}
    failure: list[BaseException] = []

    def work() -> None:
        # This thread's netns changes and it then exits: nothing else runs in it.
        try:
            batch = Batch()
            index: dict[str, list[int]] = {}
            for src, items in groups.items():
                fd = os.open(f"/proc/{sandbox.pod_pid(src)}/ns/net", os.O_RDONLY)
                try:
                    netns.setns(fd, netns.CLONE_NEWNET)
                finally:
                    os.close(fd)
                index[src] = [batch.add(_target(x)) for x in items]
            results = batch.wait(timeout)
            got.update({src: [results[i] for i in idx] for src, idx in index.items()})
        except BaseException as e:  # re-raised in the caller's thread
            failure.append(e)

    thread = threading.Thread(target=work, name="podnet-probe")
    thread.start()
    thread.join()
    if failure:
        e = failure[0]
        if isinstance(e, OSError):
            raise NotSupportedError(f"cannot probe from the pods' namespaces: {e}") from e
        raise e
    return _spread(plan, got)


def run_in_processes(sandbox: Sandbox, plan: Sequence[Planned], timeout: float) -> Results:
    groups = by_source(plan)
    argv = [sys.executable, "-m", "podnet.live.prober", "--timeout", str(timeout)]
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
    return _spread(plan, got)


def run_probes(
    sandbox: Sandbox, plan: Sequence[Planned], timeout: float, transport: str = "thread"
) -> Results:
    if transport == "process":
        return run_in_processes(sandbox, plan, timeout)
    if transport == "thread":
        return run_in_thread(sandbox, plan, timeout)
    raise ValueError(f"transport must be one of {TRANSPORTS}")
