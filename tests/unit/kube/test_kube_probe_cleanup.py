"""Cleanup of ``probe --cluster`` over a recorded API (support.probe_api): cluster-wide
policies before namespaces, newest first, DeleteOptions as kubectl sends them, objects
already gone are no error, a namespace that stays terminating is reported with the
label to delete by; a namespace someone else owns is refused before anything is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.probe_api import ProbeApi, probe_api  # noqa: F401 (fixture)

from podnet.analyze.conformance_case import load_case
from podnet.kube.client import ApiResource, Client
from podnet.kube.config import load_config
from podnet.kube.errors import KubeError
from podnet.live.probe.cluster_cases import Conformance, Settings
from podnet.live.probe.cluster_cleanup import MANAGED_BY, MANAGER, Created, cleanup

ANP = ApiResource(
    "policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", "AdminNetworkPolicy", False
)
CASE = Path(__file__).parents[2] / "conformance" / "cases" / "903-endport-range.yaml"


def _client(api: ProbeApi, tmp: Path) -> Client:
    path = tmp / "kubeconfig"
    path.write_text(
        f"clusters: [{{name: c, cluster: {{server: '{api.url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    return Client(load_config(str(path), None))


def _ours(name: str) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": {MANAGED_BY: MANAGER}}}


def test_cleanup_order_and_already_gone(probe_api: ProbeApi, tmp_path: Path) -> None:  # noqa: F811
    for ns in ("x", "y"):
        probe_api.gets[f"/api/v1/namespaces/{ns}"] = _ours(ns)
    probe_api.gets[f"{ANP.path()}/first"] = _ours("first")
    created = Created(namespaces=["x", "y", "z"], cluster_objects=[(ANP, "first"), (ANP, "gone")])
    said: list[str] = []
    with _client(probe_api, tmp_path) as c:
        assert cleanup(c, created, said.append, wait=5) == []
    deletes = probe_api.methods("DELETE")
    assert [p for p, _ in deletes] == [
        f"{ANP.path()}/gone",  # newest first; already gone: no error
        f"{ANP.path()}/first",
        "/api/v1/namespaces/z",
        "/api/v1/namespaces/y",
        "/api/v1/namespaces/x",
    ]
    assert deletes[0][1] == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Background",
    }
    assert created.namespaces == [] and created.cluster_objects == []
    assert said == ["deleting namespace(s) x, y, z"]


def test_a_namespace_that_stays_is_reported(probe_api: ProbeApi, tmp_path: Path) -> None:  # noqa: F811
    probe_api.gets["/api/v1/namespaces/x"] = _ours("x")
    probe_api.sticky.add("/api/v1/namespaces/x")
    created = Created(run_id="abc123", namespaces=["x"])
    with _client(probe_api, tmp_path) as c:
        errors = cleanup(c, created, lambda _m: None, wait=0.5)
    assert errors == [
        "namespace(s) x still terminating after 0.5 s "
        "(delete by label: kubectl delete ns -l podnet.dev/probe-run=abc123)"
    ]


def test_a_foreign_namespace_is_refused_before_anything_is_created(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    if not CASE.exists():
        pytest.skip(f"{CASE} missing")
    probe_api.gets["/api/v1/namespaces/y"] = {"metadata": {"name": "y", "labels": {}}}
    created = Created()
    with _client(probe_api, tmp_path) as c, pytest.raises(KubeError, match="namespace y"):
        Conformance(c, created, Settings()).set_up(load_case(CASE))
    assert probe_api.writes == [] and created.namespaces == []
