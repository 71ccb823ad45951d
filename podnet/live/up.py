"""``podnet up``: a cluster you can live in, with the Kubernetes API in front of it.

One process holds it all, as k3s's server does: the store (SQLite in the data dir), the
REST semantics (:class:`~podnet.apiserver.registry.Registry`), the controllers
(:mod:`podnet.controllers`, kube-controller-manager and the scheduler), the kubelet
(:mod:`podnet.live.kubelet`) driving the same :class:`~podnet.live.cluster.LiveCluster`
that ``podnet run`` uses, and the HTTPS API server on its own thread. Bring-up order is
the dependency order; teardown the reverse, the API first (no request may start work on
what is being torn down), and the kubeconfig entries last but one.

The data dir holds what must survive a restart: the store, the CA, the serving and admin
certificates and the bearer token (mode 0600 in a 0700 dir), and a lock so two ``up``
never share a store. Without ``--data-dir`` it lives in the cluster's scratch dir and
goes with it.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import TextIO

from podnet.live.output import Progress
from podnet.live.upcluster import UpCluster, UpOptions

# How long a thread holding the GIL may run before one waiting for it gets a turn
# (CPython's default: 5 ms). The API server's event loop waits for the GIL after each
# wake-up and each socket call, and the controllers, kubelet and data-plane sync of
# this process are CPU-bound while they react to a write: at 5 ms a watch event
# waited several of those turns. At 1 ms the loop gets a turn five times sooner;
# the CPU-bound threads pay a few more switches.
SWITCH_INTERVAL = 0.001

# The cyclic garbage collector's thresholds (CPython's default: 700, 10, 10). A
# scale-up's pods, their versions and the informers' views are ~200k long-lived
# objects: with the defaults each full collection walked them all (6 per 1,000-pod
# scale-up, 0.62 s of CPU, the longest 230 ms, measured with gc.callbacks in podnet
# up); with these, all generations together took 0.22 s. Reference counting frees
# almost everything this process makes; the collector is only for cycles.
GC_THRESHOLDS = (7000, 20, 20)


def up(opts: UpOptions, *, err: TextIO | None = None) -> int:
    """Run until SIGINT/SIGTERM/SIGHUP; 0 after a clean teardown."""
    from podnet.live.run import Stopped, _signals_ignored, _stop_signals_raise

    progress = Progress(err or sys.stderr)
    t0 = time.monotonic()
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.set_threshold(*GC_THRESHOLDS)
    cluster = UpCluster(opts, on_event=progress)
    with _stop_signals_raise():
        try:
            url = cluster.start()
            progress(
                f"API ready at {url} in {time.monotonic() - t0:.2f}s "
                f"({opts.nodes} node(s); kubeconfig {cluster.kubeconfig_path}, "
                f"context {cluster.context})"
            )
            stop = threading.Event()
            while not stop.wait(0.2):
                cluster.check()
        except (KeyboardInterrupt, Stopped) as e:
            import signal

            signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
            progress(f"{signal.Signals(signum).name} received; tearing down")
        finally:
            with _signals_ignored():
                closing = time.monotonic()
                cluster.close()
                progress(f"torn down in {time.monotonic() - closing:.2f}s")
    return 0
