"""``--from-cluster`` against ``podnet up`` (issue 13): the seed and the shop applied with
kubectl, then every analysis verb reads the cluster through the API and must answer as
it does from the files that were applied; ``diff --from-cluster --to`` a deny policy
reports what applying it would close, and the applied files themselves change nothing.

podnet runs no postgres or redis image (ErrImageNeverPull: those pods stay Pending,
not Ready), so the shop is applied with nginx in their place; both sides of every
comparison read those same files."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.kube import UpCluster, eventually, podnet_up
from support.live import require_live
from support.paths import REPO

from podnet.cli.main import main
from podnet.kube import from_cluster
from podnet.kube.errors import Unreachable

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"
SHOP = [REPO / "examples" / "shop" / "base", REPO / "examples" / "shop" / "broken"]
FILES: list[Path] = []  # SEED and the copy of SHOP the fixture applies
DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-to-my-app, namespace: default}
spec:
  podSelector: {matchLabels: {app: my-app}}
  policyTypes: [Ingress]
"""
# a workload pod's generated name: <name>-<pod-template-hash>-<5 chars>
WORKLOAD_POD = re.compile(r"^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def _files() -> list[str]:
    return [a for f in FILES for a in ("-f", str(f))]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    copy = tmp_path_factory.mktemp("shop")
    FILES[:] = [SEED]
    for src in SHOP:
        (copy / src.name).mkdir()
        for f in src.glob("*.yaml"):
            text = f.read_text().replace("postgres:16", "nginx").replace("redis:7", "nginx")
            (copy / src.name / f.name).write_text(text)
        FILES.append(copy / src.name)
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "2") as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", str(SEED))
        k.ok("apply", "-f", str(FILES[1] / "namespaces.yaml"))
        for path in FILES[1:]:
            k.ok("apply", "-f", str(path))

        def not_running() -> list[str] | None:
            pods = k.json("get", "pods", "-A")["items"]
            left = [
                f"{p['metadata']['name']}:{p['status'].get('phase')}"
                for p in pods
                if p["status"].get("phase") != "Running"
            ]
            return None if len(pods) > 10 and not left else left

        last: list[list[str] | None] = [None]

        def running() -> bool:
            last[0] = not_running()
            return last[0] is None

        try:
            eventually(running, 120, "every pod Running")
        except pytest.fail.Exception:
            pytest.fail(f"not Running after 120 s: {last[0]}")
        yield up


def _identity(key: str) -> str:
    """ns/name with a Deployment pod's generated suffix dropped: the cluster's pods and
    podnet's expansion of the same Deployment are named differently."""
    ns, name = key.split("/")
    m = WORKLOAD_POD.match(name)
    return f"{ns}/{m.group(1) if m else name}"


def _connections(out: str) -> set[tuple[str, str, int, str, bool]]:
    data: dict[str, Any] = json.loads(out)
    return {
        (_identity(c["from"]), _identity(c["to"]), c["port"], c["protocol"], c["allowed"])
        for c in data["connections"]
    }


def test_analyze_from_cluster_equals_the_applied_files(shop: UpCluster) -> None:
    rc, files_out, _ = _run("analyze", *_files(), "-o", "json")
    assert rc == 0
    rc, cluster_out, err = _run(
        "analyze", "--from-cluster", "--kubeconfig", str(shop.kubeconfig), "-o", "json"
    )
    assert rc == 0, err
    from_files, from_cluster = _connections(files_out), _connections(cluster_out)
    assert any(c[4] for c in from_files) and any(not c[4] for c in from_files)
    assert from_cluster == from_files
    # the observed addresses are the cluster's: every pod IP as kubectl shows it
    pods = shop.kubectl("1.37").json("get", "pods", "-A")["items"]
    observed = {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}": p["status"]["podIP"] for p in pods
    }
    listed = {f"{p['namespace']}/{p['name']}": p["ip"] for p in json.loads(cluster_out)["pods"]}
    assert listed and all(observed[k] == ip for k, ip in listed.items())


def test_analyze_one_namespace(shop: UpCluster) -> None:
    rc, out, err = _run(
        "analyze",
        "--from-cluster",
        "--kubeconfig",
        str(shop.kubeconfig),
        "-n",
        "data",
        "-o",
        "json",
    )
    assert rc == 0, err
    assert {p["namespace"] for p in json.loads(out)["pods"]} == {"data"}


@pytest.mark.parametrize(
    "args",
    [
        ("shop/loadgen", "api"),
        ("-n", "shop", "deploy/api", "db.data"),
        ("monitoring/prober", "frontend.shop.svc.cluster.local"),
        ("default/pod-a", "my-service"),
        ("shop/deploy/frontend", "api"),
    ],
)
def test_explain_from_cluster_gives_the_files_verdict(
    shop: UpCluster, args: tuple[str, ...]
) -> None:
    rc_files, out, _ = _run("explain", *_files(), *args, "-o", "json")
    rc_cluster, cout, err = _run(
        "explain", "--from-cluster", "--kubeconfig", str(shop.kubeconfig), *args, "-o", "json"
    )
    assert (rc_cluster, json.loads(cout)["reachable"]) == (
        rc_files,
        json.loads(out)["reachable"],
    ), err


def test_lint_from_cluster_finds_the_same_rules(shop: UpCluster) -> None:
    rc_files, out, _ = _run("lint", *_files(), "-o", "json")
    rc_cluster, cout, err = _run(
        "lint", "--from-cluster", "--kubeconfig", str(shop.kubeconfig), "-o", "json"
    )

    def rules(text: str) -> set[tuple[str, str]]:
        return {(f["rule"], f["severity"]) for f in json.loads(text)["findings"]}

    assert rc_cluster == rc_files == 1
    assert rules(cout) == rules(out), err


def test_report_from_cluster_is_written(shop: UpCluster, tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    rc, _, err = _run(
        "report", "--from-cluster", "--kubeconfig", str(shop.kubeconfig), "--output", str(page)
    )
    assert rc == 0, err
    html = page.read_text()
    assert "shop/loadgen" in html and "checkout-deny" in html


def test_diff_from_cluster_to_a_deny_policy_reports_what_it_closes(
    shop: UpCluster, tmp_path: Path
) -> None:
    deny = tmp_path / "deny.yaml"
    deny.write_text(DENY)
    kc = str(shop.kubeconfig)
    rc, out, err = _run(
        "diff", "--from-cluster", "--kubeconfig", kc, "--to", str(deny), "-o", "json"
    )
    assert rc == 1, err
    d = json.loads(out)
    closed = {(c["from"], c["to"], c["port"]) for c in d["closed"]}
    assert d["opened"] == [] and ("default/pod-a", "default/pod-b", 80) in closed, closed
    assert all(c["to"] == "default/pod-b" for c in d["closed"])
    # applying exactly what is applied changes nothing
    rc, out, err = _run(
        "diff", "--from-cluster", "--kubeconfig", kc, "--to", *map(str, FILES), "-o", "json"
    )
    assert rc == 0, out + err


def test_unreachable_and_missing_context_are_one_line_errors(
    shop: UpCluster, tmp_path: Path
) -> None:
    rc, _, err = _run(
        "lint", "--from-cluster", "--kubeconfig", str(shop.kubeconfig), "--context", "nope"
    )
    assert rc == 2 and err.startswith("error: context 'nope' not found"), err  # lint: 2
    broken = tmp_path / "kc"
    text = shop.kubeconfig.read_text()
    broken.write_text(
        re.sub(r"server: https://127\.0\.0\.1:\d+", "server: https://127.0.0.1:1", text)
    )
    rc, _, err = _run("lint", "--from-cluster", "--kubeconfig", str(broken))
    assert rc == 2 and "cannot reach the Kubernetes API at https://127.0.0.1:1" in err, err
    assert "connection refused" in err


def _variant(up: UpCluster, tmp: Path, **cluster: object) -> str:
    """The kubeconfig of ``up`` with its cluster entry's fields changed (None: removed)."""
    data = yaml.safe_load(up.kubeconfig.read_text())
    entry = data["clusters"][0]["cluster"]
    for key, value in cluster.items():
        key = key.replace("_", "-")
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    path = tmp / f"kc-{len(list(tmp.iterdir()))}"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_tls_trust_settings_of_the_kubeconfig(shop: UpCluster, tmp_path: Path) -> None:
    def pods(kubeconfig: str) -> int:
        return len(from_cluster(kubeconfig).state.pods)

    assert pods(_variant(shop, tmp_path, tls_server_name="kubernetes.default")) > 10
    with pytest.raises(Unreachable, match="TLS certificate not trusted"):
        pods(_variant(shop, tmp_path, tls_server_name="wrong.example"))
    no_ca = {"certificate_authority_data": None}
    with pytest.raises(Unreachable, match="TLS certificate not trusted"):
        pods(_variant(shop, tmp_path, **no_ca))
    assert pods(_variant(shop, tmp_path, insecure_skip_tls_verify=True, **no_ca)) > 10
