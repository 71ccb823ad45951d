"""``report``: one self-contained HTML file, checked as text and in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.analyze.lint.context import context_for_state
from podnet.analyze.lint.run import lint_context
from podnet.analyze.report.data import build_report_data, cell_text
from podnet.analyze.report.page import render_report
from podnet.control.cluster import build_cluster
from podnet.manifests import load_paths
from podnet.model.cluster import ClusterState

ROOT = REPO
SEED = [
    str(ROOT / "examples/seed/pod-to-service.yaml"),
    str(ROOT / "examples/seed/pitfall-pod-ip.yaml"),
]
SHOP = [str(ROOT / "examples/shop/base"), str(ROOT / "examples/shop/broken")]


def html_for(paths: list[str]) -> tuple[ClusterState, str]:
    state = build_cluster(load_paths(paths))
    return state, render_report(state, lint_context(context_for_state(state)), "t")


def embedded(html: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m is not None
    data = json.loads(m.group(1))
    assert isinstance(data, dict)
    return data


def test_self_contained() -> None:
    _, html = html_for(SHOP)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert "<svg" in html and "<style>" in html


def test_shop_data_groups_matrix_findings() -> None:
    state, html = html_for(SHOP)
    data = build_report_data(state, lint_context(context_for_state(state)))
    groups = {g["id"] for g in data["groups"]}
    assert "shop/deployment/api" in groups and "data/statefulset/db" in groups
    api = next(g for g in data["groups"] if g["id"] == "shop/deployment/api")
    assert len(api["pods"]) == 2 and "shop/api-ingress" in api["policies"]
    cell = data["matrix"]["8080/TCP"]["shop/deployment/api"]["shop/pod/loadgen"]
    assert cell[0] == "none" and "shop/api-ingress" in cell_text(data, cell)[1]
    assert data["matrix"]["8080/TCP"]["shop/deployment/api"]["shop/deployment/frontend"][0] == "all"
    assert data["matrix"]["all"]["shop/deployment/api"]["shop/pod/loadgen"][0] == "none"
    assert {f["rule"] for f in data["findings"]} >= {"dns-egress-blocked", "pod-ip-literal"}
    assert "dns-egress-blocked" in html  # findings section


def test_script_cannot_be_closed_by_data(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {a: b}}\nspec:\n"
        "  containers: [{name: c, image: busybox, command: [sh, -c, 'echo </script><b>']}]\n"
    )
    _, html = html_for([str(tmp_path / "p.yaml")])
    assert html.count("</script>") == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_renders_in_headless_chromium_without_js_errors(tmp_path: Path) -> None:
    _, html = html_for(SHOP)
    page = tmp_path / "report.html"
    page.write_text(html)
    argv = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
        "--v=0", "--window-size=1400,1000", "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert 'data-rendered="ok"' in done.stdout, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr
    assert done.stdout.count('class="c ') > 20  # matrix cells were built by the script
