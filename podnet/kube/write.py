"""The writes ``podnet probe --cluster`` makes: create, delete, and adding an ephemeral
container to a pod.

Creates are POSTs of whole objects (kubectl create); deletes send DeleteOptions with
``propagationPolicy: Background`` (kubectl delete's default) and treat 404 as done, so
cleanup is idempotent and an object someone else deleted meanwhile is no error.
Ephemeral containers are added through the ``pods/ephemeralcontainers`` subresource
with a strategic-merge patch of ``spec.ephemeralContainers``, as ``kubectl debug``
does (kubectl ``pkg/cmd/debug/debug.go`` ``debugByEphemeralContainer``); they can never
be removed again, only end with their pod
(https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/).
"""

from __future__ import annotations

import ssl

from podnet.kube.client import ApiResource, Client, Obj
from podnet.kube.errors import NotFound
from podnet.kube.wsexec import Execer

STRATEGIC = "application/strategic-merge-patch+json"


def create(client: Client, res: ApiResource, obj: Obj, namespace: str | None = None) -> Obj:
    """POST ``obj`` (kubectl create); the object as stored."""
    return client.request(
        "POST", res.path(namespace), body=obj, verb="create", resource=res.name, namespace=namespace
    )


def delete(client: Client, res: ApiResource, name: str, namespace: str | None = None) -> bool:
    """DELETE one object, dependents in the background; False when it was already gone."""
    try:
        client.request(
            "DELETE",
            res.path(namespace, name),
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            verb="delete",
            resource=res.name,
            namespace=namespace,
        )
    except NotFound:
        return False
    return True


def get(client: Client, res: ApiResource, name: str, namespace: str | None = None) -> Obj | None:
    """One object, or None when it does not exist."""
    try:
        return client.get_json(res.path(namespace, name), resource=res.name, namespace=namespace)
    except NotFound:
        return None


def add_ephemeral_container(client: Client, namespace: str, pod: str, container: Obj) -> Obj:
    """Add ``container`` to the pod's ``spec.ephemeralContainers``; the pod as stored."""
    patch = {"spec": {"ephemeralContainers": [container]}}
    return client.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/{pod}/ephemeralcontainers",
        body=patch,
        content_type=STRATEGIC,
        verb="patch",
        resource="pods/ephemeralcontainers",
        namespace=namespace,
    )


def execer(client: Client, timeout: float = 30.0) -> Execer:
    """A WebSocket exec session to the same server, with the same credentials."""
    base, ctx, headers = client.stream_params()
    server_name = client.cfg.tls_server_name
    return Execer(
        base,
        ctx if isinstance(ctx, ssl.SSLContext) else None,
        headers,
        server_name=server_name,
        timeout=timeout,
    )
