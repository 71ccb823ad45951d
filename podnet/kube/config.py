"""Where the cluster is and who we are: kubeconfig files as kubectl reads them, or the
pod's own service account.

Follows client-go's clientcmd (tools/clientcmd/loader.go, client_config.go):
``--kubeconfig`` names one file that must exist; else ``$KUBECONFIG`` is a list of
files (``os.pathsep``), merged so that the first file to define a name wins, and the
first non-empty ``current-context`` wins; else ``~/.kube/config``. Relative paths in a
file (certificate-authority, client-certificate, client-key, tokenFile, an exec
command with a slash) are relative to that file's folder. With no kubeconfig at all,
inside a pod, the in-cluster config (rest/config.go InClusterConfig) is used:
``KUBERNETES_SERVICE_HOST``/``_PORT`` and the service account's token and CA.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podnet.kube.errors import KubeConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER = "(in-cluster)"


@dataclass(frozen=True)
class ExecConfig:
    """``users[].user.exec``: a credential plugin (client.authentication.k8s.io)."""

    api_version: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    provide_cluster_info: bool = False


@dataclass(frozen=True)
class KubeConfig:
    """One resolved context: the server, how to trust it, and the credentials."""

    server: str
    context: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    exec: ExecConfig | None = None


def _paths(kubeconfig: str | None, env: Mapping[str, str]) -> list[Path]:
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise KubeConfigError(f"--kubeconfig {kubeconfig}: no such file")
        return [path]
    listed = [Path(p).expanduser() for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [p for p in listed if p.is_file()]  # kubectl skips missing ones
    home = env.get("HOME") or str(Path.home())
    default = Path(home) / ".kube" / "config"
    return [default] if default.is_file() else []


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise KubeConfigError(f"kubeconfig {path}: cannot read: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KubeConfigError(f"kubeconfig {path}: not a mapping")
    return data


def _merge(paths: list[Path]) -> tuple[dict[str, dict[str, tuple[dict[str, Any], Path]]], str]:
    """Named entries (first definition wins) with the file each came from, and the
    current context (first non-empty wins)."""
    merged: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {
        "clusters": {},
        "users": {},
        "contexts": {},
    }
    current = ""
    for path in paths:
        data = _read(path)
        current = current or str(data.get("current-context") or "")
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for item in data.get(section) or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    body = item.get(inner) or {}
                    merged[section].setdefault(item["name"], (body, path))
    return merged, current


def _file(base: Path, value: str) -> bytes:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base.parent / path
    try:
        return path.read_bytes()
    except OSError as e:
        raise KubeConfigError(f"kubeconfig {base}: cannot read {path}: {e.strerror}") from e


def _data_or_file(body: dict[str, Any], key: str, base: Path) -> bytes | None:
    data = body.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data)
        except ValueError as e:
            raise KubeConfigError(f"kubeconfig {base}: {key}-data is not base64") from e
    if body.get(key):
        return _file(base, str(body[key]))
    return None


def _exec(body: dict[str, Any], base: Path) -> ExecConfig:
    command = str(body.get("command") or "")
    if not command:
        raise KubeConfigError(f"kubeconfig {base}: exec plugin without a command")
    if os.sep in command and not os.path.isabs(command):
        command = str(base.parent / command)  # clientcmd ResolvePaths
    env = tuple((str(e.get("name")), str(e.get("value", ""))) for e in body.get("env") or [])
    return ExecConfig(
        api_version=str(body.get("apiVersion") or ""),
        command=command,
        args=tuple(str(a) for a in body.get("args") or []),
        env=env,
        provide_cluster_info=bool(body.get("provideClusterInfo")),
    )


def load_config(
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> KubeConfig:
    """The context to talk to, resolved from the kubeconfig files (or in-cluster)."""
    env = os.environ if environ is None else environ
    paths = _paths(kubeconfig, env)
    if not paths:
        if env.get("KUBERNETES_SERVICE_HOST") and not context:
            return in_cluster_config(env)
        raise KubeConfigError(
            "no kubeconfig: give --kubeconfig, set KUBECONFIG, or write ~/.kube/config"
        )
    merged, current = _merge(paths)
    name = context or current
    if not name:
        raise KubeConfigError(f"kubeconfig {paths[0]}: no current-context; give --context")
    if name not in merged["contexts"]:
        known = ", ".join(sorted(merged["contexts"])) or "none"
        raise KubeConfigError(f"context {name!r} not found in kubeconfig (contexts: {known})")
    ctx, _ = merged["contexts"][name]
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    if cluster_name not in merged["clusters"]:
        raise KubeConfigError(f"context {name!r}: cluster {cluster_name!r} not in kubeconfig")
    cluster, cbase = merged["clusters"][cluster_name]
    user, ubase = merged["users"].get(user_name, ({}, cbase))
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeConfigError(f"context {name!r}: cluster {cluster_name!r} has no server")
    if user.get("auth-provider"):
        provider = (user["auth-provider"] or {}).get("name", "?")
        raise KubeConfigError(
            f"context {name!r}: auth-provider {provider!r} is not supported (removed from "
            "kubectl 1.26); use its exec plugin (gke-gcloud-auth-plugin, kubelogin)"
        )
    token_file = user.get("tokenFile")
    if token_file and not os.path.isabs(str(token_file)):
        token_file = str(ubase.parent / str(token_file))
    return KubeConfig(
        server=server.rstrip("/"),
        context=name,
        namespace=str(ctx.get("namespace") or "default"),
        ca_data=_data_or_file(cluster, "certificate-authority", cbase),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        client_cert=_data_or_file(user, "client-certificate", ubase),
        client_key=_data_or_file(user, "client-key", ubase),
        token=user.get("token") or None,
        token_file=token_file or None,
        username=user.get("username") or None,
        password=user.get("password") or None,
        exec=_exec(user["exec"], ubase) if user.get("exec") else None,
    )


def in_cluster_config(
    environ: Mapping[str, str] | None = None, sa_dir: Path = SERVICE_ACCOUNT_DIR
) -> KubeConfig:
    """The pod's own service account (client-go rest.InClusterConfig)."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeConfigError(
            "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"
        )
    token = sa_dir / "token"
    if not token.is_file():
        raise KubeConfigError(f"in-cluster: no service account token at {token}")
    ca = sa_dir / "ca.crt"
    ns = sa_dir / "namespace"
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return KubeConfig(
        server=f"https://{hostport}",
        context=IN_CLUSTER,
        namespace=ns.read_text().strip() if ns.is_file() else "default",
        ca_data=ca.read_bytes() if ca.is_file() else None,
        token_file=str(token),
    )
