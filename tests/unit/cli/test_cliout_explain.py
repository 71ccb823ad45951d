"""``podnet explain`` with kubectl's TYPE/NAME kinds, -l, -A, -o json|yaml and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.paths import REPO

from podnet.cli.main import main

SHOP = ["-f", str(REPO / "examples/shop/base")]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["explain", *SHOP, *argv, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


def _source(data: dict[str, object]) -> str:
    src = data["from"]
    assert isinstance(src, dict)
    return str(src["pod"])


@pytest.mark.parametrize(
    "ref",
    ["deploy/api", "deployment/api", "deployments/api", "deployment.apps/api",
     "deployments.apps/api", "shop/deploy/api", "svc/api", "service/api", "services/shop/api",
     "pod/api-6b5c96679-5nt86", "po/shop/api-6b5c96679-5nt86", "api-6b5c96679-5nt86",
     "shop/api-6b5c96679-5nt86"],
)  # fmt: skip
def test_kinds_as_source(capsys: pytest.CaptureFixture[str], ref: str) -> None:
    """Every spelling names the same pod: the api Deployment's first by name."""
    code, data = _json(capsys, "-n", "shop", ref, "svc/data/db:5432")
    assert code == 0, data
    assert _source(data) == "shop/api-6b5c96679-5nt86"
    assert data["to"] == "svc/data/db:5432" and data["to_kind"] == "service"


@pytest.mark.parametrize(
    "ref", ["sts/db", "statefulset/db", "statefulsets.apps/db", "svc/db", "deploy/cache"]
)
def test_kinds_as_target(capsys: pytest.CaptureFixture[str], ref: str) -> None:
    code, data = _json(capsys, "-n", "data", "monitoring/prober", ref)
    assert code == 1  # data's default-deny: the prober is not let in
    assert data["reachable"] is False


def test_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", *SHOP, "-n", "shop", "deploy/api", "svc/data/db:5432"]) == 0
    assert main(["explain", *SHOP, "-n", "shop", "deploy/frontend", "svc/data/db:5432"]) == 1
    capsys.readouterr()
    for argv in (
        ["deploy/ghost", "svc/data/db"],  # no such workload
        ["deploy/api", "svc/ghost"],  # no such Service
        ["deploy/api", "svc/data/db:x/ICMP"],  # bad protocol
        ["svc/ghost", "svc/data/db"],  # a Service as source that does not exist
    ):
        assert main(["explain", *SHOP, "-n", "shop", *argv]) == 2, argv
        assert capsys.readouterr().err.startswith("error: ")
    assert main(["explain", "-f", "/nonexistent.yaml", "a", "b"]) == 2
    with pytest.raises(SystemExit) as e:  # argparse: one ref without -l
        main(["explain", *SHOP, "deploy/api"])
    assert e.value.code == 2


def test_selector_picks_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = _json(capsys, "-l", "app=api", "svc/data/db:5432")
    assert code == 0 and _source(data) == "shop/api-6b5c96679-5nt86"
    code, data = _json(capsys, "-n", "shop", "-l", "tier=web", "svc/data/db:5432")
    assert code == 1 and _source(data).startswith("shop/frontend-")
    assert main(["explain", *SHOP, "-n", "data", "-l", "app=api", "svc/shop/api"]) == 2
    assert "no scheduled pod matches -l 'app=api' (namespace data" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # -l replaces FROM: one ref only
        main(["explain", *SHOP, "-l", "app=api", "deploy/api", "svc/data/db"])
    assert e.value.code == 2


AMBIGUOUS = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: w, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: b, labels: {app: web}}
spec: {containers: [{name: w, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b}
spec: {containers: [{name: c, image: busybox}]}
"""


def test_all_namespaces_finds_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(AMBIGUOUS)
    base = ["explain", "-f", str(f), "-o", "json"]
    assert main([*base, "-A", "client", "pod/web"]) == 2  # web is in a and b
    assert "in several namespaces (a, b)" in capsys.readouterr().err
    assert main([*base, "-A", "client", "a/web"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["from"]["pod"] == "b/client" and data["endpoints"][0]["pod"] == "a/web"
    assert main([*base, "client", "a/web"]) == 2  # no client in default without -A
    capsys.readouterr()


def test_yaml_is_the_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["explain", *SHOP, "-n", "shop", "deploy/api", "svc/data/db:5432"]
    assert main([*argv, "-o", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert main([*argv, "-o", "yaml"]) == 0
    as_yaml = yaml.safe_load(capsys.readouterr().out)
    assert as_json == as_yaml
    assert (as_json["apiVersion"], as_json["kind"]) == ("podnet.dev/v1", "ConnectionExplanation")
    assert "source" not in as_json and "target" not in as_json
