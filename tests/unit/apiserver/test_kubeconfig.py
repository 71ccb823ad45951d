"""The kubeconfig: merged as kind merges, made current, taken out again at the end."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import yaml

from podnet.apiserver import certs, kubeconfig

OTHER: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "kind-x", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "kind-x", "user": {"token": "abc"}}],
    "contexts": [{"name": "kind-x", "context": {"cluster": "kind-x", "user": "kind-x"}}],
    "current-context": "kind-x",
    "preferences": {"colors": True},
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_default_path_is_kubeconfigs_first_file_else_home() -> None:
    env = {"KUBECONFIG": ":/a/one:/b/two", "HOME": "/h"}
    assert kubeconfig.default_path(env) == Path("/a/one")
    assert kubeconfig.default_path({"HOME": "/h"}) == Path("/h/.kube/config")


def test_install_into_a_new_file(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path / "data")
    path = tmp_path / "home" / ".kube" / "config"
    done = kubeconfig.install(
        "dev", "https://127.0.0.1:1234", tls, "t0k", environ={"HOME": str(tmp_path / "home")}
    )
    assert done.path == path and done.previous_context == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = _load(path)
    assert data["current-context"] == "podnet-dev"
    cluster = data["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:1234"
    assert base64.b64decode(cluster["certificate-authority-data"]) == tls.ca_cert.read_bytes()
    user = data["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == tls.admin_key.read_bytes()
    assert base64.b64decode(user["client-certificate-data"]) == tls.admin_cert.read_bytes()
    assert user["token"] == "t0k"
    assert data["contexts"] == [
        {"name": "podnet-dev", "context": {"cluster": "podnet-dev", "user": "podnet-dev"}}
    ]


def test_merge_keeps_the_rest_and_remove_restores_it(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path / "data")
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(OTHER))
    path.chmod(0o644)
    done = kubeconfig.install("a", "https://127.0.0.1:1", tls, "t", path)
    # installing again (a restart on another port) replaces, never duplicates
    done = kubeconfig.install("a", "https://127.0.0.1:2", tls, "t", path)
    assert done.previous_context == ""  # ours was current the second time
    data = _load(path)
    assert [c["name"] for c in data["clusters"]] == ["kind-x", "podnet-a"]
    assert data["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:2"
    assert data["preferences"] == {"colors": True}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    first = kubeconfig.install("b", "https://127.0.0.1:3", tls, "t", path)
    assert first.previous_context == "podnet-a"
    kubeconfig.remove(first)
    data = _load(path)
    assert data["current-context"] == "podnet-a"
    assert [c["name"] for c in data["contexts"]] == ["kind-x", "podnet-a"]


def test_remove_restores_the_previous_context(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path / "data")
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(OTHER))
    done = kubeconfig.install("a", "https://127.0.0.1:1", tls, "t", path)
    assert done.previous_context == "kind-x"
    kubeconfig.remove(done)
    data = _load(path)
    for key in ("clusters", "users", "contexts", "current-context", "preferences"):
        assert data[key] == OTHER[key], key


def test_remove_leaves_another_current_context_alone(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path / "data")
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(OTHER))
    done = kubeconfig.install("a", "https://127.0.0.1:1", tls, "t", path)
    data = _load(path)
    data["current-context"] = "kind-x"  # the user switched meanwhile
    path.write_text(yaml.safe_dump(data))
    kubeconfig.remove(done)
    assert _load(path)["current-context"] == "kind-x"
    assert [u["name"] for u in _load(path)["users"]] == ["kind-x"]


def test_remove_leaves_entries_a_later_cluster_of_the_same_name_wrote(tmp_path: Path) -> None:
    """Two `podnet up --name dev` one after the other on one kubeconfig: the first one's
    teardown must not take the second's entries out."""
    tls = certs.ensure(tmp_path / "data")
    path = tmp_path / "config"
    first = kubeconfig.install("dev", "https://127.0.0.1:1111", tls, "a", path)
    kubeconfig.install("dev", "https://127.0.0.1:2222", tls, "b", path)
    kubeconfig.remove(first)
    data = _load(path)
    assert [c["cluster"]["server"] for c in data["clusters"]] == ["https://127.0.0.1:2222"]
    assert data["current-context"] == "podnet-dev"
