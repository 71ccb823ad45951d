"""The kubeconfig that lets kubectl, helm and client libraries in: written or merged.

As kind does (``pkg/cluster/internal/kubeconfig``): the cluster, user and context are
all named ``podnet-NAME`` and merged into the first file of ``$KUBECONFIG`` (else
``~/.kube/config``), keeping every other entry, and the context is made current;
:func:`remove` takes exactly those entries out again and gives back the previous
current-context. The user carries both the admin client certificate and the bearer
token, so a client that drops one still gets in. Written at mode 0600: it holds keys.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podnet.apiserver.certs import ServerTLS


@dataclass(frozen=True)
class Installed:
    """Where our entries went, and what ``current-context`` was before (for remove)."""

    path: Path
    context: str
    previous_context: str
    server: str = ""  # ours; entries another `up` of the same name wrote since stay


def entry_name(name: str) -> str:
    return f"podnet-{name}"


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$KUBECONFIG``'s first file, else ``~/.kube/config`` (kind's choice)."""
    env = os.environ if environ is None else environ
    for part in env.get("KUBECONFIG", "").split(os.pathsep):
        if part:
            return Path(part).expanduser()
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".kube" / "config"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def entries(name: str, server: str, tls: ServerTLS, token: str) -> dict[str, Any]:
    """The cluster, user and context of one podnet cluster, as kubeconfig stanzas."""
    n = entry_name(name)
    return {
        "cluster": {
            "name": n,
            "cluster": {"server": server, "certificate-authority-data": _b64(tls.ca_cert)},
        },
        "user": {
            "name": n,
            "user": {
                "client-certificate-data": _b64(tls.admin_cert),
                "client-key-data": _b64(tls.admin_key),
                "token": token,
            },
        },
        "context": {"name": n, "context": {"cluster": n, "user": n}},
    }


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    data = yaml.safe_load(text) if text.strip() else None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a kubeconfig (a YAML mapping)")
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    for key in ("clusters", "users", "contexts"):
        if not isinstance(data.get(key), list):
            data[key] = []
    data.setdefault("preferences", {})
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomic replace at mode 0600 (a half-written kubeconfig would lock users out)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    tmp = path.with_name(f".{path.name}.podnet-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, yaml.safe_dump(data, sort_keys=False).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _replace(items: list[Any], new: dict[str, Any]) -> list[Any]:
    out = [i for i in items if not (isinstance(i, dict) and i.get("name") == new["name"])]
    out.append(new)
    return out


def install(
    name: str,
    server: str,
    tls: ServerTLS,
    token: str,
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Installed:
    """Merge our entries into ``path`` (default: :func:`default_path`), make ours the
    current context, and return what :func:`remove` needs."""
    target = path if path is not None else default_path(environ)
    data = _read(target)
    new = entries(name, server, tls, token)
    previous = str(data.get("current-context") or "")
    data["clusters"] = _replace(data["clusters"], new["cluster"])
    data["users"] = _replace(data["users"], new["user"])
    data["contexts"] = _replace(data["contexts"], new["context"])
    context = entry_name(name)
    data["current-context"] = context
    _write(target, data)
    return Installed(target, context, "" if previous == context else previous, server)


def remove(installed: Installed) -> None:
    """Take our cluster, user and context out; when ours is still current, the previous
    current-context comes back (if it still exists), else none is current."""
    data = _read(installed.path)
    n = installed.context
    servers = [
        (c.get("cluster") or {}).get("server")
        for c in data["clusters"]
        if isinstance(c, dict) and c.get("name") == n
    ]
    if installed.server and servers and installed.server not in servers:
        return  # another cluster of the same name took the entries over: they are its
    for key in ("clusters", "users", "contexts"):
        data[key] = [i for i in data[key] if not (isinstance(i, dict) and i.get("name") == n)]
    if data.get("current-context") == n:
        names = {c.get("name") for c in data["contexts"] if isinstance(c, dict)}
        data["current-context"] = (
            installed.previous_context if installed.previous_context in names else ""
        )
    _write(installed.path, data)
