"""``pods/exec`` over WebSocket (v5.channel.k8s.io) as ``probe --cluster`` uses it, against
frames recorded from ``podnet up`` (support.probe_api): exit codes from the error
channel's Status, stdout/stderr split, agnhost connect's words mapped to probe results,
403/404 refusals as typed errors, and the concurrency and rate bounds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.probe_api import ProbeApi, k3s_gets, probe_api  # noqa: F401 (fixture)

from podnet.kube.client import Client
from podnet.kube.config import load_config
from podnet.kube.errors import Forbidden, NotFound
from podnet.kube.write import execer
from podnet.kube.wsexec import ExecResult, exec_path, exit_code
from podnet.live.probe.cluster_exec import RateLimiter, Where, classify, probe_by_exec
from podnet.live.probe.plan import Planned

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: URL}}]
users: [{name: u, user: {token: secret-token}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
"""
POD = "/api/v1/namespaces/shop/pods/api-58d9b7f4c6-9xwqk"


def client(api: ProbeApi, tmp: Path) -> Client:
    path = tmp / "kubeconfig"
    path.write_text(KUBECONFIG.replace("URL", api.url))
    return Client(load_config(str(path), None))


def run(api: ProbeApi, tmp: Path, argv: list[str]) -> ExecResult:
    async def go() -> ExecResult:
        async with execer(client(api, tmp), timeout=10) as ex:
            return await ex.run("shop", "api-58d9b7f4c6-9xwqk", "api", argv)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("frames", "code", "stderr", "result"),
    [
        ("success", 0, "", ("allowed", "connected")),
        ("refused", 1, "REFUSED\n", ("denied", "econnrefused")),
        ("timeout", 1, "TIMEOUT\n", ("denied", "timeout")),
        ("unknown-command", 1, 'Error: unknown command "version-nope" for "agnhost"\n', None),
    ],
)
def test_recorded_exec_streams(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
    frames: str,
    code: int,
    stderr: str,
    result: tuple[str, str] | None,
) -> None:
    k3s_gets(probe_api)
    probe_api.answer = lambda ns, pod, c, argv: frames
    argv = ["/agnhost", "connect", "10.42.1.4:8080", "--timeout=1s", "--protocol=tcp"]
    got = run(probe_api, tmp_path, argv)
    assert (got.code, got.stderr, got.stdout) == (code, stderr, "")
    assert probe_api.execs == [("shop", "api-58d9b7f4c6-9xwqk", "api", argv)]
    if result is None:
        assert classify(got)[0] == "error" and "unknown command" in classify(got)[1]
    else:
        assert classify(got) == result


def test_exec_sends_the_credentials_and_asks_for_v5(probe_api: ProbeApi, tmp_path: Path) -> None:  # noqa: F811
    k3s_gets(probe_api)
    assert run(probe_api, tmp_path, ["/agnhost", "connect", "x:1"]).code == 0
    (headers,) = probe_api.exec_headers
    assert headers["Authorization"] == "Bearer secret-token"
    assert headers["Sec-WebSocket-Protocol"] == "v5.channel.k8s.io,v4.channel.k8s.io"


def test_exec_path_carries_argv_in_order_and_no_stdin() -> None:
    path = exec_path("ns", "p", "c", ["/agnhost", "connect", "10.0.0.1:80", "--timeout=1s"])
    assert path == (
        "/api/v1/namespaces/ns/pods/p/exec?container=c&stdout=true&stderr=true"
        "&command=%2Fagnhost&command=connect&command=10.0.0.1%3A80&command=--timeout%3D1s"
    )


def test_exit_code_from_status() -> None:
    assert exit_code({"status": "Success"}) == (0, "")
    failure = {
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": "exit 7",
        "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
    }
    assert exit_code(failure) == (7, "exit 7")
    assert exit_code({"status": "Failure", "message": "container not found"}) == (
        -1,
        "container not found",
    )


def test_forbidden_and_missing_pod_are_typed(probe_api: ProbeApi, tmp_path: Path) -> None:  # noqa: F811
    k3s_gets(probe_api)
    probe_api.forbid_exec = True
    with pytest.raises(Forbidden) as e:
        run(probe_api, tmp_path, ["/agnhost", "connect", "x:1"])
    assert (e.value.verb, e.value.resource, e.value.namespace) == ("create", "pods/exec", "shop")
    probe_api.forbid_exec = False
    del probe_api.gets[POD]
    with pytest.raises(NotFound):
        run(probe_api, tmp_path, ["/agnhost", "connect", "x:1"])


def _plan(n: int) -> list[Planned]:
    src = "shop/api-58d9b7f4c6-9xwqk"
    return [
        Planned(src, "shop/api-58d9b7f4c6-q2v8t", 8080, "TCP", f"10.42.1.{i}", 8080)
        for i in range(n)
    ]


def test_probe_by_exec_bounds_concurrency_and_keeps_order(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    probe_api.delay = 0.05
    probe_api.answer = lambda ns, pod, c, argv: (
        "success" if argv[2].endswith(".3:8080") else "timeout"
    )
    c = client(probe_api, tmp_path)
    where = {"shop/api-58d9b7f4c6-9xwqk": Where("shop", "api-58d9b7f4c6-9xwqk", "api")}
    got = probe_by_exec(lambda: execer(c), _plan(12), where, parallel=3, qps=1000)
    assert probe_api.most_in_flight == 3
    assert [r[0] if r else None for r in got] == ["denied"] * 3 + ["allowed"] + ["denied"] * 8
    assert probe_api.execs[0][3] == [
        "/agnhost", "connect", "10.42.1.0:8080", "--timeout=1s", "--protocol=tcp",
    ]  # fmt: skip


def test_a_pod_gone_mid_run_is_an_error_result_not_a_crash(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    k3s_gets(probe_api)
    del probe_api.gets[POD]
    c = client(probe_api, tmp_path)
    where = {"shop/api-58d9b7f4c6-9xwqk": Where("shop", "api-58d9b7f4c6-9xwqk", "api")}
    got = probe_by_exec(lambda: execer(c), _plan(2), where)
    assert [r[0] if r else None for r in got] == ["error", "error"]
    assert got[0] is not None and "not found" in got[0][1]


def test_rate_limiter_spaces_starts() -> None:
    async def go() -> float:
        limiter = RateLimiter(qps=20, burst=1)
        t0 = time.monotonic()
        for _ in range(11):
            await limiter.wait()
        return time.monotonic() - t0

    took = asyncio.run(go())
    assert 0.45 <= took < 2.0  # 10 waits at 20/s after the first token
