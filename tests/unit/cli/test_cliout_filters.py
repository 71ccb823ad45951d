"""-n/-A/-l (podnet.cli.filters) on the analysis verbs, in-process."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from podnet.cli.common import add_cluster_args
from podnet.cli.filters import add_filter_flags, parse_selection, selection
from podnet.cli.main import main

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web, tier: front}}
spec:
  containers:
  - {name: web, image: docker.io/library/nginx:1.25}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db, tier: back}}
spec:
  containers:
  - name: db
    image: busybox
    ports: [{containerPort: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 8080}]
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    f = tmp_path / "m.yaml"
    f.write_text(MANIFEST)
    return f


def _pods(manifest: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> list[str]:
    assert main(["analyze", "-f", str(manifest), "-o", "json", *flags]) == 0
    data = json.loads(capsys.readouterr().out)
    keys = [f"{p['namespace']}/{p['name']}" for p in data["pods"]]
    for c in data["connections"]:
        assert c["from"] in keys and c["to"] in keys
    return keys


def test_namespace_all_and_default(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    everyone = ["default/client", "shop/db", "shop/web"]
    assert _pods(manifest, capsys) == everyone
    assert _pods(manifest, capsys, "-n", "shop") == ["shop/db", "shop/web"]
    assert _pods(manifest, capsys, "--namespace=default") == ["default/client"]
    assert _pods(manifest, capsys, "-n", "shop", "-A") == everyone  # -A wins, as kubectl
    assert _pods(manifest, capsys, "-n", "nowhere") == []


@pytest.mark.parametrize(
    ("selector", "want"),
    [
        ("app=web", ["shop/web"]),
        ("app==web", ["shop/web"]),
        ("app!=web", ["default/client", "shop/db"]),
        ("tier in (front,back)", ["shop/db", "shop/web"]),
        ("tier notin (front)", ["default/client", "shop/db"]),
        ("tier", ["shop/db", "shop/web"]),
        ("!tier", ["default/client"]),
        ("tier,app=db", ["shop/db"]),
    ],
)
def test_selector(
    manifest: Path, capsys: pytest.CaptureFixture[str], selector: str, want: list[str]
) -> None:
    assert _pods(manifest, capsys, "-l", selector) == want


def test_namespace_and_selector(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _pods(manifest, capsys, "-n", "default", "-l", "tier") == []
    assert _pods(manifest, capsys, "-A", "-l", "app in (client,db)") == [
        "default/client",
        "shop/db",
    ]


def test_bad_selector_is_usage_error(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["analyze", "-f", str(manifest), "-l", "app in (a"])
    assert e.value.code == 2
    assert "-l/--selector" in capsys.readouterr().err


def test_flags_compose_with_cluster_args() -> None:
    """add_cluster_args' -n/-A and add_filter_flags share dests, in either order."""
    for first_cluster in (True, False):
        p = argparse.ArgumentParser()
        if first_cluster:
            add_cluster_args(p)
            add_filter_flags(p)
        else:
            add_filter_flags(p)
            add_cluster_args(p, namespaces=False)
        args = p.parse_args(["-n", "shop", "-l", "app=web"])
        sel = selection(args)
        assert (sel.namespace, sel.selector) == ("shop", "app=web")
        assert sel.matches("shop", {"app": "web"})
        assert not sel.matches("other", {"app": "web"})
        assert sel.matches(None, {"app": "web"})  # cluster-scoped: -n does not apply
        assert not sel.matches("shop", {"app": "db"})
    assert not parse_selection(None, False, None).active
