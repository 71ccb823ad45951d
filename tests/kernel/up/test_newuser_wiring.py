"""What needs wiring outside helper G's files before it passes (see the G2 report):
``kube-root-ca.crt`` in every namespace (ControllerManager(ca_pem=...) in
live/upcluster.py) and the v1 Endpoints deprecation warning (apiserver/http/app.py).

- a real cluster has ``kube-root-ca.crt`` (the API server's CA, ``ca.crt``) in every
  namespace, put back when deleted (rootcacertpublisher/publisher.go);
- kube-apiserver 1.33+ warns on every Endpoints request, which kubectl prints as
  ``Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1
  EndpointSlice``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("newuser-wiring")) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _trusted_ca(k: Kubectl) -> str:
    """The CA the kubeconfig's cluster entry trusts (PEM)."""
    cluster = k.json("config", "view", "--raw", "--minify")["clusters"][0]["cluster"]
    if "certificate-authority-data" in cluster:
        return base64.b64decode(cluster["certificate-authority-data"]).decode()
    return Path(cluster["certificate-authority"]).read_text()


def test_every_namespace_has_the_api_servers_ca(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    k.ok("create", "namespace", "rootca")

    def published(ns: str) -> Any:
        done = k("get", "configmap", "kube-root-ca.crt", "-n", ns, "-o", "json")
        return done.rc == 0 and k.json("get", "configmap", "kube-root-ca.crt", "-n", ns)

    trusted = _trusted_ca(k)
    for ns in ("default", "kube-system", "rootca"):
        cm = eventually(functools.partial(published, ns), 15, f"kube-root-ca.crt in {ns}")
        assert cm["data"] == {"ca.crt": trusted}, cm
        assert "kubernetes.io/description" in cm["metadata"]["annotations"], cm
    k.ok("delete", "configmap", "kube-root-ca.crt", "-n", "rootca")
    again = eventually(lambda: published("rootca"), 15, "kube-root-ca.crt again")
    assert again["data"] == {"ca.crt": trusted}


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_endpoints_requests_warn_as_kube_apiserver_1_33(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    done = k("get", "endpoints", "kubernetes")
    assert done.rc == 0 and WARNING in done.err.splitlines(), done
    done = k("get", "endpoints", "nope")
    assert done.rc == 1 and WARNING in done.err.splitlines(), done
    done = k("get", "endpointslices")
    assert done.rc == 0 and "deprecated" not in done.err, done
