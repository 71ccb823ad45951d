"""kubeconfig loading as kubectl does it: $KUBECONFIG lists merged (first name wins,
first current-context wins), --kubeconfig, --context, relative paths, the in-cluster
service account, and the errors that say what to fix."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from podnet.kube.config import IN_CLUSTER, in_cluster_config, load_config
from podnet.kube.errors import KubeConfigError


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def _two_files(tmp: Path) -> tuple[Path, Path]:
    (tmp / "certs").mkdir()
    (tmp / "certs" / "ca.pem").write_bytes(b"CA-ONE")
    first = _write(
        tmp / "one.yaml",
        {
            "current-context": "",
            "clusters": [
                {
                    "name": "k3s",
                    "cluster": {
                        "server": "https://10.0.0.1:6443/",
                        "certificate-authority": "certs/ca.pem",
                    },
                },
            ],
            "users": [{"name": "admin", "user": {"token": "from-one"}}],
            "contexts": [
                {"name": "k3s", "context": {"cluster": "k3s", "user": "admin", "namespace": "shop"}}
            ],
        },
    )
    second = _write(
        tmp / "two.yaml",
        {
            "current-context": "k3s",
            "clusters": [
                {"name": "k3s", "cluster": {"server": "https://shadowed:1"}},
                {
                    "name": "eks",
                    "cluster": {
                        "server": "https://eks.example",
                        "certificate-authority-data": base64.b64encode(b"CA-EKS").decode(),
                        "insecure-skip-tls-verify": False,
                    },
                },
            ],
            "users": [
                {"name": "admin", "user": {"token": "shadowed"}},
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", "prod"],
                            "env": [{"name": "AWS_PROFILE", "value": "prod"}],
                        }
                    },
                },
            ],
            "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "aws"}}],
        },
    )
    return first, second


def test_kubeconfig_list_is_merged_first_definition_wins(tmp_path: Path) -> None:
    first, second = _two_files(tmp_path)
    env = {"KUBECONFIG": os.pathsep.join([str(first), str(tmp_path / "missing"), str(second)])}
    cfg = load_config(environ=env)
    assert (cfg.context, cfg.server, cfg.token, cfg.namespace) == (
        "k3s",
        "https://10.0.0.1:6443",
        "from-one",
        "shop",
    )
    assert cfg.ca_data == b"CA-ONE"  # relative to one.yaml's folder
    eks = load_config(context="eks", environ=env)
    assert eks.ca_data == b"CA-EKS" and eks.token is None and eks.exec is not None
    assert eks.exec.args == ("eks", "get-token", "--cluster-name", "prod")
    assert eks.exec.env == (("AWS_PROFILE", "prod"),)


def test_kubeconfig_flag_reads_only_that_file(tmp_path: Path) -> None:
    first, second = _two_files(tmp_path)
    env = {"KUBECONFIG": str(first)}  # ignored when --kubeconfig is given
    with pytest.raises(KubeConfigError, match=r"context 'k3s' not found .*contexts: eks\)"):
        load_config(str(second), environ=env)
    assert load_config(str(second), context="eks", environ=env).server == "https://eks.example"
    with pytest.raises(KubeConfigError, match="no such file"):
        load_config(str(tmp_path / "nope"), environ={})


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    first, second = _two_files(tmp_path)
    env = {"KUBECONFIG": os.pathsep.join([str(first), str(second)])}
    with pytest.raises(KubeConfigError, match=r"context 'gke' not found .*contexts: eks, k3s"):
        load_config(context="gke", environ=env)


def test_legacy_auth_provider_says_to_use_the_exec_plugin(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "gke.yaml",
        {
            "current-context": "gke",
            "clusters": [{"name": "c", "cluster": {"server": "https://34.1.2.3"}}],
            "users": [{"name": "u", "user": {"auth-provider": {"name": "gcp"}}}],
            "contexts": [{"name": "gke", "context": {"cluster": "c", "user": "u"}}],
        },
    )
    with pytest.raises(KubeConfigError, match="gke-gcloud-auth-plugin"):
        load_config(str(path), environ={})


def test_in_cluster_config_from_the_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_bytes(b"CLUSTER-CA")
    (tmp_path / "namespace").write_text("ci")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = in_cluster_config(env, sa_dir=tmp_path)
    assert (cfg.server, cfg.context, cfg.namespace, cfg.ca_data) == (
        "https://[fd00::1]:443",
        IN_CLUSTER,
        "ci",
        b"CLUSTER-CA",
    )
    assert cfg.token_file == str(tmp_path / "token")  # re-read per request: it rotates
    with pytest.raises(KubeConfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_config({}, sa_dir=tmp_path)


def test_no_kubeconfig_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="no kubeconfig"):
        load_config(environ={"HOME": str(tmp_path)})
