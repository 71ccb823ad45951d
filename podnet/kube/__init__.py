"""podnet's Kubernetes API client: read a running cluster for the analysis verbs.

A thin synchronous client on the standard library (http.client + ssl, PyYAML for the
kubeconfig), chosen by weight and start-up cost, measured on this machine (Python 3.11,
shared 2-core box, three runs each): ``python -c "import kubernetes.client,
kubernetes.config"`` took 1.07-1.73 s and 49 MB peak RSS (``-X importtime``: 1.27-1.31 s
in the import alone), against 0.17-0.21 s and 18.5 MB for ``import http.client, ssl,
json, yaml``. Every ``podnet analyze --from-cluster`` would pay that second before its
first request. ``lightkube`` is not installed here; it would bring httpx, anyio and
their dependencies for what is, in podnet, a handful of paged GETs. The wire protocol
podnet needs (GET, list paging, Status errors) is small, stable and specified:
https://kubernetes.io/docs/reference/using-api/api-concepts/.

Modules: :mod:`~podnet.kube.config` (kubeconfig and in-cluster), :mod:`~podnet.kube.
execauth` (exec credential plugins), :mod:`~podnet.kube.client` (requests, paging,
errors), :mod:`~podnet.kube.read` (what is read), :mod:`~podnet.kube.observed` (into
podnet's model); for ``probe --cluster``: :mod:`~podnet.kube.write` (create, delete,
ephemeral containers) and :mod:`~podnet.kube.wsexec` (``pods/exec`` over WebSocket, on
aiohttp, which ``podnet up`` already serves with). Layer: above ``control`` (it computes
endpoints), beside ``analyze`` and ``dataplane``, below ``cli``; it never imports the data
plane or ``live``.
"""

from __future__ import annotations

from podnet.kube.client import Client
from podnet.kube.config import load_config
from podnet.kube.observed import Observed, to_state
from podnet.kube.overlay import apply_files
from podnet.kube.read import read_cluster

__all__ = ["Observed", "apply_files", "from_cluster"]


def from_cluster(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    timeout: float = 30.0,
) -> Observed:
    """Read the cluster of ``context`` (all namespaces, or ``namespace``): its objects,
    the state they are in and its pods' readiness."""
    cfg = load_config(kubeconfig, context)
    with Client(cfg, timeout=timeout) as client:
        snap = read_cluster(client, namespace)
    return to_state(snap)
