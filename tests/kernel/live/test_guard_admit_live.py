"""A new pod's first packet under the anti-spoofing guard, with the paced sync held back:
dropped as forged until the pod's source is in its node's guard table, let through at
once by ``LiveCluster.admit`` (what the kubelet does before a policy-free pod's
containers start). Before it, the seed's client started without waiting for the sync
lost its first DNS query ("wget: bad address").

The cluster runs in a child process (this file runs itself): a sandbox belongs to one
process and the test runner never enters a namespace.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from support.sandbox import HostState, run_in_pod, run_json_child

pytestmark = pytest.mark.kernel
BUSYBOX = "/bin/busybox"


def test_an_admitted_pod_sends_before_the_sync_has_listed_it() -> None:
    from support.live import require_live

    require_live()
    before = HostState.take()
    r = run_json_child([sys.executable, __file__])
    assert r["held"] and r["syncs_between"] == 0, r  # the paced sync did not run meanwhile
    # the control: the guard drops the new pods' packets while only the sync could
    # let them in (so the admission below is what lets them through)
    assert r["before_admit_rc"] != 0, r
    assert r["admitted"] is True, r
    assert r["after_admit_rc"] == 0, r
    assert HostState.take() == before


# --- the child: the podnet process -------------------------------------------------


def _child() -> None:
    from podnet.live.cluster import LiveCluster
    from podnet.model.objects import Container, Manifests, Pod

    class HeldSync(LiveCluster):
        # the paced sync waits 60 s after its last run: only admit() can let a new
        # pod's source into the guard during the test
        sync_intervals = (60.0, 120.0)

    def pod(name: str) -> Pod:
        return Pod(
            namespace="default",
            name=name,
            labels={"app": name},
            containers=(Container("c", "busybox", command=("sleep", "1000")),),
            node_name="node-0",
        )

    r: dict[str, Any] = {}
    with HeldSync(Manifests(), nodes=1) as cluster:
        cluster.start()
        assert cluster.sync is not None
        # one paced run first: from then on the next waits out the minimum interval
        syncs = cluster.sync.syncs
        cluster.set_objects(services=[])
        cluster.wait_synced(10)
        r["held"] = cluster.sync.syncs > syncs
        syncs = cluster.sync.syncs
        placed = cluster.add_pods([pod("a"), pod("b")], wait=0)
        mark = cluster.sync_mark()
        ping = [BUSYBOX, "ping", "-c", "1", "-W", "1", str(placed[1].ip)]
        r["before_admit_rc"] = run_in_pod(cluster, "default/a", ping)[0]
        r["admitted"] = cluster.admit(placed, mark)
        r["after_admit_rc"] = run_in_pod(cluster, "default/a", ping)[0]
        r["syncs_between"] = cluster.sync.syncs - syncs
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    _child()
