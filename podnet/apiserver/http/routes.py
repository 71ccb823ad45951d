"""URL and method -> what is asked: a resource request (verb, group, version, namespace,
resource, name, subresource) or a non-resource path (discovery, health, OpenAPI).

The parse is kube-apiserver's ``RequestInfoFactory.NewRequestInfo``
(``staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go``): ``/api/v1`` or
``/apis/<group>/<version>``, an optional legacy ``watch/`` prefix, ``namespaces/<ns>``
(unless followed by a namespace subresource, ``status`` or ``finalize``), then
``<resource>[/<name>[/<subresource>]]``; a GET without a name is a list (a watch with
``watch=true``), a DELETE without one a deletecollection. :func:`resolve` then checks
the request against the resources served, with the 404 and 405 kube-apiserver gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podnet.apiserver import errors, resources
from podnet.apiserver.resources import Resource

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
METHOD_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
# The verbs of subresources (registry/core/pod/storage, .../scale): status and scale
# are read and written; log is read; the rest take a POST (or a stream upgrade).
SUBRESOURCE_VERBS = {
    "status": ("get", "update", "patch"),
    "ephemeralcontainers": ("get", "update", "patch"),  # storage.go EphemeralContainersREST
    "scale": ("get", "update", "patch"),
    "finalize": ("update",),
    "log": ("get",),
    "exec": ("get", "create"),
    "attach": ("get", "create"),
    "portforward": ("get", "create"),
    "proxy": ("get", "create", "update", "patch", "delete"),
    "binding": ("create",),
    "eviction": ("create",),
}
METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"


def parse_bool(value: str) -> bool:
    """Go's ``strconv.ParseBool``, which decodes boolean query parameters."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False", ""):
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


@dataclass(frozen=True)
class RequestInfo:
    is_resource: bool
    path: str
    verb: str  # get list watch create update patch delete deletecollection (resource)
    api_prefix: str = ""  # "api" | "apis"
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """Parse as requestinfo.go does (no check of what is served: see :func:`resolve`)."""
    verb = METHOD_VERBS.get(method.upper(), method.lower())
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    plain = RequestInfo(False, path, method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return plain
    prefix = parts[0]
    rest = parts[1:]
    if prefix == "apis":
        if len(rest) < 3:  # /apis, /apis/<group>, /apis/<group>/<version>
            return plain
        group, version, rest = rest[0], rest[1], rest[2:]
    else:
        if len(rest) < 2:  # /api, /api/v1
            return plain
        group, version, rest = "", rest[0], rest[1:]
    if rest and rest[0] == "watch":  # the deprecated /watch/ prefix
        verb = "watch" if verb == "get" else verb
        rest = rest[1:]
        if not rest:
            return plain
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 else ""
    if len(rest) > 3:  # nothing is served below a subresource (but proxy paths)
        subresource = "/".join(rest[2:])
    if not name and verb == "get":
        verb = "watch" if parse_bool(query.get("watch", "")) else "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(
        True, path, verb, prefix, group, version, namespace, resource, name, subresource
    )


@dataclass(frozen=True)
class Target:
    """A resource request checked against the served table."""

    info: RequestInfo
    res: Resource
    namespace: str | None  # None: cluster-scoped, or all namespaces (list/watch)

    @property
    def verb(self) -> str:
        return self.info.verb


def resolve(info: RequestInfo) -> Target:
    """The resource and scope of ``info``, or the 404/405 Status kube-apiserver answers:
    an unknown group, version, resource or subresource, a cluster-scoped resource under
    ``namespaces/<ns>/`` or a namespaced object without a namespace are unknown paths;
    a verb the resource (or the path) has not is 405."""
    if (info.api_prefix == "api") != (info.group == ""):
        raise errors.path_not_found(info.path)
    res = resources.by_path(info.group, info.version, info.resource)
    if res is None:
        raise errors.path_not_found(info.path)
    is_namespace = info.group == "" and info.resource == "namespaces"
    if is_namespace:
        namespace: str | None = None
    elif res.namespaced:
        namespace = info.namespace or None
    else:
        if info.namespace:
            raise errors.path_not_found(info.path)
        namespace = None
    verb = info.verb
    if res.custom is not None and res.custom.terminating and verb == "create":
        # customresource_handler.go: no new objects while the CRD's are being deleted
        raise errors.method_not_allowed(
            "create not allowed while custom resource definition is terminating"
        )
    if verb not in METHOD_VERBS.values() and verb not in ("list", "watch", "deletecollection"):
        raise errors.method_not_allowed(METHOD_NOT_ALLOWED)
    if info.subresource:
        if info.subresource not in res.subresources or not info.name:
            raise errors.path_not_found(info.path)
        if verb not in SUBRESOURCE_VERBS.get(info.subresource, ()):
            raise errors.method_not_allowed(METHOD_NOT_ALLOWED)
        if res.namespaced and not is_namespace and namespace is None:
            raise errors.path_not_found(info.path)
        return Target(info, res, namespace)
    if res.namespaced and not is_namespace and namespace is None:
        # /api/v1/pods serves only list and watch across namespaces (a name is 404)
        if info.name:
            raise errors.path_not_found(info.path)
        if verb not in ("list", "watch"):
            raise errors.method_not_allowed(METHOD_NOT_ALLOWED)
    if verb not in res.verbs:
        raise errors.method_not_allowed(METHOD_NOT_ALLOWED)
    return Target(info, res, namespace)
