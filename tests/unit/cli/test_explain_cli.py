"""``podnet explain`` in-process: text and JSON, exit 0 reachable / 1 not / 2 bad input."""

from __future__ import annotations

import json

import pytest
from support.paths import REPO

from podnet.cli.main import main

ROOT = REPO
SEED = ["-f", str(ROOT / "examples/seed/pod-to-service.yaml")]
SHOP = ["-f", str(ROOT / "examples/shop/base"), "-f", str(ROOT / "examples/shop/broken")]


def test_reachable_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", *SEED, "pod-a", "my-service"]) == 0
    out = capsys.readouterr().out
    assert "my-service.default.svc.cluster.local." in out
    assert "ENDPOINT default/pod-b" in out and "RESULT   reachable" in out


def test_denied_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", *SHOP, "shop/loadgen", "api:80/TCP", "-o", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["reachable"] is False
    assert data["service"]["name"] == "shop/api" and data["service"]["target_port"] == "http"
    assert [e["ingress"]["isolating_policies"] for e in data["endpoints"]] == [
        ["shop/api-ingress"],
        ["shop/api-ingress"],
    ]


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", *SEED, "ghost", "my-service"]) == 2
    assert "error: no pod 'ghost'" in capsys.readouterr().err
    assert main(["explain", *SEED, "pod-a", "my-service:x/ICMP"]) == 2
    assert "unknown protocol" in capsys.readouterr().err
