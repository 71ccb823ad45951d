"""Exec credential plugins (client.authentication.k8s.io v1 and v1beta1), run as a real
subprocess: args and env passed, KUBERNETES_EXEC_INFO with the cluster, the answer
cached until expirationTimestamp, and errors that name the plugin."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from podnet.kube.config import ExecConfig, KubeConfig
from podnet.kube.errors import KubeConfigError
from podnet.kube.execauth import ExecAuth, parse_time, run_plugin

# Writes what it was given to argv[1] and prints argv[2] (a JSON file) as its answer.
PLUGIN = """\
import json, os, sys
seen = {"args": sys.argv[3:], "env": os.environ.get("REGION"),
        "info": json.loads(os.environ["KUBERNETES_EXEC_INFO"]), "stdin_tty": sys.stdin.isatty()}
runs = json.load(open(sys.argv[1]))["runs"] + 1 if os.path.exists(sys.argv[1]) else 1
seen["runs"] = runs
json.dump(seen, open(sys.argv[1], "w"))
print(open(sys.argv[2]).read())
"""
KUBE = KubeConfig(server="https://eks.example", context="eks", ca_data=b"PEM")


def _plugin(
    tmp: Path, answer: object, version: str = "client.authentication.k8s.io/v1beta1", **kw: bool
) -> tuple[ExecConfig, Path]:
    (tmp / "plugin.py").write_text(PLUGIN)
    (tmp / "answer.json").write_text(json.dumps(answer))
    seen = tmp / "seen.json"
    cfg = ExecConfig(
        api_version=version,
        command=sys.executable,
        args=(str(tmp / "plugin.py"), str(seen), str(tmp / "answer.json"), "eks", "get-token"),
        env=(("REGION", "eu-west-1"),),
        provide_cluster_info=kw.get("info", False),
    )
    return cfg, seen


def _cred(
    token: str, expiry: str | None = None, version: str = "client.authentication.k8s.io/v1beta1"
) -> dict[str, object]:
    status: dict[str, object] = {"token": token}
    if expiry:
        status["expirationTimestamp"] = expiry
    return {"apiVersion": version, "kind": "ExecCredential", "status": status}


def test_plugin_gets_args_env_and_cluster_info(tmp_path: Path) -> None:
    cfg, seen = _plugin(tmp_path, _cred("k8s-aws-v1.abc", "2026-12-03T12:15:00Z"), info=True)
    cred = run_plugin(cfg, KUBE)
    assert cred.token == "k8s-aws-v1.abc"
    assert cred.expires == parse_time("2026-12-03T12:15:00Z")
    got = json.loads(seen.read_text())
    assert got["args"] == ["eks", "get-token"] and got["env"] == "eu-west-1"
    assert got["info"]["kind"] == "ExecCredential"
    assert got["info"]["spec"]["interactive"] is False
    assert got["info"]["spec"]["cluster"]["server"] == "https://eks.example"
    assert got["info"]["spec"]["cluster"]["certificate-authority-data"] == "UEVN"


def test_credential_is_cached_until_it_expires(tmp_path: Path) -> None:
    expiry = parse_time("2026-12-03T12:15:00Z")
    cfg, seen = _plugin(tmp_path, _cred("t", "2026-12-03T12:15:00Z"))
    now = [expiry - 60]
    auth = ExecAuth(cfg, KUBE, clock=lambda: now[0])
    auth.get()
    auth.get()
    assert json.loads(seen.read_text())["runs"] == 1
    now[0] = expiry + 1
    auth.get()
    assert json.loads(seen.read_text())["runs"] == 2 and auth.runs == 2


def test_client_certificate_answer_v1(tmp_path: Path) -> None:
    version = "client.authentication.k8s.io/v1"
    answer = {
        "apiVersion": version,
        "kind": "ExecCredential",
        "status": {"clientCertificateData": "CERT", "clientKeyData": "KEY"},
    }
    cfg, _ = _plugin(tmp_path, answer, version)
    cred = run_plugin(cfg, KUBE)
    assert (cred.token, cred.client_cert, cred.client_key, cred.expires) == (
        None,
        b"CERT",
        b"KEY",
        None,
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_cred("t", version="client.authentication.k8s.io/v1"), "returned apiVersion"),
        (
            {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "kind": "ExecCredential",
                "status": {},
            },
            "neither a token",
        ),
        ("not an object", "not an ExecCredential"),
    ],
)
def test_bad_answers_are_refused_naming_the_plugin(
    tmp_path: Path, answer: object, message: str
) -> None:
    cfg, _ = _plugin(tmp_path, answer)
    with pytest.raises(KubeConfigError, match=message) as e:
        run_plugin(cfg, KUBE)
    assert f"exec plugin {sys.executable}" in str(e.value)


def test_missing_or_failing_plugin(tmp_path: Path) -> None:
    missing = ExecConfig("client.authentication.k8s.io/v1", "gke-gcloud-auth-plugin-missing")
    with pytest.raises(KubeConfigError, match="not found"):
        run_plugin(missing, KUBE)
    failing = ExecConfig(
        "client.authentication.k8s.io/v1",
        sys.executable,
        ("-c", "import sys; sys.exit('no SSO session')"),
    )
    with pytest.raises(KubeConfigError, match="exited 1: no SSO session"):
        run_plugin(failing, KUBE)
    old = ExecConfig("client.authentication.k8s.io/v1alpha1", "aws")
    with pytest.raises(KubeConfigError, match="v1alpha1"):
        run_plugin(old, KUBE)
