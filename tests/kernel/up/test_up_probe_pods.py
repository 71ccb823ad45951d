"""``podnet probe --cluster --pods`` (the user's own pods) against a real ``podnet up``
(issue 13), which serves ``pods/ephemeralcontainers`` and runs the ephemeral agnhost
container the probes run in (tests/unit/kube/test_kube_probe_pods.py covers the same
mode over recorded answers of a k3s cluster).

A namespace ``shop`` with two agnhost servers (api, web) and a client, and a
NetworkPolicy letting only web into api: the dry run prints the plan and changes
nothing; without ``--yes`` off a terminal nothing happens; a confirmed run finds
web -> api allowed and client -> api denied as predicted (exit 0) and leaves its
ephemeral container running in each pod; a policy deleted after the plan was read
(between the plan and the answer to its question, on a terminal) is a disagreement
named in the report (exit 1). Every run is the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import Kubectl, UpCluster, podnet_up
from support.live import podnet_argv, podnet_env, require_live, wait_for_line

pytestmark = pytest.mark.kernel

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"
SERVER = (
    "  containers:\n  - name: serve\n    image: " + AGNHOST + "\n"
    '    command: [/agnhost, serve-hostname, --tcp, --http=false, --port, "80"]\n'
    "    ports: [{containerPort: 80, protocol: TCP}]\n"
)
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80, protocol: TCP}]
"""
SHOP = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: shop}}
---
apiVersion: v1
kind: Pod
metadata: {{name: api, namespace: shop, labels: {{app: api}}}}
spec:
{SERVER}---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: shop, labels: {{app: web}}}}
spec:
{SERVER}---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: shop, labels: {{app: client}}}}
spec:
  containers:
  - {{name: main, image: {AGNHOST}, command: [/agnhost, pause]}}
---
{POLICY}"""
CONTAINER = re.compile(r"an ephemeral container '(podnet-probe-[0-9a-f]{8})'")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "2") as cluster:
        k = cluster.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=SHOP)
        k.ok("wait", "--for=condition=Ready", "pod", "--all", "-n", "shop", timeout=120)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err[-2000:]


def _probe(up: UpCluster, *args: str, stdin: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    argv = [*podnet_argv(), "probe", "--cluster", "--pods", "-n", "shop"]
    argv += ["--kubeconfig", str(up.kubeconfig), *args]
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=podnet_env(),
        cwd="/",
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"podnet probe --cluster --pods did not finish in {timeout}s:\n{err[-3000:]}")
    return proc.returncode, out, err


def _ephemeral(k: Kubectl) -> dict[str, dict[str, str]]:
    """Per pod: each ephemeral container's name and its state (running, waiting...)."""
    out: dict[str, dict[str, str]] = {}
    for pod in k.json("get", "pods", "-n", "shop")["items"]:
        statuses = {s["name"]: s for s in pod["status"].get("ephemeralContainerStatuses") or []}
        out[pod["metadata"]["name"]] = {
            c["name"]: next(iter(statuses.get(c["name"], {}).get("state") or {"none": 0}))
            for c in pod["spec"].get("ephemeralContainers") or []
        }
    return out


def _by_pair(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["from"], c["to"]): c for c in report["connections"]}


def test_dry_run_prints_the_plan_and_changes_nothing(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    before = _ephemeral(k)
    rc, out, err = _finish(_probe(up, "--dry-run"))
    assert rc == 0, err
    assert out.startswith(
        "podnet probe --cluster --pods: 3 pod(s), 4 connection(s) via pod on 80/TCP\n"
    ), out
    assert CONTAINER.search(out), out
    assert "  shop/api\n  shop/client\n  shop/web\n" in out
    rc, out, _ = _finish(_probe(up, "--dry-run", "-l", "app in (api,web)"))
    assert rc == 0 and "2 pod(s), 2 connection(s)" in out, out
    # not a terminal and no --yes: the plan on stderr, a refusal, nothing added
    rc, out, err = _finish(_probe(up))
    assert rc == 1 and out == ""
    assert "not confirmed (stdin is not a terminal: pass --yes); nothing changed" in err
    assert _ephemeral(k) == before


def test_observed_agrees_with_the_prediction(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    rc, out, err = _finish(_probe(up, "--yes", "-o", "json"))
    assert rc == 0, err[-2000:]
    report = json.loads(out)
    pairs = _by_pair(report)
    allowed, denied = pairs[("shop/web", "shop/api")], pairs[("shop/client", "shop/api")]
    assert (allowed["allowed"], allowed["predicted"]) == (True, True), allowed
    assert (denied["allowed"], denied["predicted"]) == (False, False), denied
    assert denied["result"] == "denied" and denied["detail"] == "timeout", denied
    assert set(pairs) == {
        ("shop/web", "shop/api"),
        ("shop/client", "shop/api"),
        ("shop/api", "shop/web"),
        ("shop/client", "shop/web"),
    }
    assert report["summary"]["disagreements"] == 0
    assert "notes" not in report
    name = CONTAINER.search(err)
    assert name, err
    assert {pod: c.get(name.group(1)) for pod, c in _ephemeral(k).items()} == {
        "api": "running",
        "client": "running",
        "web": "running",
    }


def test_a_policy_deleted_after_the_plan_is_a_disagreement(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    master, slave = pty.openpty()  # a terminal, so podnet asks before it changes anything
    try:
        proc = _probe(up, "-o", "json", stdin=slave)
        os.close(slave)
        wait_for_line(proc.stderr, "each connection: one exec", 60)  # the plan, then the question
        k.ok("delete", "networkpolicy", "api-from-web", "-n", "shop")
        os.write(master, b"y\n")
        rc, out, err = _finish(proc)
    finally:
        os.close(master)
        k.ok("apply", "-f", "-", stdin=POLICY)
    assert rc == 1, err[-2000:]
    report = json.loads(out)
    wrong = [(c["from"], c["to"]) for c in report["connections"] if c["allowed"] != c["predicted"]]
    assert wrong == [("shop/client", "shop/api")], report["connections"]
    assert _by_pair(report)[("shop/client", "shop/api")]["detail"] == "connected"
    assert report["notes"] == ["NetworkPolicy shop/api-from-web: deleted since the plan was read"]
