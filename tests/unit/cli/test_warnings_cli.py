"""Every verb tells, on stderr and once each, what it skips or cannot do.

analyze, explain, lint, diff and report run in-process for real. ``run`` and ``probe``
need a kernel to go further, so their live entry points are replaced by stand-ins:
what is tested is that the warnings are printed before the live part begins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podnet.cli.main import main
from podnet.errors import PodnetError
from podnet.model.objects import Manifests

MANIFEST = """\
apiVersion: apps/v1
kind: Deploymnet
metadata: {name: web}
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
spec: {defaultBackend: {service: {name: h, port: {number: 80}}}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: Pod
metadata: {name: h, labels: {app: h}}
spec:
  hostNetwork: true
  containers: [{name: c, image: nginx}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: 120
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec: {containers: [{name: c, image: nginx}]}
"""

# What each verb must say (a distinctive part of each warning).
EXPECTED = (
    "m.yaml:1: Deploymnet/web: kind Deploymnet (apps/v1) is not modelled by podnet "
    "(no schema known); skipped; did you mean Deployment?",
    "m.yaml:6: kind ConfigMap (v1) is not modelled by podnet; 2 objects skipped (the first here)",
    "m.yaml:14: Ingress/i: kind Ingress (networking.k8s.io/v1) is not modelled by podnet; skipped",
    "Widget/w: kind Widget (example.com/v1) is not modelled by podnet (no schema known); skipped",
    "spec.hostNetwork: hostNetwork is not supported; the pod gets its own network namespace",
    "12 pod(s) Pending, no IP, in no connection: no room on their nodes (110 pods per node",
)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    f = tmp_path / "m.yaml"
    f.write_text(MANIFEST)
    return f


# what `podnet run` creates through its API (ConfigMaps, Ingresses) is used, not skipped
RUN_EXPECTED = tuple(w for w in EXPECTED if "ConfigMap" not in w and "Ingress" not in w)


def _check_warnings(err: str, expected: tuple[str, ...] = EXPECTED) -> None:
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    for text in expected:
        assert sum(text in line for line in lines) == 1, (text, err)
    assert len(lines) == len(expected), err
    assert len(set(lines)) == len(lines)


@pytest.mark.parametrize(
    ("verb", "extra", "code"),
    [
        ("analyze", ["-o", "json"], 0),
        ("lint", ["-o", "json"], None),
        ("explain", ["default/h", "default/h:80", "-o", "json"], 0),
        ("diff", ["--to", "SAME", "-o", "json"], 0),  # both sides warn alike: printed once
        ("report", ["--output", "-"], 0),
    ],
)
def test_offline_verbs_warn_once_on_stderr(
    verb: str,
    extra: list[str],
    code: int | None,
    manifest: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [verb, "-f", str(manifest), *[str(manifest) if a == "SAME" else a for a in extra]]
    rc = main(argv)
    if code is not None:
        assert rc == code
    out, err = capsys.readouterr()
    _check_warnings(err)
    assert not any(line.startswith("warning: ") for line in out.splitlines())
    if verb != "report":
        json.loads(out)  # stdout stays machine-readable


def test_analyze_shows_pending_pods(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "-f", str(manifest), "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    pending = {f"{p['namespace']}/{p['name']}" for p in data["pods"] if p["ip"] is None}
    assert len(pending) == 12 and all(p["node"] is None for p in data["pods"] if p["ip"] is None)
    assert len(data["pods"]) == 121  # 120 replicas and the hostNetwork pod
    assert not any({c["from"], c["to"]} & pending for c in data["connections"])
    assert main(["analyze", "-f", str(manifest)]) == 0
    table = capsys.readouterr().out
    assert "pending (not scheduled, no IP, in no connection):" in table
    assert "and 2 more" in table  # ten named, the rest counted
    assert main(["analyze", "-f", str(manifest), "--nodes", "2", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    assert all(p["ip"] is not None for p in json.loads(out)["pods"])
    assert "Pending" not in err


def test_run_warns_before_the_cluster_starts(
    manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import podnet.live.run

    seen: list[str] = []

    def run(manifests: Manifests, **_kw: object) -> int:
        seen.append(capsys.readouterr().err)
        return 0

    monkeypatch.setattr(podnet.live.run, "run", run)
    assert main(["run", "-f", str(manifest)]) == 0
    _check_warnings(seen[0], RUN_EXPECTED)


def test_probe_warns_before_the_cluster_starts(
    manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import podnet.live.probe.runner

    def probe_cluster(manifests: Manifests, **_kw: object) -> None:
        raise PodnetError("stand-in: no cluster here")

    monkeypatch.setattr(podnet.live.probe.runner, "probe_cluster", probe_cluster)
    assert main(["probe", "-f", str(manifest)]) == 1
    err = capsys.readouterr().err
    _check_warnings(err)
    assert err.splitlines()[-1] == "error: stand-in: no cluster here"


def test_each_invocation_warns_again(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        main(["analyze", "-f", str(manifest), "-o", "json"])
        _check_warnings(capsys.readouterr().err)
