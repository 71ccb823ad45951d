"""Exec credential plugins: how EKS (``aws eks get-token``), GKE
(``gke-gcloud-auth-plugin``) and AKS (``kubelogin``) hand out short-lived credentials.

client-go's plugin/pkg/client/auth/exec/exec.go is the reference: the command runs with
its args and the kubeconfig's env added to ours, ``KUBERNETES_EXEC_INFO`` holds an
ExecCredential (with the cluster when ``provideClusterInfo``), stdin is not given (not
interactive), and stdout must be an ExecCredential of the same apiVersion
(client.authentication.k8s.io/v1 or v1beta1) whose status carries a token or a client
certificate and key. The answer is cached until its ``expirationTimestamp``; a 401
drops it and runs the plugin again once.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podnet.kube.config import ExecConfig, KubeConfig
from podnet.kube.errors import KubeConfigError

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
TIMEOUT = 60.0  # a browser login (kubelogin devicecode) is not waited for forever


@dataclass(frozen=True)
class Credential:
    token: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    expires: float | None = None  # epoch seconds


def parse_time(stamp: str) -> float:
    """RFC 3339 (``2026-12-03T12:00:00Z``, fractional seconds allowed) as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _exec_info(cfg: ExecConfig, kube: KubeConfig) -> str:
    info: dict[str, Any] = {"interactive": False}
    if cfg.provide_cluster_info:
        cluster: dict[str, Any] = {"server": kube.server}
        if kube.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(kube.ca_data).decode()
        if kube.insecure:
            cluster["insecure-skip-tls-verify"] = True
        if kube.tls_server_name:
            cluster["tls-server-name"] = kube.tls_server_name
        info["cluster"] = cluster
    return json.dumps({"apiVersion": cfg.api_version, "kind": "ExecCredential", "spec": info})


def run_plugin(
    cfg: ExecConfig, kube: KubeConfig, environ: Mapping[str, str] | None = None
) -> Credential:
    """Run the plugin once and return what it printed, checked."""
    if cfg.api_version not in API_VERSIONS:
        raise KubeConfigError(
            f"context {kube.context!r}: exec plugin apiVersion {cfg.api_version!r} is not "
            f"supported (use {' or '.join(API_VERSIONS)})"
        )
    env = dict(os.environ if environ is None else environ)
    env.update(cfg.env)
    env["KUBERNETES_EXEC_INFO"] = _exec_info(cfg, kube)
    what = f"exec plugin {cfg.command}"
    try:
        done = subprocess.run(
            [cfg.command, *cfg.args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError as e:
        raise KubeConfigError(f"{what}: not found (is it installed and on PATH?)") from e
    except (OSError, subprocess.TimeoutExpired) as e:
        raise KubeConfigError(f"{what}: {e}") from e
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise KubeConfigError(f"{what} exited {done.returncode}: {err}")
    try:
        cred = json.loads(done.stdout)
    except ValueError as e:
        raise KubeConfigError(f"{what}: output is not JSON: {e}") from e
    if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
        raise KubeConfigError(f"{what}: output is not an ExecCredential")
    if cred.get("apiVersion") != cfg.api_version:
        raise KubeConfigError(
            f"{what}: returned apiVersion {cred.get('apiVersion')!r}, "
            f"the kubeconfig asks for {cfg.api_version!r}"
        )
    status = cred.get("status") or {}
    token = status.get("token") or None
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if not token and not (cert and key):
        raise KubeConfigError(f"{what}: status has neither a token nor a client cert and key")
    expiry = status.get("expirationTimestamp")
    try:
        expires = parse_time(str(expiry)) if expiry else None
    except ValueError as e:
        raise KubeConfigError(f"{what}: bad expirationTimestamp {expiry!r}") from e
    return Credential(
        token=token,
        client_cert=cert.encode() if cert else None,
        client_key=key.encode() if key else None,
        expires=expires,
    )


class ExecAuth:
    """A plugin's credential, cached until it expires (or until :meth:`invalidate`)."""

    def __init__(
        self,
        cfg: ExecConfig,
        kube: KubeConfig,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.cfg, self.kube, self.clock, self.environ = cfg, kube, clock, environ
        self._cred: Credential | None = None
        self.runs = 0

    def get(self) -> Credential:
        cred = self._cred
        if cred is None or (cred.expires is not None and cred.expires <= self.clock()):
            cred = self._cred = run_plugin(self.cfg, self.kube, self.environ)
            self.runs += 1
        return cred

    def invalidate(self) -> None:
        self._cred = None
