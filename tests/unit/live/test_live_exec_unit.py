"""``podnet exec`` without a kernel cluster: the registry round trip, the exec endpoints."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from support.local_exec import HostCluster, pod

from podnet.errors import ClusterError
from podnet.live.exec import ExecEndpoint, choose_endpoint, endpoint_name, endpoints
from podnet.live.registry import Announcer, describe_cluster, host_uid, running_clusters

DOC = {
    "pid": 10,
    "pods": {"default/web": 1234, "kube-system/coredns-0": 99},
    "hostnames": {"default/web": "web-host"},
    "path": "/tmp/x/busybox-bin:/usr/bin:/bin",
}


def test_announcer_is_listed_answers_and_disappears() -> None:
    ann = Announcer(lambda: DOC)
    try:
        assert os.getpid() in running_clusters()
        assert describe_cluster(os.getpid()) == DOC
    finally:
        ann.close()
    assert os.getpid() not in running_clusters()
    with pytest.raises(ClusterError):
        describe_cluster(os.getpid(), timeout=1)


def test_a_failing_description_is_a_cluster_error() -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("tearing down")

    ann = Announcer(broken)
    try:
        with pytest.raises(ClusterError):
            describe_cluster(os.getpid())
    finally:
        ann.close()


def test_endpoint_is_listed_by_kind_and_chosen() -> None:
    me = os.getpid()
    with _endpoint("up"):
        assert endpoints()[me] == "up"
        assert choose_endpoint(me) == (me, endpoint_name(host_uid(), me, "up"))
        with pytest.raises(ClusterError, match="no podnet run is running"):
            choose_endpoint(None)  # an up is never picked without --cluster
    with _endpoint("run"):
        assert choose_endpoint(None) == (me, endpoint_name(host_uid(), me, "run"))
    assert me not in endpoints()
    with pytest.raises(ClusterError, match=f"no podnet run with pid {me}"):
        choose_endpoint(me)


@contextlib.contextmanager
def _endpoint(kind: str) -> Iterator[ExecEndpoint]:
    ep = ExecEndpoint(HostCluster([pod("default/web", "c")]).as_live(), kind)
    try:
        yield ep
    finally:
        ep.close()
