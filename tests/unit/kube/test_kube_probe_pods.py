"""``podnet probe --cluster --pods`` (the user's own pods, via ephemeral containers) over
recorded API responses (against a real ``podnet up``:
tests/kernel/up/test_up_probe_pods.py; fixtures/probe-ephemeral-notserved.json is the
404 of a server without the ``pods/ephemeralcontainers`` subresource). The cluster is
the recorded k3s one (support.recorded_api: dual-stack, host-network, pending, finished
and IPv6-only pods, a NetworkPolicy in ``shop``); the ephemeral container's answer
follows kube-apiserver's shape (the pod with ``spec.ephemeralContainers`` and, once the
kubelet started it, ``status.ephemeralContainerStatuses``); exec streams are frames
recorded from podnet up.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from support.probe_api import ProbeApi, k3s_gets, probe_api  # noqa: F401 (fixture)

from podnet.analyze.matrix import compute_matrix
from podnet.cli.main import main
from podnet.kube.client import Client
from podnet.kube.config import load_config
from podnet.kube.observed import to_state
from podnet.kube.read import read_cluster
from podnet.live.probe.cluster_pods import format_plan, plan_user_probe, run_user_probe

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: URL}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
"""
API1, API2 = "shop/api-58d9b7f4c6-9xwqk", "shop/api-58d9b7f4c6-q2v8t"


def _kubeconfig(api: ProbeApi, tmp: Path) -> str:
    path = tmp / "kubeconfig"
    path.write_text(KUBECONFIG.replace("URL", api.url))
    return str(path)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def test_plan_takes_running_pods_with_an_ipv4_address(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    with Client(load_config(_kubeconfig(probe_api, tmp_path), None)) as c:
        observed = to_state(read_cluster(c, "shop"))
    up = plan_user_probe(observed, observed.state.pods, "pod", "abcdef123456")
    # web-pending (no IP), migrate (Succeeded), v6only (IPv6 only) are not probed;
    # only the api pods serve ports (8080/TCP, 8081/UDP)
    assert [p.key for p in up.pods] == [API1, API2, "shop/loadgen"]
    assert sorted((x.src, x.dst, x.port) for x in up.plan) == [
        (src, dst, port)
        for src, dst in [(API1, API2), (API2, API1), ("shop/loadgen", API1), ("shop/loadgen", API2)]
        for port in (8080, 8081)
    ]
    assert up.container == "podnet-probe-abcdef12"
    text = format_plan(up, qps=20, parallel=10)
    assert "ephemeral container 'podnet-probe-abcdef12'" in text
    assert "cannot be removed" in text
    for key in (API1, API2, "shop/loadgen"):
        assert f"  {key}" in text


def test_dry_run_prints_the_plan_and_changes_nothing(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    kc = _kubeconfig(probe_api, tmp_path)
    rc, out, _ = _cli("probe", "--cluster", "--kubeconfig", kc, "--pods", "-n", "shop", "--dry-run")
    assert rc == 0
    assert "8 connection(s) via pod on 8080/TCP, 8081/UDP" in out
    assert probe_api.writes == [] and probe_api.execs == []


def test_without_yes_and_no_terminal_it_refuses(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    k3s_gets(probe_api)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal, even saying y
    kc = _kubeconfig(probe_api, tmp_path)
    rc, _, err = _cli("probe", "--cluster", "--kubeconfig", kc, "--pods", "-n", "shop")
    assert rc == 1
    assert "not confirmed" in err and "--yes" in err
    assert probe_api.writes == [] and probe_api.execs == []


def _engine_answer(api: ProbeApi, tmp: Path, flip: set[tuple[str, str]]) -> None:
    """agnhost connect answers as the engine predicts, except for the ``flip`` pairs."""
    with Client(load_config(_kubeconfig(api, tmp), None)) as c:
        state = to_state(read_cluster(c, "shop")).state
    matrix = compute_matrix(state)
    by_ip = {p.ip: p for p in state.pods if p.ip}
    pods = {p.key: p for p in state.pods}

    def answer(ns: str, pod: str, container: str, argv: list[str]) -> str:
        src, dst = pods[f"{ns}/{pod}"], by_ip[argv[2].rsplit(":", 1)[0]]
        port, proto = int(argv[2].rsplit(":", 1)[1]), argv[4].split("=")[1].upper()
        ok = matrix.is_allowed(src, dst, port, proto)
        if (src.key, dst.key) in flip:
            ok = not ok
        return "success" if ok else "timeout"

    api.answer = answer


def test_yes_adds_ephemeral_containers_and_probes_from_them(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    _engine_answer(probe_api, tmp_path, {("shop/loadgen", API2)})
    kc = _kubeconfig(probe_api, tmp_path)
    rc, out, err = _cli(
        "probe", "--cluster", "--kubeconfig", kc, "--pods", "-n", "shop", "--yes", "-o", "json"
    )
    assert rc == 1, err  # the flipped pair disagrees
    patches = probe_api.methods("PATCH")
    assert sorted(p for p, _ in patches) == [
        f"/api/v1/namespaces/shop/pods/{name}/ephemeralcontainers"
        for name in ("api-58d9b7f4c6-9xwqk", "api-58d9b7f4c6-q2v8t", "loadgen")
    ]
    (added,) = patches[0][1]["spec"]["ephemeralContainers"]
    assert added["image"] == "registry.k8s.io/e2e-test-images/agnhost:2.43"
    assert added["command"] == ["/agnhost", "pause"]
    assert {c for _, _, c, _ in probe_api.execs} == {added["name"]}
    data: dict[str, Any] = json.loads(out)
    wrong = [(c["from"], c["to"]) for c in data["connections"] if c["allowed"] != c["predicted"]]
    assert wrong == [("shop/loadgen", API2)] * 2  # on 8080/TCP and 8081/UDP
    assert data["summary"]["disagreements"] == 2 and data["summary"]["probes"] == 8


def test_agreeing_cluster_exits_0(probe_api: ProbeApi, tmp_path: Path) -> None:  # noqa: F811
    k3s_gets(probe_api)
    _engine_answer(probe_api, tmp_path, set())
    kc = _kubeconfig(probe_api, tmp_path)
    rc, out, err = _cli("probe", "--cluster", "--kubeconfig", kc, "--pods", "-n", "shop", "-y")
    assert rc == 0, err
    assert "8 probes via pod" in out and "0 disagree" in out


def test_server_without_ephemeral_containers_says_so(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    probe_api.serve_ephemeral = False  # the 404 podnet up gave before it served them
    kc = _kubeconfig(probe_api, tmp_path)
    rc, _, err = _cli("probe", "--cluster", "--kubeconfig", kc, "--pods", "-n", "shop", "-y")
    assert rc == 1
    assert "does not serve pods/ephemeralcontainers" in err
    assert probe_api.execs == []


def test_an_ephemeral_container_that_cannot_start_is_an_error(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    probe_api.ephemeral_state = "terminated"
    kc = _kubeconfig(probe_api, tmp_path)
    rc, _, err = _cli("probe", "--cluster", "--kubeconfig", kc, "--pods", "-n", "shop", "-y")
    assert rc == 1
    assert "terminated (ErrImagePull)" in err


def test_a_policy_changed_after_the_plan_is_named(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The prediction is the plan's; the policies read after probing tell what changed."""
    k3s_gets(probe_api)
    _engine_answer(probe_api, tmp_path, set())
    with Client(load_config(_kubeconfig(probe_api, tmp_path), None)) as c:
        observed = to_state(read_cluster(c, "shop"))
        up = plan_user_probe(observed, observed.state.pods, "pod", "abcdef123456")
        path = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"
        policies = probe_api.gets[path]
        (policy,) = policies["items"]
        added = {**policy, "metadata": {**policy["metadata"], "name": "new"}}
        probe_api.gets[path] = {**policies, "items": [added]}
        report = run_user_probe(c, up, lambda _m: None, retries=0)
    assert report.notes == (
        "NetworkPolicy shop/api-ingress: deleted since the plan was read",
        "NetworkPolicy shop/new: created since the plan was read",
    )
